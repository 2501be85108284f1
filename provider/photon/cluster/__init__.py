"""photon_k8s_cluster: a Kubernetes cluster as one resource, and everything only it uses.

Read in this order:
- ``resource.py``: the CRUD surface Terraform calls (validate, plan, create, read, update,
  delete, import); each method decodes its request and delegates.
- ``schema.py``: the attributes, their defaults and validators.
- ``values.py`` / ``nodes.py``: pure answers about the cluster's values — the nodes the
  configuration asks for, flavors, the bootstrap spec, each node's refreshed status.
- ``health.py``: which unhealthy nodes a plan restores (the health policy), pure.
- ``placement.py``: which host takes each new node, pure.
- ``hosts.py``: the nodes' VMs on the ESXi hosts (create, destroy, free room).
- ``unhealthy_since.py``: when each unhealthy node was first seen, kept in the records.
- ``kubernetes/``: PKI, kubeconfig and cloud-init boot data for the nodes.

Kept free of imports: the provider's schema start loads ``schema`` alone, never the
planning code.
"""
