# A tenant on every configured host.
resource "photon_tenant" "payments" {
  name        = "payments"
  description = "Payments team"
}

# A tenant on some hosts only.
resource "photon_tenant" "lab" {
  name  = "lab"
  hosts = ["esx-2"]
}
