"""Files and folders on a host's datastore: where the platform keeps its own records.

Folders are made and removed through the FileManager (``MakeDirectory`` on an existing
folder fails, which makes it usable as a lock); file contents travel over the host's HTTPS
``/folder`` endpoint with the session cookie and the pinned TLS context.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import urllib.parse
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pyVmomi import vim

from .errors import AlreadyExists, EsxiError, HostUnreachable
from .faults import raise_task_error, translated
from .session import HostSession
from .tasks import wait_for_tasks

__all__ = ["DatastoreFiles"]

_TIMEOUT = 30.0


class DatastoreFiles:
    def __init__(
        self, session: HostSession, datastore: str, datacenter: tuple[str, str] | None = None
    ) -> None:
        """``datacenter``: its (moid, name) when known already (an inventory holds them),
        which saves the two round trips of looking it up."""
        self.session = session
        self.datastore = datastore
        if datacenter is not None and all(datacenter):
            moid, self._datacenter_name = datacenter
            self._datacenter = vim.Datacenter(moid, session.si._stub)
            return
        with translated(session.name):
            self._datacenter = session.content.rootFolder.childEntity[0]
            self._datacenter_name = self._datacenter.name

    def _ds_path(self, path: str) -> str:
        return f"[{self.datastore}] {path}"

    def make_directory(self, path: str, parents: bool = False) -> None:
        """Create a folder. Without ``parents`` an existing folder is ``AlreadyExists`` (the
        atomic create a lock needs); with ``parents`` it is fine, as with ``mkdir -p``."""
        try:
            with translated(self.session.name):
                self.session.content.fileManager.MakeDirectory(
                    name=self._ds_path(path),
                    datacenter=self._datacenter,
                    createParentDirectories=parents,
                )
        except AlreadyExists:
            if not parents:
                raise

    def host_time(self) -> datetime.datetime:
        """The host's clock: lock expiries are judged by it, not by each client's own."""
        with translated(self.session.name):
            now = self.session.si.CurrentTime()
        return now if now.tzinfo else now.replace(tzinfo=datetime.UTC)

    def delete(self, path: str) -> bool:
        """Delete a file or a whole folder; False if it was not there."""
        manager = self.session.content.fileManager
        with translated(self.session.name):
            task = manager.DeleteDatastoreFile_Task(
                name=self._ds_path(path), datacenter=self._datacenter
            )
            error = wait_for_tasks(self.session, [task])[task._moId].error
        if isinstance(error, vim.fault.FileNotFound):
            return False
        raise_task_error(self.session.name, error)
        return True

    def move(self, source: str, destination: str, *, replace: bool = False) -> None:
        """Rename atomically; ``NotFound`` if the source is gone, ``AlreadyExists`` if the
        destination is taken (unless ``replace``)."""
        manager = self.session.content.fileManager
        with translated(self.session.name):
            task = manager.MoveDatastoreFile_Task(
                sourceName=self._ds_path(source),
                sourceDatacenter=self._datacenter,
                destinationName=self._ds_path(destination),
                destinationDatacenter=self._datacenter,
                force=replace,
            )
            error = wait_for_tasks(self.session, [task])[task._moId].error
        raise_task_error(self.session.name, error)  # NotFound, AlreadyExists, ...

    def copy(self, source: str, destination: str) -> bool:
        """Copy a file over ``destination``; False if ``source`` was not there."""
        manager = self.session.content.fileManager
        with translated(self.session.name):
            task = manager.CopyDatastoreFile_Task(
                sourceName=self._ds_path(source),
                sourceDatacenter=self._datacenter,
                destinationName=self._ds_path(destination),
                destinationDatacenter=self._datacenter,
                force=True,
            )
            error = wait_for_tasks(self.session, [task])[task._moId].error
        if isinstance(error, vim.fault.FileNotFound):
            return False
        raise_task_error(self.session.name, error)
        return True

    def list(self, folder: str, pattern: str) -> list[str]:
        """Names of the files in ``folder`` matching ``pattern`` (a glob); none if there is
        no such folder."""
        with translated(self.session.name):
            host = self._datacenter.hostFolder.childEntity[0].host[0]
            datastore = next(d for d in host.datastore if d.name == self.datastore)
            spec = vim.host.DatastoreBrowser.SearchSpec(matchPattern=[pattern])
            task = datastore.browser.SearchDatastore_Task(
                datastorePath=self._ds_path(folder), searchSpec=spec
            )
            outcome = wait_for_tasks(self.session, [task])[task._moId]
        if isinstance(outcome.error, vim.fault.FileNotFound):
            return []
        raise_task_error(self.session.name, outcome.error)
        return sorted(f.path for f in outcome.result.file or [])

    def read(self, path: str) -> bytes | None:
        """A file's content, or None if there is no such file."""
        status, body = self._request("GET", path)
        if status == 404:
            return None
        self._check(status, "GET", path)
        return body

    def has_folder(self, path: str) -> bool:
        """Whether ``path`` is a folder (one GET of its listing; a redirect to it counts)."""
        status, _ = self._request("GET", f"{path.rstrip('/')}/")
        if status == 404:
            return False
        if status >= 400:
            self._check(status, "GET", path)
        return True

    def write(self, path: str, data: bytes) -> None:
        status, _ = self._request("PUT", path, data)
        self._check(status, "PUT", path)

    def replace(self, path: str, data: bytes, check: Callable[[], None] | None = None) -> None:
        """Write so that readers see the old content or the new, never a part of it: an HTTP
        PUT fills the file as the bytes arrive, so they go to a temporary name first, which
        is then renamed over ``path``. ``check`` (a fencing check) runs while the bytes
        travel, and must pass before the rename: the two round trips overlap."""
        temporary = f"{path}.{uuid.uuid4().hex}.tmp"
        with ThreadPoolExecutor(max_workers=1) as pool:
            checked = pool.submit(check) if check is not None else None
            self.write(temporary, data)
        try:
            if checked is not None:
                checked.result()
            self.move(temporary, path, replace=True)
        except BaseException:  # the check failed, or the rename
            with contextlib.suppress(EsxiError):
                self.delete(temporary)
            raise

    def _request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        host, port = self.session.endpoint.host_port
        query = urllib.parse.urlencode({"dcPath": self._datacenter_name, "dsName": self.datastore})
        url = f"/folder/{urllib.parse.quote(path)}?{query}"
        headers = {"Cookie": self.session.cookie}
        if body is not None:
            headers.update({"Content-Type": "application/octet-stream"})
        self.session.count_call()
        connection = http.client.HTTPSConnection(
            host, port, timeout=_TIMEOUT, context=self.session.ssl_context
        )
        try:
            connection.request(method, url, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise HostUnreachable(self.session.name, f"{method} {path} failed: {exc}") from exc
        finally:
            connection.close()

    def _check(self, status: int, method: str, path: str) -> None:
        if status >= 300:
            raise EsxiError(self.session.name, f"{method} {self._ds_path(path)}: HTTP {status}")
