"""Kubernetes bootstrap of a cluster: certificates, kubeconfig, cloud-init data. Pure logic."""
