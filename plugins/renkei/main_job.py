"""The main job (``renkei demo``): the sandbox insurer's whole cycle, month by month, with
every DAG run exactly as the scheduler would run it (``dag.test()``).

For each month M, in the order the business runs them:

1. the insurer's system delivers ``ELIG_<M>.dat`` (and members' 基準収入額 applications);
2. ``allocate_intermediary_server_costs`` loads the month and allocates the server's cost;
3. ``collect_my_numbers``: the pension service delivers its file, J-LIS answers the inquiry
   for everyone still without a number (first month: also the pension service's supplement);
4. ``register_members`` registers new members, changes and losses in the intermediary server;
5. ``link_tax_information`` asks the municipalities, through the server, for the tax years
   the tiers need (the July run is the yearly one, in time for the August switch).

Then ``receive_tax_information`` takes in the applications and ``determine_benefit_tiers``
builds the tiers. The outside bodies are the sandbox counterparts in ``sandbox/``; this
module is the only place outside tests where the platform drives them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from renkei.settings import TIMEZONE, paths

ALLOCATION = "allocate_intermediary_server_costs"
COLLECTION = "collect_my_numbers"
REGISTRATION = "register_members"
LINKAGE = "link_tax_information"
INTAKE = "receive_tax_information"
TIERS = "determine_benefit_tiers"

# The sandbox counterparts answer within seconds: short waits instead of hours.
SANDBOX_EXCHANGE_ENV = {"RENKEI_EXCHANGE_RETRIES": "2", "RENKEI_EXCHANGE_RETRY_DELAY_S": "5",
                        "RENKEI_EXCHANGE_WAIT_S": "60"}


@dataclass
class MonthResult:
    month: dt.date
    states: dict[str, str] = field(default_factory=dict)
    collection: list = field(default_factory=list)       # Reconciliation per collection run
    registration: dict = field(default_factory=dict)
    linkage: dict = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [name for name, state in self.states.items() if "success" not in state]


@dataclass
class MainJobResult:
    months: list[MonthResult] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)   # the runs after the months
    population: object = None   # the sandbox population (tests compare against it)

    @property
    def failed(self) -> list[str]:
        out = [f"{name} {m.month:%Y-%m}" for m in self.months for name in m.failed]
        return out + [name for name, state in self.states.items() if "success" not in state]


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def run(members: int, start: str, end: str, seed: int,
        report: Callable[[str], None] = print) -> MainJobResult:
    """Run the cycle for ``start`` .. ``end``; ``report`` gets one line per step."""
    with _sandbox_waits():
        return _run(members, start, end, seed, report)


@contextlib.contextmanager
def _sandbox_waits():
    """The short exchange waits, for this run only (a value the caller exported wins)."""
    added = {k: v for k, v in SANDBOX_EXCHANGE_ENV.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def _run(members: int, start: str, end: str, seed: int,
         report: Callable[[str], None]) -> MainJobResult:
    # dag.test() says "No tasks to run" each time a sensor is rescheduled while J-LIS or the
    # server is still answering: expected here, and noise for the operator watching.
    logging.getLogger("airflow.sdk.definitions.dag").setLevel(logging.ERROR)
    from renkei import collection, registration, runs, tax_linkage
    from renkei_sandbox import Population, write_income_threshold_applications, write_month_extract
    from renkei_sandbox.intermediary import IntermediaryServer
    from renkei_sandbox.jlis import JlisCounterpart, MyNumberScenario

    p = paths()
    months = runs.months(start, end)
    population = Population(members=members, seed=seed, start=months[0])
    server = IntermediaryServer(population, p.exchange)
    clock = {"today": months[0]}
    sent: set[str] = set()   # member keys the pension service has already put in a file
    result = MainJobResult(population=population)
    tokyo = ZoneInfo(TIMEZONE)
    with server.serving(lambda: clock["today"]):
        for month in months:
            mr = MonthResult(month)
            result.months.append(mr)
            population.simulate_month()
            write_month_extract(population, month, p.inbox("eligibility_extract"))
            write_income_threshold_applications(population, month,
                                                p.inbox("income_threshold_applications"))
            mr.states["allocation"] = runs.run_month(ALLOCATION, month)

            # the pension service: a full file the first month (and, a day later, a supplement
            # of the people it missed), then each month a file of the new insured persons
            scenario = MyNumberScenario(population, month)
            day = _next_month(month).replace(day=6)
            inbox = p.inbox(collection.pension.INTERFACE)
            deliveries = [(day, "regular")]
            if month == months[0]:
                deliveries.append((day + dt.timedelta(days=1), "supplement"))
            for i, (when_day, kind) in enumerate(deliveries):
                # none when nobody is new; J-LIS is still asked about members without a number
                if kind == "regular":
                    scenario.pension.deliver_new(inbox, when_day, sent)
                else:
                    sent.update(q.key for q in scenario.pension.missed)
                    scenario.pension.deliver_supplement(inbox, when_day)
                when = dt.datetime(when_day.year, when_day.month, when_day.day, 6, 0, tzinfo=tokyo)
                with JlisCounterpart(scenario.register, collection.jlis.outbox(),
                                     p.inbox(collection.ANSWER_INBOX)):
                    state = collection.run_dag(when, poke_seconds=1.0)
                mr.states[f"collection{'' if i == 0 else ' (supplement)'}"] = state
                run_id = collection.run_id_for(when)
                if collection.report_paths(run_id)[0].exists():
                    mr.collection.append(collection.load_reconciliation(run_id))

            clock["today"] = _next_month(month)
            server.process(clock["today"])
            as_of = clock["today"]
            mr.states["registration"] = runs.run_month(REGISTRATION, month)
            mr.registration = registration.summary(as_of)
            mr.states["tax linkage"] = runs.run_month(LINKAGE, month)
            mr.linkage = tax_linkage.summary(as_of)
            report(month_line(mr))
    result.states[INTAKE] = runs.run_once(INTAKE, months[-1])
    result.states[TIERS] = runs.run_once(TIERS, months[-1])
    report(f"      then: {INTAKE} {result.states[INTAKE]}, {TIERS} {result.states[TIERS]}")
    return result


def month_line(mr: MonthResult) -> str:
    """One line per month: every DAG's state and what it did, counts only."""
    got = Counter()
    for rec in mr.collection:
        got.update({k: v for k, v in rec.counts.items()
                    if k in ("from_pension_file", "matched_by_jlis")})
    follow = mr.collection[-1].counts.get("worklist_members", 0) if mr.collection else 0
    accepted = mr.registration.get("outcome", {}).get("accepted", 0)
    rejected = sum(v for k, v in mr.registration.get("outcome", {}).items() if k.startswith("rejected"))
    asked = sum(mr.linkage.get("asked", {}).values())
    states = " ".join(f"{k}={'ok' if 'success' in v else v}" for k, v in mr.states.items())
    return (f"      {mr.month:%Y-%m}: {states}\n"
            f"               numbers +{got['from_pension_file']:,} pension +{got['matched_by_jlis']:,}"
            f" J-LIS ({follow:,} to follow up); registered {accepted:,} changes"
            f" ({rejected:,} rejected); tax inquiries {asked:,}"
            f" ({mr.linkage.get('scope', '')})")
