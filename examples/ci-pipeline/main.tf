# A platform configuration applied from CI, with its state in PostgreSQL (Terraform's pg
# backend, which locks the state while a run holds it). ci.sh is what the CI job runs.
#
#   export PG_CONN_STR=postgres://user@db.example:5432/terraform   # the state database
#   ./ci.sh

terraform {
  required_version = ">= 1.6"
  backend "pg" {}
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

resource "photon_tenant" "platform" {
  name        = "platform"
  description = "Shared services, applied from CI"
}

resource "photon_k8s_cluster" "shared" {
  tenant             = photon_tenant.platform.id
  name               = "shared"
  kubernetes_version = "1.32.3"
  image              = "images/k8s.vmdk"
  worker_count       = 2
  master_ips         = ["10.0.9.21"]
  netmask            = "24"
  master_flavor      = { vcpu = 1, memory_gb = 0.5, disk_gb = 10 }
  worker_flavor      = { vcpu = 1, memory_gb = 0.5, disk_gb = 10 }

  health {
    grace_period  = "10m"
    max_unhealthy = "50%"
  }
}
