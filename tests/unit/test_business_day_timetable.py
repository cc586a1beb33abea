"""NthBusinessDayTimetable: when runs are due, what they cover, and how Airflow stores it.

Expected run days are worked out by hand (reasoning next to each); the calendar rules behind
them are pinned in test_business_day_calendar.py. Weekdays used below, 2026: 1 Jan Thu,
1 Feb Sun, 1 Mar Sun, 1 Apr Wed, 1 May Fri, 1 Jun Mon, 1 Jul Wed, 1 Aug Sat, 1 Sep Tue,
1 Oct Thu, 1 Nov Sun, 1 Dec Tue; 2027: 1 Jan Fri, 1 Feb Mon.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import date

import pendulum
import pytest
from airflow.exceptions import AirflowTimetableInvalid
from airflow.timetables.base import DataInterval, TimeRestriction

from renkei import timetables
from renkei.calendar import business_days, nth_business_day
from renkei.settings import REPO_ROOT
from renkei.timetables import MAX_N, NthBusinessDayTimetable, ordinal

TOKYO = "Asia/Tokyo"
CLASS_PATH = "renkei.timetables.NthBusinessDayTimetable"


def jst(*args: int) -> pendulum.DateTime:
    return pendulum.datetime(*args, tz=TOKYO)


def month_interval(year: int, month: int) -> DataInterval:
    """The calendar month as a data interval, 00:00 JST to 00:00 JST."""
    end = (year, month + 1) if month < 12 else (year + 1, 1)
    return DataInterval(jst(year, month, 1), jst(*end, 1))


def next_run(timetable, last, earliest=None, latest=None, catchup=True):
    """The scheduler's question: after ``last`` (None = never ran), what is the next run?"""
    return timetable.next_dagrun_info(
        last_automated_data_interval=last,
        restriction=TimeRestriction(earliest=earliest, latest=latest, catchup=catchup),
    )


@pytest.fixture
def clock(monkeypatch):
    """Set the scheduler's 'now' (only catchup=False reads it)."""

    def set_now(moment: pendulum.DateTime) -> None:
        monkeypatch.setattr(timetables, "_utcnow", lambda: moment.in_timezone("UTC"))

    return set_now


@pytest.fixture
def third() -> NthBusinessDayTimetable:
    return NthBusinessDayTimetable(3)


# --- first run and following runs (catchup on) -----------------------------------------------


def test_first_run_processes_the_start_month_and_runs_on_the_3rd_business_day_after_it(third):
    # start_date 2026-03-01: March is processed; April 2026 starts Wednesday, so 1, 2, 3 April
    # are its first three business days and the run is due Friday 3 April 09:00 JST.
    info = next_run(third, None, jst(2026, 3, 1))
    assert info.data_interval == month_interval(2026, 3)
    assert info.run_after == jst(2026, 4, 3, 9, 0)
    assert info.logical_date == jst(2026, 3, 1)


def test_a_start_date_inside_a_month_waits_for_the_next_whole_month(third):
    # start_date 2026-03-15: March is incomplete, so April is the first month; its run falls in
    # Golden Week 2026: 1 May (Fri) is the 1st, 4-6 May are holidays (6th a 振替休日), 7 May (Thu)
    # the 2nd and 8 May (Fri) the 3rd.
    info = next_run(third, None, jst(2026, 3, 15))
    assert info.data_interval == month_interval(2026, 4)
    assert info.run_after == jst(2026, 5, 8, 9, 0)


def test_start_date_at_the_tokyo_month_boundary_given_in_utc(third):
    # 2026-03-31 15:00 UTC is 2026-04-01 00:00 JST: April is whole. One second later it is not.
    at_boundary = pendulum.datetime(2026, 3, 31, 15, 0, 0, tz="UTC")
    info = next_run(third, None, at_boundary)
    assert info.data_interval == month_interval(2026, 4)
    later = at_boundary.add(seconds=1)
    info = next_run(third, None, later)
    assert info.data_interval == month_interval(2026, 5)


def test_a_following_run_processes_the_next_month(third):
    # After April 2026, May is processed; June 2026 starts Monday: 1, 2, 3 June -> Wednesday 3rd.
    info = next_run(third, month_interval(2026, 4), jst(2026, 1, 1))
    assert info.data_interval == month_interval(2026, 5)
    assert info.run_after == jst(2026, 6, 3, 9, 0)


def test_december_is_processed_after_the_year_end_closure():
    # December 2026 is processed in January 2027: 1-3 Jan are closed (1 Jan Fri; 2-3 weekend),
    # 4 Jan (Mon) is the 1st business day, 6 Jan (Wed) the 3rd.
    last = month_interval(2026, 11)
    first = next_run(NthBusinessDayTimetable(1), last, jst(2026, 1, 1))
    assert first.data_interval == month_interval(2026, 12)
    assert first.run_after == jst(2027, 1, 4, 9, 0)
    third_day = next_run(NthBusinessDayTimetable(3), last, jst(2026, 1, 1))
    assert third_day.run_after == jst(2027, 1, 6, 9, 0)


# The 3rd business day of each month from February 2026 to January 2027 (month start weekdays
# in the module docstring):
A_YEAR_OF_RUNS = [
    (2026, 1, jst(2026, 2, 4, 9)),   # Feb: starts Sun; 2, 3, 4
    (2026, 2, jst(2026, 3, 4, 9)),   # Mar: starts Sun; 2, 3, 4
    (2026, 3, jst(2026, 4, 3, 9)),   # Apr: starts Wed; 1, 2, 3
    (2026, 4, jst(2026, 5, 8, 9)),   # May: 1; 4-6 Golden Week; 7, 8
    (2026, 5, jst(2026, 6, 3, 9)),   # Jun: starts Mon; 1, 2, 3
    (2026, 6, jst(2026, 7, 3, 9)),   # Jul: starts Wed; 1, 2, 3
    (2026, 7, jst(2026, 8, 5, 9)),   # Aug: starts Sat; 3, 4, 5
    (2026, 8, jst(2026, 9, 3, 9)),   # Sep: starts Tue; 1, 2, 3
    (2026, 9, jst(2026, 10, 5, 9)),  # Oct: starts Thu; 1, 2, 5
    (2026, 10, jst(2026, 11, 5, 9)),  # Nov: starts Sun; 2, (3 文化の日), 4, 5
    (2026, 11, jst(2026, 12, 3, 9)),  # Dec: starts Tue; 1, 2, 3
    (2026, 12, jst(2027, 1, 6, 9)),  # Jan 2027: 1-3 closed; 4, 5, 6
]


def test_a_year_of_runs_with_catchup(third):
    last = None
    for year, month, run_after in A_YEAR_OF_RUNS:
        info = next_run(third, last, jst(2026, 1, 1))
        assert (info.data_interval, info.run_after) == (month_interval(year, month), run_after)
        last = info.data_interval


def test_catchup_on_does_not_skip_missed_months(third, clock):
    clock(jst(2026, 9, 25, 12))
    info = next_run(third, month_interval(2026, 1), jst(2025, 1, 1))
    assert info.data_interval == month_interval(2026, 2)


def test_without_start_date_and_with_catchup_nothing_is_scheduled(third):
    assert next_run(third, None) is None


# --- catchup off ------------------------------------------------------------------------------


def test_catchup_off_first_run_skips_to_the_latest_month_already_due(third, clock):
    # Now 25 Sep 2026; September's run (3rd business day = Thu 3 Sep) has passed, so the latest
    # due run is the one for August, and it is created at once.
    clock(jst(2026, 9, 25, 12))
    info = next_run(third, None, jst(2025, 1, 1), catchup=False)
    assert info.data_interval == month_interval(2026, 8)
    assert info.run_after == jst(2026, 9, 3, 9, 0)


def test_catchup_off_at_the_run_time_boundary(third, clock):
    # One second before 09:00 on 3 Sep 2026 the latest due run is August's (5 Aug 09:00, for
    # July); at 09:00 exactly it is September's (for August).
    clock(jst(2026, 9, 3, 8, 59, 59))
    before = next_run(third, None, jst(2025, 1, 1), catchup=False)
    assert before.data_interval == month_interval(2026, 7)
    assert before.run_after == jst(2026, 8, 5, 9, 0)
    clock(jst(2026, 9, 3, 9, 0, 0))
    at = next_run(third, None, jst(2025, 1, 1), catchup=False)
    assert at.data_interval == month_interval(2026, 8)


def test_catchup_off_skips_months_missed_since_the_last_run(third, clock):
    clock(jst(2026, 9, 25, 12))
    info = next_run(third, month_interval(2026, 1), jst(2025, 1, 1), catchup=False)
    assert info.data_interval == month_interval(2026, 8)


def test_catchup_off_after_the_latest_run_waits_for_the_next_one(third, clock):
    # August was processed; September is next, due on the 3rd business day of October 2026:
    # 1 Oct (Thu), 2 Oct (Fri), 5 Oct (Mon).
    clock(jst(2026, 9, 25, 12))
    info = next_run(third, month_interval(2026, 8), jst(2025, 1, 1), catchup=False)
    assert info.data_interval == month_interval(2026, 9)
    assert info.run_after == jst(2026, 10, 5, 9, 0)


def test_catchup_off_with_a_future_start_date_waits_for_it(third, clock):
    # start_date 2027-01-01: January 2027 is processed first, in February 2027 (starts Monday:
    # 1, 2, 3 Feb -> Wednesday 3rd).
    clock(jst(2026, 9, 25, 12))
    info = next_run(third, None, jst(2027, 1, 1), catchup=False)
    assert info.data_interval == month_interval(2027, 1)
    assert info.run_after == jst(2027, 2, 3, 9, 0)


def test_catchup_off_without_start_date_still_schedules_the_latest(third, clock):
    clock(jst(2026, 9, 25, 12))
    info = next_run(third, None, catchup=False)
    assert info.data_interval == month_interval(2026, 8)


# --- end_date ---------------------------------------------------------------------------------


def test_end_date_bounds_the_data_interval_start_inclusively(third):
    # end_date 2026-05-01 00:00 JST: May (starting exactly then) is still run; June is not.
    end = jst(2026, 5, 1)
    info = next_run(third, month_interval(2026, 4), jst(2026, 1, 1), end)
    assert info.data_interval == month_interval(2026, 5)
    assert next_run(third, month_interval(2026, 5), jst(2026, 1, 1), end) is None
    # One second earlier, May is out as well.
    assert next_run(third, month_interval(2026, 4), jst(2026, 1, 1), end.subtract(seconds=1)) is None


# --- manual runs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run_after", "processed"),
    [
        (jst(2026, 4, 3, 9), (2026, 3)),  # the scheduled moment itself
        (jst(2026, 4, 1, 0, 0, 0), (2026, 3)),  # first instant of April in Tokyo
        (jst(2026, 3, 31, 23, 59, 59), (2026, 2)),  # last instant of March in Tokyo
        (pendulum.datetime(2026, 3, 31, 15, 0, 0, tz="UTC"), (2026, 3)),  # = 1 Apr 00:00 JST
        (pendulum.datetime(2026, 3, 31, 14, 59, 59, tz="UTC"), (2026, 2)),  # = 31 Mar 23:59:59 JST
        (jst(2027, 1, 2, 10), (2026, 12)),  # across the year, during the closure
    ],
)
def test_a_manual_run_processes_the_month_before_it(third, run_after, processed):
    assert third.infer_manual_data_interval(run_after=run_after) == month_interval(*processed)


# --- serialization ----------------------------------------------------------------------------


def test_serialize_and_deserialize_round_trip():
    timetable = NthBusinessDayTimetable(5, hour=7, minute=30)
    data = timetable.serialize()
    assert data == {"n": 5, "hour": 7, "minute": 30, "timezone": "Asia/Tokyo"}
    again = NthBusinessDayTimetable.deserialize(json.loads(json.dumps(data)))
    assert again == timetable
    assert again.summary == timetable.summary
    assert NthBusinessDayTimetable.deserialize({**data, "n": 6}) != timetable


def test_airflows_encoder_and_decoder_round_trip():
    # What the DAG processor writes and the scheduler reads: the class path plus serialize().
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    timetable = NthBusinessDayTimetable(3, hour=9, minute=15)
    encoded = json.loads(json.dumps(encode_timetable(timetable)))
    assert encoded == {
        "__type": CLASS_PATH,
        "__var": {"n": 3, "hour": 9, "minute": 15, "timezone": "Asia/Tokyo"},
    }
    decoded = decode_timetable(encoded)
    assert type(decoded) is NthBusinessDayTimetable
    assert decoded == timetable


def test_a_fixed_offset_timezone_round_trips():
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    timetable = NthBusinessDayTimetable(2, timezone=pendulum.FixedTimezone(9 * 3600))
    encoded = json.loads(json.dumps(encode_timetable(timetable)))
    assert encoded["__var"]["timezone"] == 9 * 3600
    assert decode_timetable(encoded) == timetable


def test_a_whole_dag_round_trips_through_the_dag_serializer():
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG(
        "business_day_timetable_probe",
        schedule=NthBusinessDayTimetable(3),
        start_date=jst(2026, 3, 1),
        catchup=True,
    ) as dag:
        EmptyOperator(task_id="noop")

    stored = json.loads(json.dumps(DagSerialization.to_dict(dag)))
    assert stored["dag"]["timetable"]["__type"] == CLASS_PATH
    scheduler_dag = DagSerialization.from_dict(stored)
    assert scheduler_dag.timetable == NthBusinessDayTimetable(3)
    # The scheduler's own call, with the DAG's start_date and catchup.
    info = scheduler_dag.next_dagrun_info(last_automated_run_info=None)
    assert info.data_interval == month_interval(2026, 3)
    assert info.run_after == jst(2026, 4, 3, 9, 0)


# --- what the UI shows ------------------------------------------------------------------------


def test_summary_and_description_read_well():
    timetable = NthBusinessDayTimetable(3)
    assert timetable.summary == (
        "3rd business day of the month, 09:00 Asia/Tokyo (JP holidays, 12/29-1/3 closed)"
    )
    assert timetable.description == (
        "At 09:00 Asia/Tokyo on the 3rd business day of each month (weekends, Japanese national "
        "holidays and the 12/29-1/3 year-end closure skipped); each run covers the previous "
        "calendar month"
    )
    assert NthBusinessDayTimetable(1, hour=7, minute=5).summary.startswith(
        "1st business day of the month, 07:05 Asia/Tokyo"
    )
    assert repr(timetable) == "NthBusinessDayTimetable(n=3, hour=9, minute=0, timezone='Asia/Tokyo')"


@pytest.mark.parametrize(
    ("n", "text"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (10, "10th"), (11, "11th"), (12, "12th"),
     (13, "13th"), (14, "14th"), (18, "18th"), (21, "21st"), (22, "22nd"), (23, "23rd")],
)
def test_ordinals(n, text):
    assert ordinal(n) == text


# --- validation -------------------------------------------------------------------------------


def test_max_n_is_the_fewest_business_days_any_month_has():
    # May 2020 (see the calendar tests) has exactly 18 business days, the 18th being Friday
    # 29 May; so 18 is the largest n every month can serve, and no month 1990-2060 has fewer.
    assert MAX_N == 18
    assert len(business_days(2020, 5)) == 18
    assert nth_business_day(2020, 5, 18) == date(2020, 5, 29)
    assert min(len(business_days(y, m)) for y in range(1990, 2061) for m in range(1, 13)) == MAX_N
    info = next_run(NthBusinessDayTimetable(MAX_N), month_interval(2020, 3), jst(2020, 1, 1))
    assert info.run_after == jst(2020, 5, 29, 9, 0)


@pytest.mark.parametrize("kwargs", [{"n": 1}, {"n": MAX_N}, {"n": 3, "hour": 0}, {"n": 3, "hour": 23},
                                    {"n": 3, "minute": 0}, {"n": 3, "minute": 59}])
def test_valid_settings_at_the_boundaries(kwargs):
    NthBusinessDayTimetable(**kwargs).validate()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n must be"),
        ({"n": MAX_N + 1}, "n must be"),
        ({"n": True}, "n must be"),
        ({"n": 3.0}, "n must be"),
        ({"n": 3, "hour": -1}, "hour"),
        ({"n": 3, "hour": 24}, "hour"),
        ({"n": 3, "minute": -1}, "minute"),
        ({"n": 3, "minute": 60}, "minute"),
        ({"n": 3, "timezone": "Asia/Tokio"}, "unknown timezone"),
    ],
)
def test_invalid_settings_are_refused_when_the_dag_is_parsed(kwargs, message):
    with pytest.raises(AirflowTimetableInvalid, match=message):
        NthBusinessDayTimetable(**kwargs)


def test_another_timezone_moves_the_clock_not_the_calendar():
    # In UTC the month boundaries and the 09:00 are UTC; the business days are still Japan's.
    timetable = NthBusinessDayTimetable(3, timezone="UTC")
    info = next_run(timetable, None, pendulum.datetime(2026, 4, 1, tz="UTC"))
    assert info.data_interval == DataInterval(pendulum.datetime(2026, 4, 1, tz="UTC"),
                                              pendulum.datetime(2026, 5, 1, tz="UTC"))
    assert info.run_after == pendulum.datetime(2026, 5, 8, 9, 0, tz="UTC")


# --- the plugin -------------------------------------------------------------------------------

_PROBE = textwrap.dedent(
    """
    import json, sys
    from airflow import plugins_manager
    from airflow.serialization.decoders import decode_timetable

    info = plugins_manager.get_plugin_info(attrs_to_dump=["timetables"])
    # Decode as a fresh scheduler would: nothing of renkei imported by a DAG file first.
    decoded = decode_timetable({"__type": sys.argv[1], "__var": {
        "n": 3, "hour": 9, "minute": 0, "timezone": "Asia/Tokyo"}})
    print(json.dumps({
        "plugins": {p["name"]: p["timetables"] for p in info},
        "registered": sorted(plugins_manager.get_timetables_plugins()),
        "import_errors": plugins_manager.get_import_errors(),
        "decoded": decoded.summary,
        "calendar_module": sys.modules["calendar"].__file__,
    }))
    """
)


def test_airflow_discovers_the_plugin_from_the_plugins_folder(tmp_path):
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
    }
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, CLASS_PATH],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["plugins"]["renkei"] == [CLASS_PATH]
    assert CLASS_PATH in found["registered"]
    assert found["import_errors"] == {}
    assert found["decoded"] == NthBusinessDayTimetable(3).summary
    # plugins/.airflowignore keeps the plugins manager out of plugins/renkei/: otherwise it would
    # load renkei/calendar.py as the top-level module `calendar`, replacing the standard library's.
    assert "plugins" not in found["calendar_module"], found["calendar_module"]
