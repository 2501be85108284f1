# Runs against ESXi hosts given by the PHOTON_* environment (scripts/esxi-sim in the tests).

variables {
  name  = "tftest-tenant"
  quota = { vcpu = 8, memory_gb = 16 }
}

run "creates_the_tenant_and_its_quota" {
  assert {
    condition     = output.id == "tftest-tenant"
    error_message = "The tenant's id is its name."
  }
  assert {
    condition     = output.usage.vcpu == 0 && output.usage.vm_count == 0
    error_message = "A new tenant uses nothing."
  }
  assert {
    condition     = photon_quota.this[0].limits.memory_gb == 16
    error_message = "The quota carries the limits given."
  }
}

run "refuses_a_bad_name" {
  command = plan
  variables {
    name = "Not_Valid"
  }
  expect_failures = [var.name]
}

run "refuses_negative_limits" {
  command = plan
  variables {
    quota = { vcpu = -1 }
  }
  expect_failures = [var.quota]
}
