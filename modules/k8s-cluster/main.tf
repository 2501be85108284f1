# One Kubernetes cluster with defaults per size.

locals {
  sizes = {
    small  = { etcd = 0, masters = 1, workers = 2, flavor = { vcpu = 2, memory_gb = 4, disk_gb = 40 } }
    medium = { etcd = 0, masters = 3, workers = 3, flavor = { vcpu = 4, memory_gb = 8, disk_gb = 80 } }
    large  = { etcd = 3, masters = 3, workers = 5, flavor = { vcpu = 8, memory_gb = 16, disk_gb = 100 } }
  }
  size   = local.sizes[var.size]
  flavor = coalesce(var.flavor, local.size.flavor)
}

resource "photon_k8s_cluster" "this" {
  tenant             = var.tenant
  name               = var.name
  kubernetes_version = var.kubernetes_version
  image              = var.image

  etcd_count   = local.size.etcd
  master_count = local.size.masters
  worker_count = coalesce(var.worker_count, local.size.workers)

  etcd_ips    = local.size.etcd > 0 ? var.etcd_ips : null
  master_ips  = var.master_ips
  worker_ips  = var.worker_ips
  netmask     = var.netmask
  gateway     = var.gateway
  dns_servers = var.dns_servers

  etcd_flavor   = local.flavor
  master_flavor = local.flavor
  worker_flavor = local.flavor

  ssh_public_keys = var.ssh_public_keys

  # A new kubernetes_version, image or flavor rolls the nodes one at a time, each drained
  # first (see the provider's upgrades guide).
  rollout {
    drain_timeout = var.drain_timeout
  }

  lifecycle {
    precondition {
      condition     = length(var.master_ips) == local.size.masters
      error_message = "A ${var.size} cluster has ${local.size.masters} master(s): give that many master_ips."
    }
  }
}
