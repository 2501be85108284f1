# Runs against ESXi hosts given by the PHOTON_* environment, with a base disk at
# images/k8s.vmdk (scripts/esxi-sim --image images/k8s.vmdk in the tests).

run "tenant" {
  module {
    source = "./tests/setup"
  }
}

run "small_cluster" {
  variables {
    tenant     = run.tenant.id
    name       = "small"
    image      = "images/k8s.vmdk"
    master_ips = ["10.0.0.21"]
    flavor     = { vcpu = 1, memory_gb = 0.25, disk_gb = 1 }
  }
  assert {
    condition     = length(output.nodes) == 3
    error_message = "A small cluster has one master and two workers."
  }
  assert {
    condition     = output.api_endpoint == "https://10.0.0.21:6443"
    error_message = "The API endpoint is the first master's address."
  }
  assert {
    condition     = alltrue([for n in output.nodes : n.status == "ready"])
    error_message = "Every node runs."
  }
}

run "wrong_number_of_masters" {
  command = plan
  variables {
    tenant     = run.tenant.id
    name       = "medium"
    size       = "medium"
    image      = "images/k8s.vmdk"
    master_ips = ["10.0.0.21"]
  }
  expect_failures = [photon_k8s_cluster.this]
}
