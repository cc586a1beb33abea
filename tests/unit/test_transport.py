"""The local-folder transport: atomic send, listing without half-written files, fetch, and
the choice of transport from the environment."""

import pytest

from renkei import transport
from renkei.transport import LocalFolderTransport, SftpTransport


def test_send_is_atomic_and_lists_only_finished_files(tmp_path):
    t = LocalFolderTransport(tmp_path / "remote")
    src = tmp_path / "REG_1.dat"
    src.write_bytes(b"abc")
    t.send(src, "outbox/registration/REG_1.dat")
    folder = tmp_path / "remote" / "outbox" / "registration"
    assert (folder / "REG_1.dat").read_bytes() == b"abc"
    assert [p.name for p in folder.iterdir()] == ["REG_1.dat"]
    (folder / ".REG_2.dat.part").write_bytes(b"half")
    (folder / "REG_0.dat").write_bytes(b"zero")
    (folder / "RES_9.dat").write_bytes(b"other")
    assert t.list("outbox/registration/REG_") == ["outbox/registration/REG_0.dat",
                                                   "outbox/registration/REG_1.dat"]
    assert t.list("outbox/missing/REG_") == []
    assert t.exists("outbox/registration/REG_1.dat")
    assert not t.exists("outbox/registration/REG_2.dat")


def test_a_failed_copy_leaves_no_file(tmp_path, monkeypatch):
    t = LocalFolderTransport(tmp_path / "remote")
    src = tmp_path / "REG_1.dat"
    src.write_bytes(b"abc")

    def broken(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(transport.os, "replace", broken)
    with pytest.raises(OSError):
        t.send(src, "outbox/registration/REG_1.dat")
    assert list((tmp_path / "remote" / "outbox" / "registration").iterdir()) == []


def test_fetch_copies_and_names_cannot_escape(tmp_path):
    t = LocalFolderTransport(tmp_path / "remote")
    (tmp_path / "remote" / "inbox").mkdir(parents=True)
    (tmp_path / "remote" / "inbox" / "A.dat").write_bytes(b"answer")
    assert t.fetch("inbox/A.dat", tmp_path / "got" / "A.dat").read_bytes() == b"answer"
    for bad in ("../x", "/abs", "inbox/../../x"):
        with pytest.raises(ValueError):
            t.exists(bad)


def test_the_environment_chooses_the_transport(tmp_path, monkeypatch):
    monkeypatch.setenv("RENKEI_EXCHANGE", str(tmp_path / "ex"))
    monkeypatch.delenv(transport.ENV_CONN_ID, raising=False)
    local = transport.intermediary_server()
    assert isinstance(local, LocalFolderTransport) and local.root == tmp_path / "ex"
    monkeypatch.setenv(transport.ENV_CONN_ID, "chukan_sftp")
    monkeypatch.setenv(transport.ENV_REMOTE_ROOT, "/upload")
    remote = transport.intermediary_server()
    assert isinstance(remote, SftpTransport)
    assert (remote.conn_id, str(remote.root)) == ("chukan_sftp", "/upload")
