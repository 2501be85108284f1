"""The Photon domain: provider configuration, tenants, and what they mean on ESXi hosts.

Imports neither gRPC nor pyVmomi at module level: Terraform starts the provider just to read
the schema or validate a configuration, and those starts must stay cheap.
"""
