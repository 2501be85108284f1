# Quickstart: one tenant spanning every configured ESXi host.
#
# scripts/quickstart starts simulated hosts and passes them in through a tfvars file; against
# real hosts, set esxi_hosts and esxi_passwords yourself (see README.md).

terraform {
  required_version = ">= 1.5"
  required_providers {
    photon = {
      source  = "photon-platform/photon"
      version = "~> 0.1"
    }
  }
}

variable "esxi_hosts" {
  description = "The ESXi hosts the platform runs on."
  type = list(object({
    name       = string
    address    = string
    user       = optional(string, "root")
    thumbprint = string
  }))
}

variable "esxi_passwords" {
  description = "Password of each host, by host name."
  type        = map(string)
  sensitive   = true
}

provider "photon" {
  dynamic "host" {
    for_each = var.esxi_hosts
    content {
      name       = host.value.name
      address    = host.value.address
      user       = host.value.user
      password   = var.esxi_passwords[host.value.name]
      thumbprint = host.value.thumbprint
    }
  }
}

resource "photon_tenant" "demo" {
  name        = "demo"
  description = "Created by the quickstart"
}

output "tenant" {
  description = "The tenant and the hosts it spans."
  value = {
    id    = photon_tenant.demo.id
    hosts = photon_tenant.demo.hosts
  }
}
