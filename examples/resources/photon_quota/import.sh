# A quota is imported by its tenant's name.
terraform import photon_quota.payments payments
