"""The exchange hook: how files reach a counterpart (the intermediary server) and come back.

Two transports with one interface, so the registration and tax-linkage code never knows
which one it talks to:

- :class:`LocalFolderTransport` (the default): a folder both sides can see. The sandbox
  counterparts work on it, and it is what a site uses when the counterpart's files are
  mounted locally.
- :class:`SftpTransport`: an SFTP server, through Airflow's SFTP provider (``SFTPHook``) and
  an Airflow connection, so host, user, key and pinned host key live in Airflow's secrets,
  never in code.

Remote names are relative POSIX paths (``outbox/registration/REG_....dat``). ``send`` is
atomic on both: the file goes up under a hidden temporary name in the same folder and is
renamed into place, so a counterpart polling the folder sees either nothing or the whole
file. Hidden names (leading dot) are never listed.

A counterpart that cannot be reached raises :class:`TransportUnavailable`, whose message is
written for operators (it names the counterpart and the connection, never a file's content).
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Protocol

log = logging.getLogger(__name__)

ENV_CONN_ID = "RENKEI_INTERMEDIARY_CONN_ID"
ENV_REMOTE_ROOT = "RENKEI_INTERMEDIARY_REMOTE_ROOT"


class TransportUnavailable(RuntimeError):
    """The counterpart cannot be reached; the message is for the operator."""


class Transport(Protocol):
    def send(self, local: Path, remote_name: str) -> None: ...

    def list(self, prefix: str) -> list[str]: ...

    def fetch(self, remote_name: str, local: Path) -> Path: ...

    def exists(self, remote_name: str) -> bool: ...


def _clean(remote_name: str) -> PurePosixPath:
    """A relative remote path without ``..``: a name from a file or a peer cannot escape the root."""
    path = PurePosixPath(remote_name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"remote name must be a relative path inside the exchange root: {remote_name!r}")
    return path


def _temp_name(path: PurePosixPath) -> PurePosixPath:
    return path.with_name(f".{path.name}.part")


def _split_prefix(prefix: str) -> tuple[PurePosixPath, str]:
    """``"inbox/registration_result/RES_"`` -> (folder, start of the file name)."""
    folder, _, start = prefix.rpartition("/")
    return (_clean(folder) if folder else PurePosixPath(".")), start


class LocalFolderTransport:
    """Files in a local folder (default root: the exchange folder, ``RENKEI_EXCHANGE``)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalFolderTransport({str(self.root)!r})"

    def _path(self, remote_name: str) -> Path:
        return self.root / _clean(remote_name)

    def send(self, local: Path, remote_name: str) -> None:
        final = self._path(remote_name)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(_temp_name(PurePosixPath(final.name)).name)
        try:
            shutil.copyfile(local, tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def list(self, prefix: str) -> list[str]:
        folder, start = _split_prefix(prefix)
        where = self.root / folder
        if not where.is_dir():
            return []
        return sorted(str(folder / p.name) if str(folder) != "." else p.name
                      for p in where.iterdir()
                      if p.is_file() and p.name.startswith(start) and not p.name.startswith("."))

    def fetch(self, remote_name: str, local: Path) -> Path:
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.part")
        shutil.copyfile(self._path(remote_name), tmp)
        os.replace(tmp, local)
        return local

    def exists(self, remote_name: str) -> bool:
        return self._path(remote_name).is_file()


class SftpTransport:
    """Files on an SFTP server, through ``airflow.providers.sftp.hooks.sftp.SFTPHook``.

    ``conn_id`` names an Airflow connection of type ``sftp`` (host, port, login, and in the
    extra ``private_key`` and ``host_key``: pin the server's key, do not switch checking
    off). ``root`` is the folder on the server under which remote names are resolved.
    ``connect_attempts`` is handed to the SSH hook: each attempt waits a few seconds, and
    the Airflow task's own retries (with back-off) are the long wait for a server that is
    down, so one or two attempts per task try are enough.
    """

    def __init__(self, conn_id: str, root: str = ".", connect_attempts: int = 2):
        self.conn_id = conn_id
        self.root = PurePosixPath(root)
        self.connect_attempts = connect_attempts

    def __repr__(self) -> str:
        return f"SftpTransport(conn_id={self.conn_id!r}, root={str(self.root)!r})"

    def _remote(self, remote_name: str | PurePosixPath) -> str:
        return str(self.root / _clean(str(remote_name)))

    def _hook(self):
        from airflow.providers.sftp.hooks.sftp import SFTPHook

        return SFTPHook(ssh_conn_id=self.conn_id, conn_retry_attempts=self.connect_attempts)

    @contextlib.contextmanager
    def _session(self) -> Iterator:
        """One managed SFTP session; a connection that fails or drops becomes TransportUnavailable."""
        import paramiko

        hook = self._hook()
        lost = (ConnectionError, EOFError, TimeoutError, paramiko.SSHException)
        try:
            managed = hook.get_managed_conn()
            sftp = managed.__enter__()
        except (OSError, *lost) as exc:
            raise TransportUnavailable(self._unavailable(exc, "nothing was sent or taken")) from None
        with contextlib.ExitStack() as stack:
            stack.push(managed)
            try:
                yield sftp
            except lost as exc:
                raise TransportUnavailable(self._unavailable(
                    exc, "the connection dropped; a file half sent stays under its hidden "
                         "temporary name and is never read")) from None

    def _unavailable(self, exc: BaseException, what: str) -> str:
        return (f"cannot reach the SFTP server of connection {self.conn_id!r} "
                f"({type(exc).__name__}); {what}. Check that the counterpart is up and that the "
                "connection's host, port, user, key and host key are right.")

    def _makedirs(self, sftp, folder: str) -> None:
        parts = PurePosixPath(folder).parts
        for i in range(1, len(parts) + 1):
            path = posixpath.join(*parts[:i])
            try:
                sftp.stat(path)
            except FileNotFoundError:
                sftp.mkdir(path)

    def send(self, local: Path, remote_name: str) -> None:
        final = PurePosixPath(self._remote(remote_name))
        tmp = str(_temp_name(final))
        with self._session() as sftp:
            self._makedirs(sftp, str(final.parent))
            try:
                sftp.put(str(local), tmp, confirm=True)
                # posix-rename replaces atomically; plain SFTP rename refuses an existing target
                sftp.posix_rename(tmp, str(final))
            except BaseException:
                try:
                    sftp.remove(tmp)
                except OSError:
                    pass
                raise

    def list(self, prefix: str) -> list[str]:
        folder, start = _split_prefix(prefix)
        with self._session() as sftp:
            try:
                names = sftp.listdir(str(self.root / folder))
            except FileNotFoundError:
                return []
        return sorted(str(folder / n) if str(folder) != "." else n
                      for n in names if n.startswith(start) and not n.startswith("."))

    def fetch(self, remote_name: str, local: Path) -> Path:
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.part")
        with self._session() as sftp:
            sftp.get(self._remote(remote_name), str(tmp))
        os.replace(tmp, local)
        return local

    def exists(self, remote_name: str) -> bool:
        with self._session() as sftp:
            try:
                sftp.stat(self._remote(remote_name))
            except FileNotFoundError:
                return False
        return True


def intermediary_server() -> Transport:
    """The transport to the intermediary server as configured.

    ``RENKEI_INTERMEDIARY_CONN_ID`` names an Airflow SFTP connection (with
    ``RENKEI_INTERMEDIARY_REMOTE_ROOT`` the folder on the server, default its login folder);
    without it the local exchange folder is used, which is where the sandbox counterpart
    works.
    """
    from renkei.settings import paths

    conn_id = os.environ.get(ENV_CONN_ID)
    if conn_id:
        return SftpTransport(conn_id, root=os.environ.get(ENV_REMOTE_ROOT, "."))
    return LocalFolderTransport(paths().exchange)
