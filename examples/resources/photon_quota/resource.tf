# At most 10 VMs, 40 vCPUs, 128 GB of memory and 2 TB of disk for the payments tenant.
resource "photon_quota" "payments" {
  tenant = photon_tenant.payments.id
  limits = {
    vm_count  = 10
    vcpu      = 40
    memory_gb = 128
    disk_gb   = 2048
  }
}

output "payments_vcpu_in_use" {
  value = photon_quota.payments.usage.vcpu
}
