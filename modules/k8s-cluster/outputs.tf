output "kubeconfig" {
  description = "Admin kubeconfig for kubectl."
  value       = photon_k8s_cluster.this.kubeconfig
  sensitive   = true
}

output "api_endpoint" {
  description = "URL of the Kubernetes API."
  value       = photon_k8s_cluster.this.api_endpoint
}

output "nodes" {
  description = "The nodes: name, role, host, ip and status."
  value = [
    for name, node in photon_k8s_cluster.this.nodes : {
      name   = name
      role   = node.role
      host   = node.host
      ip     = node.ip
      status = node.status
    }
  ]
}
