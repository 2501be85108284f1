"""photon-heal: restores lost cluster nodes within seconds, through ``terraform apply`` only.

An application on top of the layers: it watches the ESXi hosts through the ESXi adapter
(``provider.esxi.watch``), and when a node VM is lost it runs a guarded cycle of the real
``terraform`` CLI: plan, judge the saved plan (``guard``), apply it only when it holds nothing
but node restorations. Terraform stays the only writer of the state.
"""
