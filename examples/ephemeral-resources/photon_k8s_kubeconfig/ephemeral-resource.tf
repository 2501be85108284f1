# A kubeconfig for this run only: minted when Terraform needs it, never saved in a plan or state.
ephemeral "photon_k8s_kubeconfig" "deployer" {
  cluster = photon_k8s_cluster.payments.id
  ttl     = "30m"
  user    = "ci-deployer"
  groups  = ["system:masters"]
}

# A command that uses it without writing it to disk.
resource "terraform_data" "smoke_test" {
  provisioner "local-exec" {
    interpreter = ["bash", "-c"]
    command     = "kubectl --kubeconfig <(printf '%s' \"$KUBECONFIG_JSON\") get nodes"
    environment = { KUBECONFIG_JSON = ephemeral.photon_k8s_kubeconfig.deployer.kubeconfig }
  }
}
