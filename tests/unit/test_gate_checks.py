"""The gate's DuckDB checks agree with the Python rules they restate."""

import random

import pyarrow as pa
import pyarrow.parquet as pq

from renkei.gate import compute_checks
from renkei.identifiers import is_valid_insurer_number
from renkei.interfaces.eligibility import STAGED_SCHEMA


def _staged(tmp_path, rows):
    cols = {f.name: [r.get(f.name) for r in rows] for f in STAGED_SCHEMA}
    path = tmp_path / "staged.parquet"
    pq.write_table(pa.table(cols, schema=STAGED_SCHEMA), path)
    return path


def _row(i, **over):
    import datetime as dt

    row = {"record_no": i + 2, "member_token": f"t{i}", "insured_token": f"t{i}",
           "insurer_number": "01130012", "branch_number": "00", "relationship_code": "1",
           "sex_code": "1", "birth_date": dt.date(1980, 1, 1), "birth_date_invalid": False,
           "acquired_date": dt.date(2010, 4, 1), "acquired_date_invalid": False,
           "lost_date": None, "lost_date_invalid": False,
           "standard_monthly_remuneration": 300000, "grade_code": "22"}
    row.update(over)
    return row


VARS = {"period_start": "2017-07-01", "period_end": "2017-07-31"}


def test_insurer_number_check_matches_python(tmp_path):
    rng = random.Random(5)
    numbers = ["01130012", "01040013", "06131234"] + [f"{rng.randrange(10**8):08d}" for _ in range(3000)]
    rows = [_row(i, insurer_number=n, member_token=f"t{i}") for i, n in enumerate(numbers)]
    metrics, samples = compute_checks(_staged(tmp_path, rows), "eligibility_extract",
                                      VARS)
    expected_bad = [i + 2 for i, n in enumerate(numbers) if not is_valid_insurer_number(n)]
    assert metrics["invalid_insurer_number"] == len(expected_bad)
    assert samples["invalid_insurer_number"] == expected_bad[:5]


def test_each_check_counts_only_its_offenders(tmp_path):
    import datetime as dt

    rows = [
        _row(0),
        _row(1, member_token="t0"),                       # duplicate key with record 2
        _row(2, sex_code="3"),
        _row(3, lost_date=dt.date(2017, 7, 1)),           # lost on the 1st: before the month
        _row(4, acquired_date=dt.date(2017, 8, 1)),       # not yet enrolled
        _row(5, birth_date=dt.date(2017, 8, 2)),          # born after the month
        _row(6, relationship_code="2", branch_number="01", standard_monthly_remuneration=None,
             grade_code=None),                            # a normal dependent
        _row(7, grade_code="51"),
        _row(8, birth_date=dt.date(1942, 6, 30)),         # 75 before 2017-07-01: warning
        _row(9, birth_date=None, birth_date_invalid=True),
    ]
    metrics, samples = compute_checks(_staged(tmp_path, rows), "eligibility_extract", VARS)
    assert metrics["data_record_count"] == 10
    assert metrics["duplicate_member_key"] == 2 and samples["duplicate_member_key"] == [2, 3]
    assert metrics["unknown_sex_code"] == 1 and samples["unknown_sex_code"] == [4]
    assert metrics["lost_before_period"] == 1 and samples["lost_before_period"] == [5]
    assert metrics["acquired_after_period"] == 1 and samples["acquired_after_period"] == [6]
    assert metrics["born_after_period"] == 1 and samples["born_after_period"] == [7]
    assert metrics["unknown_grade_code"] == 1 and samples["unknown_grade_code"] == [9]
    assert metrics["aged_75_or_over"] == 1 and samples["aged_75_or_over"] == [10]
    assert metrics["invalid_birth_date"] == 1 and samples["invalid_birth_date"] == [11]
    assert metrics["insured_without_remuneration"] == 0
    assert metrics["invalid_insurer_number"] == 0


def test_75th_birthday_boundary(tmp_path):
    import datetime as dt

    # Born 1942-07-01: turns 75 on 2017-07-01, leaves that day; still listed for July is odd.
    # Born 1942-07-02: turns 75 on 2017-07-02, was 74 at the start of July: no warning.
    rows = [_row(0, birth_date=dt.date(1942, 7, 1)), _row(1, birth_date=dt.date(1942, 7, 2))]
    metrics, samples = compute_checks(_staged(tmp_path, rows), "eligibility_extract", VARS)
    assert samples["aged_75_or_over"] == [2]


def test_empty_extract_fails_with_its_own_reason(workspace, tmp_path):
    from renkei.gate import run_gate

    path = _staged(tmp_path, [])
    result = run_gate("eligibility_extract", path, "ELIG_201707.dat", VARS,
                      extra_metrics={"trailer_record_count": 0})
    assert [f.check for f in result.failures] == ["no_data_records"]
    assert "no data records" in result.summary()
    assert "()" not in result.summary() and "; )" not in result.summary()


def test_unknown_prefecture_in_insurer_number(tmp_path):
    rows = [_row(0, insurer_number="00000000"), _row(1, insurer_number="01480000")]
    metrics, samples = compute_checks(_staged(tmp_path, rows), "eligibility_extract", VARS)
    assert samples["unknown_insurer_prefecture"] == [2, 3]
