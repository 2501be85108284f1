# Two teams, each a tenant with a quota and a small Kubernetes cluster, built from the
# repository's modules. Runs against scripts/esxi-sim --image images/k8s.vmdk as it is:
# the hosts come in through esxi_hosts / esxi_passwords (see examples/quickstart).

terraform {
  required_version = ">= 1.6"
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

variable "image" {
  description = "Base disk of the cluster nodes on each host's datastore."
  type        = string
  default     = "images/k8s.vmdk"
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

locals {
  teams = {
    payments = { quota = { vm_count = 6, vcpu = 12, memory_gb = 6 }, api = "10.0.1.21" }
    search   = { quota = { vm_count = 4, vcpu = 8, memory_gb = 4 }, api = "10.0.2.21" }
  }
}

module "tenant" {
  source   = "../../modules/tenant"
  for_each = local.teams
  name     = each.key
  quota    = each.value.quota
}

module "cluster" {
  source     = "../../modules/k8s-cluster"
  for_each   = local.teams
  tenant     = module.tenant[each.key].id
  name       = "main"
  image      = var.image
  master_ips = [each.value.api]
  flavor     = { vcpu = 1, memory_gb = 0.5, disk_gb = 10 }
}

output "api_endpoints" {
  description = "Each team's Kubernetes API."
  value       = { for team, c in module.cluster : team => c.api_endpoint }
}

output "usage" {
  description = "What each team uses of its quota."
  value       = { for team, t in module.tenant : team => t.usage }
}
