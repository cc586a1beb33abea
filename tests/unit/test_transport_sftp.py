"""The SFTP transport against a real SFTP server (asyncssh) that this test starts on
127.0.0.1 with a free port, a generated host key and a generated user key; the Airflow
connection comes from an ``AIRFLOW_CONN_<ID>`` environment variable in JSON, as a site
would configure it."""

from __future__ import annotations

import asyncio
import json
import os
import threading

import pytest

from renkei.transport import SftpTransport, TransportUnavailable

asyncssh = pytest.importorskip("asyncssh")

USER = "renkei"
CONN_ID = "renkei_test_sftp"


class SftpServer:
    """asyncssh on its own event loop in a daemon thread, files under ``root``."""

    def __init__(self, root, host_key, user_public_key):
        self.root = root
        self.host_key = host_key
        self.authorized = asyncssh.import_authorized_keys(user_public_key)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = None
        self.port = None

    def _server_factory(self):
        authorized = self.authorized

        class Server(asyncssh.SSHServer):
            def connection_made(self, conn):
                self.conn = conn

            def begin_auth(self, username):
                # keys only for our user: any other name has none and cannot log in
                self.conn.set_authorized_keys(authorized if username == USER else
                                              asyncssh.import_authorized_keys(""))
                return True

            def password_auth_supported(self):
                return False

        return Server

    def start(self):
        self.thread.start()

        async def listen():
            return await asyncssh.listen(
                "127.0.0.1", 0, server_host_keys=[self.host_key], server_factory=self._server_factory(),
                sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(self.root)),
                allow_scp=False)

        self.server = asyncio.run_coroutine_threadsafe(listen(), self.loop).result(timeout=30)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def stop(self):
        if not self.thread.is_alive():
            return

        async def close():
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)


@pytest.fixture
def sftp(tmp_path, monkeypatch):
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    user_key = asyncssh.generate_private_key("ssh-ed25519")
    root = tmp_path / "server"
    root.mkdir()
    server = SftpServer(root, host_key, user_key.export_public_key().decode()).start()
    conn = {
        "conn_type": "sftp", "host": "127.0.0.1", "port": server.port, "login": USER,
        "extra": {
            "private_key": user_key.export_private_key("openssh").decode(),
            # the server's key pinned: host-key checking stays on
            "host_key": host_key.export_public_key().decode().strip(),
            "look_for_keys": "false",
        },
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    try:
        yield server
    finally:
        server.stop()


def test_send_list_fetch_both_ways(sftp, tmp_path):
    transport = SftpTransport(CONN_ID, root="/", connect_attempts=1)
    out = tmp_path / "REG_0001.dat"
    out.write_bytes("１２３\r\n".encode("cp932"))

    transport.send(out, "outbox/registration/REG_0001.dat")

    # it landed under its final name only, byte for byte; no temporary file is left
    landed = sftp.root / "outbox" / "registration" / "REG_0001.dat"
    assert landed.read_bytes() == out.read_bytes()
    assert sorted(p.name for p in landed.parent.iterdir()) == ["REG_0001.dat"]
    assert transport.exists("outbox/registration/REG_0001.dat")
    assert not transport.exists("outbox/registration/REG_0002.dat")

    # the counterpart answers: files it wrote come back, hidden (half-written) ones never
    answers = sftp.root / "inbox" / "registration_result"
    answers.mkdir(parents=True)
    (answers / "RES_0001.dat").write_bytes(b"result\r\n")
    (answers / "RES_0002.dat").write_bytes(b"second\r\n")
    (answers / ".RES_0003.dat.part").write_bytes(b"half")
    (answers / "OTHER.dat").write_bytes(b"x")
    assert transport.list("inbox/registration_result/RES_") == [
        "inbox/registration_result/RES_0001.dat", "inbox/registration_result/RES_0002.dat"]
    assert transport.list("inbox/nothing_here/RES_") == []

    got = transport.fetch("inbox/registration_result/RES_0002.dat", tmp_path / "local" / "RES_0002.dat")
    assert got.read_bytes() == b"second\r\n"


def test_send_replaces_an_earlier_file_of_the_same_name(sftp, tmp_path):
    transport = SftpTransport(CONN_ID, root="/", connect_attempts=1)
    first, second = tmp_path / "a.dat", tmp_path / "b.dat"
    first.write_bytes(b"first")
    second.write_bytes(b"second")
    transport.send(first, "outbox/x/F.dat")
    transport.send(second, "outbox/x/F.dat")
    assert (sftp.root / "outbox" / "x" / "F.dat").read_bytes() == b"second"


def test_remote_names_cannot_leave_the_root(sftp, tmp_path):
    transport = SftpTransport(CONN_ID, root="/", connect_attempts=1)
    f = tmp_path / "a.dat"
    f.write_bytes(b"x")
    for bad in ("../escape.dat", "/etc/passwd", "outbox/../../x"):
        with pytest.raises(ValueError):
            transport.send(f, bad)


def test_a_stopped_server_is_reported_as_unavailable(sftp, tmp_path):
    transport = SftpTransport(CONN_ID, root="/", connect_attempts=1)
    f = tmp_path / "a.dat"
    f.write_bytes(b"x")
    sftp.stop()
    with pytest.raises(TransportUnavailable) as exc:
        transport.send(f, "outbox/x/F.dat")
    assert CONN_ID in str(exc.value) and "nothing was sent" in str(exc.value)


def test_a_wrong_host_key_is_refused(sftp, tmp_path, monkeypatch):
    conn = json.loads(os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"])
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    conn["extra"]["host_key"] = stranger.export_public_key().decode().strip()
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    f = tmp_path / "a.dat"
    f.write_bytes(b"x")
    with pytest.raises(TransportUnavailable):
        SftpTransport(CONN_ID, root="/", connect_attempts=1).send(f, "outbox/x/F.dat")
    assert not (sftp.root / "outbox").exists()
