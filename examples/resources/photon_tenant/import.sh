# A tenant is imported by its name.
terraform import photon_tenant.payments payments
