# A tenant, and its quota when one is given.

resource "photon_tenant" "this" {
  name        = var.name
  description = var.description
  hosts       = var.hosts
}

resource "photon_quota" "this" {
  count  = var.quota == null ? 0 : 1
  tenant = photon_tenant.this.id
  limits = var.quota
}
