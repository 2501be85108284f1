"""ESXi adapter: the only package that imports pyVmomi, and only when a session is opened.

Public surface: ``Endpoint``, ``HostSession`` (opened with ``open_session``), the inventory
snapshot types, and the error hierarchy in ``errors``. pyVmomi faults never leave this
package; they are translated into ``errors.EsxiError`` subclasses at the edge.
"""
