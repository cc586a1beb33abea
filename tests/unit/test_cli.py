"""The `renkei` command line: every command a newcomer needs is listed, and `generate` writes
files the platform's reader accepts."""

from click.testing import CliRunner

from renkei.cli import main


def test_help_lists_the_commands():
    out = CliRunner().invoke(main, ["--help"]).output
    for command in ("demo", "generate", "cap", "status", "disclosure", "airflow-env"):
        assert command in out


def test_generate_writes_extracts_the_reader_accepts(workspace):
    from renkei.interfaces import eligibility

    out = workspace / "gen"
    result = CliRunner().invoke(main, ["generate", "--members", "300", "--start", "2017-07",
                                       "--end", "2017-08", "--out", str(out)])
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("ELIG_*.dat"))
    assert [f.name for f in files] == ["ELIG_201707.dat", "ELIG_201708.dat"]
    import datetime as dt

    staged = eligibility.stage(files[0], dt.date(2017, 7, 1))
    assert staged.data_record_count == staged.trailer_record_count >= 300


def test_generate_bulk_writes_one_month(workspace):
    out = workspace / "bulk"
    result = CliRunner().invoke(main, ["generate", "--bulk", "--members", "2000", "--end",
                                       "2017-07", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert [f.name for f in out.glob("ELIG_*.dat")] == ["ELIG_201707.dat"]
