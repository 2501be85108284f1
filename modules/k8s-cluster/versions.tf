terraform {
  required_version = ">= 1.6"
  required_providers {
    photon = {
      source  = "photon-platform/photon"
      version = "~> 0.1"
    }
  }
}
