"""terraform-provider-photon: Photon Platform style Kubernetes-as-a-Service on ESXi hosts.

Layers (dependencies point downwards only):
- ``provider.bridge``: the Terraform plugin protocol (generic, knows no resource names).
- ``provider.photon``: tenants, quotas, clusters: the domain, as pure as possible.
- ``provider.esxi``: the only package that talks to ESXi (pyVmomi, imported lazily).
"""
