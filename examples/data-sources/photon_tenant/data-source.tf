data "photon_tenant" "payments" {
  name = "payments"
}

output "payments_vcpu_left" {
  value = data.photon_tenant.payments.limits.vcpu - data.photon_tenant.payments.usage.vcpu
}
