data "photon_hosts" "all" {}

# Refuse to go on while a host is down.
resource "terraform_data" "hosts_up" {
  input = [for h in data.photon_hosts.all.hosts : h.name]
  lifecycle {
    precondition {
      condition     = alltrue([for h in data.photon_hosts.all.hosts : h.reachable])
      error_message = "Some ESXi hosts do not answer."
    }
  }
}
