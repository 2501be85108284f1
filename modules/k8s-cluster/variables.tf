variable "tenant" {
  description = "Id of the tenant the cluster belongs to."
  type        = string
}

variable "name" {
  description = "Name of the cluster, unique in its tenant."
  type        = string
  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", var.name))
    error_message = "A cluster name starts with a lowercase letter, holds only lowercase letters, digits and hyphens, and is at most 63 characters long."
  }
}

variable "size" {
  description = "small (1 master, 2 workers), medium (3 masters, 3 workers) or large (3 etcd, 3 masters, 5 workers); each with flavors to match."
  type        = string
  default     = "small"
  validation {
    condition     = contains(["small", "medium", "large"], var.size)
    error_message = "size is small, medium or large."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes version; the image must carry it."
  type        = string
  default     = "1.32.3"
}

variable "image" {
  description = "Base disk on each host's first datastore, e.g. images/photon-k8s-1.32.vmdk."
  type        = string
}

variable "master_ips" {
  description = "Static addresses of the masters: 1 for small, 3 for medium and large."
  type        = list(string)
}

variable "etcd_ips" {
  description = "Static addresses of the etcd VMs (large only: 3)."
  type        = list(string)
  default     = []
}

variable "worker_ips" {
  description = "Address pool for workers; empty for DHCP."
  type        = list(string)
  default     = null
}

variable "netmask" {
  description = "Netmask of the static addresses."
  type        = string
  default     = "255.255.255.0"
}

variable "gateway" {
  description = "Default gateway of the nodes."
  type        = string
  default     = null
}

variable "dns_servers" {
  description = "DNS servers of the nodes."
  type        = list(string)
  default     = null
}

variable "ssh_public_keys" {
  description = "Keys allowed to log in to the nodes."
  type        = list(string)
  default     = null
}

variable "worker_count" {
  description = "Workers, instead of the size's number."
  type        = number
  default     = null
}

variable "flavor" {
  description = "vcpu/memory_gb/disk_gb of every VM, instead of the size's flavors."
  type = object({
    vcpu      = number
    memory_gb = number
    disk_gb   = number
  })
  default = null
}

variable "drain_timeout" {
  description = "How long a node may take to drain before an upgrade replaces its VM; \"0s\": no drain."
  type        = string
  default     = "10m"
}
