"""Airflow timetables on the Japanese business-day calendar (``renkei.calendar``).

``NthBusinessDayTimetable(3)`` runs at 09:00 Tokyo time on the 3rd business day of every month,
and each run processes the previous calendar month: the run on the 3rd business day of April
has the data interval 1 March 00:00 JST to 1 April 00:00 JST, so its logical date is 1 March.

Scheduling follows Airflow's own data-interval timetables (``CronDataIntervalTimetable``):

- ``start_date`` and ``end_date`` bound the *data interval start* (the logical date), both
  inclusive. ``start_date=2026-04-01`` makes April 2026 the first month processed (run in
  May); a start date inside a month moves to the next whole month.
- ``catchup=False`` skips to the latest month whose run time has already passed, so a newly
  enabled DAG runs once for that month at once, then keeps to the calendar.

The class subclasses the scheduler-side ``airflow.timetables.base.Timetable``: in Airflow 3.3
that is what a plugin timetable must be, because the serializer asks a non-built-in timetable
to ``serialize()`` itself and looks its class up among the timetables registered by plugins
(``renkei_airflow_plugin.py`` registers this one). A DAG file uses it directly:
``@dag(schedule=NthBusinessDayTimetable(3), ...)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pendulum
from airflow.exceptions import AirflowTimetableInvalid
from airflow.timetables.base import DagRunInfo, DataInterval, Timetable

from renkei.calendar import YEAR_END_CLOSURE, nth_business_day
from renkei.settings import TIMEZONE

if TYPE_CHECKING:
    import datetime

    from airflow.timetables.base import TimeRestriction
    from pendulum import DateTime
    from pendulum.tz.timezone import FixedTimezone, Timezone

# The highest n every month can serve. The fewest business days any month has had or will have
# under today's holiday law (1990-2060, from jpholiday) is 18: e.g. February 2020 and May 2020. A
# larger n would leave some months without a run, so it is refused when the DAG is parsed rather
# than failing in the scheduler on the first short month. (Should a new holiday ever leave a
# month shorter, nth_business_day raises for that month and the scheduler logs its message.)
MAX_N = 18

_Month = tuple[int, int]  # (year, month) of the month a run processes


def _utcnow() -> DateTime:
    """The scheduler's clock; one place so tests can set it."""
    return pendulum.now("UTC")


def _add_months(month: _Month, count: int) -> _Month:
    index = month[0] * 12 + (month[1] - 1) + count
    return index // 12, index % 12 + 1


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ... 11th, 12th, 13th, ... 21st."""
    if 11 <= n % 100 <= 13:
        return f"{n}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _closure_label() -> str:
    (first_month, first_day), (last_month, last_day) = YEAR_END_CLOSURE[0], YEAR_END_CLOSURE[-1]
    return f"{first_month}/{first_day}-{last_month}/{last_day}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class NthBusinessDayTimetable(Timetable):
    """Run at ``hour:minute`` on the ``n``-th Japanese business day; process the previous month."""

    def __init__(
        self,
        n: int,
        hour: int = 9,
        minute: int = 0,
        timezone: str | Timezone | FixedTimezone = TIMEZONE,
    ) -> None:
        self.n = n
        self.hour = hour
        self.minute = minute
        if isinstance(timezone, str):
            try:
                timezone = pendulum.timezone(timezone)
            except Exception as exc:  # pendulum raises different types for bad names and offsets
                raise AirflowTimetableInvalid(f"unknown timezone {timezone!r}: {exc}") from exc
        self._timezone = timezone
        # Fail when the DAG file is parsed (an import error in the UI), not in the scheduler.
        self.validate()
        self.description = (
            f"At {self._clock} on the {ordinal(n)} business day of each month (weekends, Japanese "
            f"national holidays and the {_closure_label()} year-end closure skipped); each run "
            f"covers the previous calendar month"
        )

    # --- what the UI shows -------------------------------------------------------------------

    @property
    def _timezone_name(self) -> str:
        return getattr(self._timezone, "name", str(self._timezone))

    @property
    def _clock(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d} {self._timezone_name}"

    @property
    def summary(self) -> str:
        return (
            f"{ordinal(self.n)} business day of the month, {self._clock} "
            f"(JP holidays, {_closure_label()} closed)"
        )

    def __repr__(self) -> str:
        return (
            f"NthBusinessDayTimetable(n={self.n}, hour={self.hour}, minute={self.minute}, "
            f"timezone={self._timezone_name!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NthBusinessDayTimetable):
            return NotImplemented
        return self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash((self.n, self.hour, self.minute, self._timezone_name))

    # --- Airflow's timetable protocol ----------------------------------------------------------

    def validate(self) -> None:
        if not _is_int(self.n) or not 1 <= self.n <= MAX_N:
            raise AirflowTimetableInvalid(
                f"n must be a whole number from 1 to {MAX_N} (some months have only {MAX_N} "
                f"business days), got {self.n!r}"
            )
        if not _is_int(self.hour) or not 0 <= self.hour <= 23:
            raise AirflowTimetableInvalid(f"hour must be a whole number from 0 to 23, got {self.hour!r}")
        if not _is_int(self.minute) or not 0 <= self.minute <= 59:
            raise AirflowTimetableInvalid(f"minute must be a whole number from 0 to 59, got {self.minute!r}")

    def serialize(self) -> dict[str, Any]:
        from airflow.serialization.encoders import encode_timezone

        return {
            "n": self.n,
            "hour": self.hour,
            "minute": self.minute,
            "timezone": encode_timezone(self._timezone),
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> NthBusinessDayTimetable:
        # encode_timezone gives a name, or seconds east of UTC for a fixed offset; pendulum
        # reads both back.
        return cls(
            n=data["n"],
            hour=data["hour"],
            minute=data["minute"],
            timezone=pendulum.timezone(data["timezone"]),
        )

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """A manual run processes the calendar month before the (local) month it is triggered in."""
        return self._interval(_add_months(self._month_of(run_after), -1))

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        earliest: _Month | None = None
        if restriction.earliest is not None:
            earliest = self._first_month_starting_at_or_after(restriction.earliest)
        if not restriction.catchup:
            due = self._latest_due_month(_utcnow())
            earliest = due if earliest is None else max(earliest, due)

        if last_automated_data_interval is None:
            if earliest is None:  # no start_date and catchup on: nothing to start from
                return None
            month = earliest
        else:
            # The month that starts where the last interval ended. After a schedule change the
            # last end may fall inside a month: take that month rather than leave a gap, but
            # never repeat the last run's logical date.
            month = self._month_of(last_automated_data_interval.end)
            if self._month_start(month) <= last_automated_data_interval.start:
                month = _add_months(month, 1)
            if earliest is not None:
                month = max(month, earliest)

        if restriction.latest is not None and self._month_start(month) > restriction.latest:
            return None
        return DagRunInfo(run_after=self._run_after(month), data_interval=self._interval(month))

    # --- month arithmetic in the timetable's timezone ------------------------------------------

    def _month_of(self, moment: datetime.datetime) -> _Month:
        local = pendulum.instance(moment).in_timezone(self._timezone)
        return local.year, local.month

    def _month_start(self, month: _Month) -> DateTime:
        return pendulum.datetime(month[0], month[1], 1, tz=self._timezone)

    def _first_month_starting_at_or_after(self, moment: datetime.datetime) -> _Month:
        month = self._month_of(moment)
        return month if self._month_start(month) == moment else _add_months(month, 1)

    def _interval(self, month: _Month) -> DataInterval:
        return DataInterval(
            start=self._month_start(month).in_timezone("UTC"),
            end=self._month_start(_add_months(month, 1)).in_timezone("UTC"),
        )

    def _run_after(self, month: _Month) -> DateTime:
        """When the run processing ``month`` is due: the n-th business day of the next month."""
        year, run_month = _add_months(month, 1)
        day = nth_business_day(year, run_month, self.n)
        local = pendulum.datetime(day.year, day.month, day.day, self.hour, self.minute, tz=self._timezone)
        return local.in_timezone("UTC")

    def _latest_due_month(self, now: DateTime) -> _Month:
        """The latest processed month whose run time is at or before ``now``."""
        previous = _add_months(self._month_of(now), -1)
        if self._run_after(previous) <= now:  # this month's run has happened
            return previous
        return _add_months(previous, -1)
