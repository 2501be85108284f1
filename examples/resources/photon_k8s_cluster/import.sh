# A cluster is imported as <tenant>/<name>, from the platform records and its first master.
terraform import photon_k8s_cluster.payments payments/prod
