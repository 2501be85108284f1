output "id" {
  description = "The tenant's id, for photon_k8s_cluster.tenant."
  value       = photon_tenant.this.id
}

output "hosts" {
  description = "The hosts the tenant spans."
  value       = photon_tenant.this.hosts
}

output "usage" {
  description = "What the tenant's VMs use now (null without a quota)."
  value       = one(photon_quota.this[*].usage)
}
