# The tenant a test cluster lives in.
terraform {
  required_providers {
    photon = { source = "photon-platform/photon" }
  }
}

resource "photon_tenant" "test" {
  name = "tftest-k8s"
}

output "id" {
  value = photon_tenant.test.id
}
