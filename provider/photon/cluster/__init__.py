"""photon_k8s_cluster: a Kubernetes cluster as one resource, and everything only it uses.

Read in this order:
- ``resource.py``: the surface Terraform calls (validate, plan, create, read, update,
  delete, import); each method decodes its request once and delegates.
- ``model.py``: ``ClusterModel``, the cluster's attributes and nodes decoded once from a
  planned or prior value; the rest of the package works on it.
- ``plan.py``: ``plan_nodes``, pure — which nodes are kept, added, removed, rolled, restored,
  repaired, reset, powered on — and its hand-over from plan to apply through private state.
- ``health.py`` (the health policy), ``guest.py`` (what a node's guest says and shows) and
  ``placement.py`` (which host takes a node): pure.
- ``plan_checks.py``: what plan checks against the platform (ownership, quota, room,
  writable hosts); ``ownership.py``: one state per cluster, by the record's generation.
- ``apply.py``: create, update and delete carry out a node plan; ``restore.py`` its health
  work (power on, repair, reset, restore, each node checked again first); ``readiness.py``:
  apply waits for the nodes it made to report ready.
- ``refresh.py``: each node's status from one inventory read per host (``values.py`` holds
  the status rules); ``importing.py``: a cluster rebuilt from the platform record.
- ``hosts.py``: the nodes' VMs on the ESXi hosts (create, destroy, free room).
- ``schema.py``, ``nodes.py``: the attributes and the nodes the configuration asks for;
  ``health_memory.py``: what health remembers between runs (first-seen times, resets,
  Tools seen, boots), kept in the records;
  ``kubernetes/``: PKI, kubeconfig and cloud-init boot data for the nodes.

Kept free of imports: the provider's schema start loads ``schema`` alone, never the
planning code.
"""
