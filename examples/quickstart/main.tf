# Quickstart: a tenant spanning every configured ESXi host, and a small Kubernetes cluster in
# it (one master, two workers).
#
# scripts/quickstart starts simulated hosts (with a base disk at images/k8s.vmdk) and passes
# them in through a tfvars file, with a new records key; against real hosts, set esxi_hosts,
# esxi_passwords and records_key yourself, and image to a node image on your hosts'
# datastores (see README.md).

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

variable "records_key" {
  description = "Key that seals the cluster secrets in the platform records (`openssl rand -base64 32`); keep it with your other secrets."
  type        = string
  sensitive   = true
}

variable "image" {
  description = "Base disk of the cluster nodes on each host's first datastore."
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

  records {
    encryption_keys = [var.records_key]
  }
}

resource "photon_tenant" "demo" {
  name        = "demo"
  description = "Created by the quickstart"
}

resource "photon_k8s_cluster" "demo" {
  tenant             = photon_tenant.demo.id
  name               = "demo"
  kubernetes_version = "1.32.3"
  image              = var.image
  worker_count       = 2
  master_ips         = ["10.0.0.21"]
  netmask            = "255.255.255.0"
  gateway            = "10.0.0.1"
  master_flavor      = { vcpu = 2, memory_gb = 1, disk_gb = 20 }
  worker_flavor      = { vcpu = 2, memory_gb = 1, disk_gb = 20 }
}

output "api_endpoint" {
  description = "The cluster's Kubernetes API."
  value       = photon_k8s_cluster.demo.api_endpoint
}

output "nodes" {
  description = "Where each node runs."
  value       = { for name, node in photon_k8s_cluster.demo.nodes : name => "${node.host} (${node.status})" }
}

output "kubeconfig" {
  description = "Admin kubeconfig: terraform output -raw kubeconfig > kubeconfig"
  value       = photon_k8s_cluster.demo.kubeconfig
  sensitive   = true
}

output "tenant" {
  description = "The tenant and the hosts it spans."
  value = {
    id    = photon_tenant.demo.id
    hosts = photon_tenant.demo.hosts
  }
}
