# One master with stacked etcd and three workers, in the payments tenant.
resource "photon_k8s_cluster" "payments" {
  tenant             = photon_tenant.payments.id
  name               = "prod"
  kubernetes_version = "1.32.3"
  image              = "images/photon-k8s-1.32.vmdk"

  master_count = 1
  worker_count = 3
  master_ips   = ["10.0.0.21"]
  worker_ips   = ["10.0.0.31", "10.0.0.32", "10.0.0.33", "10.0.0.34"]
  netmask      = "255.255.255.0"
  gateway      = "10.0.0.1"
  dns_servers  = ["10.0.0.2"]

  worker_flavor = { vcpu = 4, memory_gb = 8, disk_gb = 40 }

  ssh_public_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPi5vyjAIfN6TXpIUC3L4DgXYR1mspWN7/NOhRO/qYbM admin@example"]

  timeouts {
    create = "30m"
  }
}

output "kubeconfig" {
  value     = photon_k8s_cluster.payments.kubeconfig
  sensitive = true
}
