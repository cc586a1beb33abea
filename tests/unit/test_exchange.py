from renkei import exchange
from renkei.settings import paths


def test_second_delivery_of_identical_bytes_is_recognised(workspace):
    inbox = paths().inbox("eligibility_extract")
    inbox.mkdir(parents=True)
    (inbox / "ELIG_201707.dat").write_bytes(b"same")
    first = exchange.archive(inbox / "ELIG_201707.dat", "eligibility_extract")
    (inbox / "ELIG_201707.dat").write_bytes(b"same")
    second = exchange.archive(inbox / "ELIG_201707.dat", "eligibility_extract")
    assert first == second
    assert sorted(p.name for p in first.parent.iterdir()) == ["ELIG_201707.dat"]
    assert not (inbox / "ELIG_201707.dat").exists()


def test_corrected_file_is_kept_beside_the_first(workspace):
    inbox = paths().inbox("eligibility_extract")
    inbox.mkdir(parents=True)
    (inbox / "ELIG_201707.dat").write_bytes(b"first")
    exchange.archive(inbox / "ELIG_201707.dat", "eligibility_extract")
    (inbox / "ELIG_201707.dat").write_bytes(b"corrected")
    again = exchange.archive(inbox / "ELIG_201707.dat", "eligibility_extract")
    assert again.read_bytes() == b"corrected"
    assert len(list(again.parent.iterdir())) == 2


def test_quarantine_writes_the_reason_beside_the_file(workspace):
    inbox = paths().inbox("eligibility_extract")
    inbox.mkdir(parents=True)
    (inbox / "ELIG_201707.dat").write_bytes(b"bad")
    target = exchange.quarantine(inbox / "ELIG_201707.dat", "eligibility_extract", "record 3: bad")
    assert target.read_bytes() == b"bad"
    assert (target.parent / "ELIG_201707.dat.reason.txt").read_text("utf-8") == "record 3: bad\n"
