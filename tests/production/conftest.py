"""A throwaway PostgreSQL cluster for the production-profile tests: ``initdb`` and ``pg_ctl``
from Debian's postgresql package, in a temporary folder, listening on 127.0.0.1 and a free
port only, stopped and removed when the tests are done."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

LOOPBACK = "127.0.0.1"
# Airflow's log servers (8793, 8794) and the embedded UI (8080) keep their ports.
RESERVED_PORTS = {8080, 8793, 8794}


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind((LOOPBACK, 0))
            port = s.getsockname()[1]
        if port not in RESERVED_PORTS:
            return port


def postgres_bin() -> Path | None:
    """The newest server installed by Debian's postgresql package (it keeps each major
    version under /usr/lib/postgresql/<version>/bin, off PATH)."""
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")]
    version = lambda path: [int(n) for n in re.findall(r"\d+", path.parent.name)]  # noqa: E731
    return max(found, key=version, default=None)


@dataclass(frozen=True)
class Cluster:
    host: str
    port: int
    user: str
    password: str
    database: str

    @property
    def url(self) -> str:
        return (f"postgresql+psycopg2://{self.user}:{self.password}@{self.host}:{self.port}/"
                f"{self.database}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        message = ("PostgreSQL server binaries are not installed (/usr/lib/postgresql/*/bin): "
                   "apt-get install postgresql (.ci/run installs it)")
        if os.environ.get("CI"):
            pytest.fail(message)  # CI promised to install it: a missing server is a CI bug
        pytest.skip(message)

    # PostgreSQL refuses to run as root; CI runs as root, so the server runs as the
    # package's postgres account there (created by the package).
    as_server: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root and there is no 'postgres' account to run the server as")
        as_server = ["runuser", "-u", "postgres", "--"]

    # Straight under /tmp (not pytest's root-only folder) so that the postgres account
    # can reach it.
    root = Path(tempfile.mkdtemp(prefix="renkei-pg-"))
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    password = secrets.token_hex(16)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n", "utf-8")
    if owner is not None:
        for path in (root, sockets, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    cluster = Cluster(LOOPBACK, free_port(), "renkei", password, "airflow")

    def server(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*as_server, *args], cwd=root, capture_output=True, text=True,
                              timeout=120, check=False)

    def check(proc: subprocess.CompletedProcess, what: str) -> None:
        if proc.returncode != 0:
            tail = log.read_text("utf-8", "replace")[-2000:] if log.exists() else ""
            pytest.fail(f"{what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n{tail}")

    started = False
    try:
        check(server(str(bin_dir / "initdb"), "-D", str(data), "-U", cluster.user,
                     "--pwfile", str(pwfile), "--auth-local=trust", "--auth-host=scram-sha-256",
                     "-E", "UTF8", "--locale=C"), "initdb")
        # TCP on loopback only, the Unix socket in our own folder (never the system's
        # /var/run/postgresql), and no fsync: the cluster lives for one test session.
        options = (f"-c listen_addresses={LOOPBACK} -p {cluster.port} -k {sockets} "
                   "-c fsync=off -c full_page_writes=off")
        started = True
        check(server(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                     "-o", options, "start"), "pg_ctl start")
        check(subprocess.run(
            [str(bin_dir / "createdb"), "-h", cluster.host, "-p", str(cluster.port),
             "-U", cluster.user, cluster.database],
            env={**os.environ, "PGPASSWORD": password}, capture_output=True, text=True,
            timeout=60, check=False), "createdb")
        yield cluster
    finally:
        if started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                server(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
