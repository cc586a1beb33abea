"""Intake of tax information and 基準収入額 applications: good files load as one batch each,
a bad file is quarantined with its reason while the others still load, and re-delivery
replaces rather than duplicates."""

import pytest

from renkei import intake, warehouse
from renkei.settings import paths

TAX_HEADER = ("insurer_number,symbol,number,branch_number,fiscal_year,taxable,income_yen,"
              "revenue_yen,public_pension_revenue_yen,pension_income_yen,received_on")


def deliver(interface, name, lines):
    inbox = paths().inbox(interface)
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / name
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp932"))
    return path


def tax_row(number, fy=2017, taxable=1, branch="00", insurer="01130012"):
    return f"{insurer},00001234,{number:08d},{branch},{fy},{taxable},100000,900000,,,{fy}-07-10"


def count(table):
    con = warehouse.reader()
    try:
        return con.execute(f"select count(*) from {table}").fetchone()[0]
    finally:
        con.close()


def test_good_files_load_bad_file_is_quarantined_and_others_go_on(workspace):
    deliver("tax_information", "TAX_FY2016.csv", [TAX_HEADER, tax_row(1, 2016), tax_row(2, 2016)])
    # the same member twice for one fiscal year: critical in the gate
    deliver("tax_information", "TAX_FY2017.csv", [TAX_HEADER, tax_row(1), tax_row(1), tax_row(3)])
    deliver("income_threshold_applications", "KIJUN_201709.csv",
            ["insurer_number,symbol,number,branch_number,applied_on",
             "01130012,00001234,00000001,00,2017-09-12"])

    tax = intake.intake_files("tax_information")
    apps = intake.intake_files("income_threshold_applications")

    assert [f["file"] for f in tax["loaded"]] == ["TAX_FY2016.csv"]
    assert [r["file"] for r in tax["rejected"]] == ["TAX_FY2017.csv"]
    assert "more than once" in tax["rejected"][0]["reason"] and "records 2, 3" in tax["rejected"][0]["reason"]
    assert count("raw.tax_information") == 2
    assert count("raw.income_threshold_applications") == 1
    quarantine = paths().quarantine("tax_information")
    assert (quarantine / "TAX_FY2017.csv").exists()
    reason = (quarantine / "TAX_FY2017.csv.reason.txt").read_text("utf-8")
    assert "00001234" not in reason and "00000001" not in reason
    assert not (paths().inbox("tax_information") / "TAX_FY2016.csv").exists()
    assert (paths().archive("tax_information") / "TAX_FY2016.csv").exists()

    with pytest.raises(intake.FilesRejected) as exc:
        intake.raise_for_rejections([tax, apps])
    message = str(exc.value)
    assert "TAX_FY2017.csv" in message and "2 other file(s) were loaded" in message
    assert "00001234" not in message


def test_redelivery_replaces_the_batch(workspace):
    deliver("tax_information", "TAX_FY2017.csv", [TAX_HEADER, tax_row(1), tax_row(2)])
    assert intake.intake_files("tax_information")["rejected"] == []
    deliver("tax_information", "TAX_FY2017.csv", [TAX_HEADER, tax_row(1), tax_row(2), tax_row(3)])
    assert intake.intake_files("tax_information")["rejected"] == []
    assert count("raw.tax_information") == 3
    # the same bytes again: still one batch, nothing duplicated
    deliver("tax_information", "TAX_FY2017.csv", [TAX_HEADER, tax_row(1), tax_row(2), tax_row(3)])
    intake.intake_files("tax_information")
    assert count("raw.tax_information") == 3


@pytest.mark.parametrize(
    ("interface", "name", "lines", "expected"),
    [
        ("tax_information", "TAX_FY2017.csv", [TAX_HEADER, tax_row(1, insurer="01130013")],
         "保険者番号 check digit"),
        ("tax_information", "TAX_FY2017.csv", [TAX_HEADER, tax_row(1, fy=2016)],
         "fiscal year differs"),
        ("tax_information", "TAX_FY2017.csv", [TAX_HEADER], "no data records"),
        ("income_threshold_applications", "KIJUN_201709.csv",
         ["insurer_number,symbol,number,branch_number,applied_on",
          "01130012,00001234,00000001,01,2017-09-12"], "not the insured person"),
        ("income_threshold_applications", "KIJUN_201709.csv",
         ["insurer_number,symbol,number,branch_number,applied_on",
          "01130012,00001234,00000001,00,2017-10-01"], "outside the month"),
    ],
)
def test_gate_rejections_name_the_reason(workspace, interface, name, lines, expected):
    deliver(interface, name, lines)
    out = intake.intake_files(interface)
    assert out["loaded"] == []
    assert expected in out["rejected"][0]["reason"]
    assert (paths().quarantine(interface) / name).exists()
