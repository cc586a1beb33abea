"""The 高額療養費 monthly cap (自己負担限度額) for one case, as ``renkei cap`` prints it.

There is one definition of the formula: the dbt macros in
``dbt_project/macros/high_cost_cap.sql``. This module renders that very file with jinja2 (the
macros are plain Jinja, without dbt-only context) and evaluates the SQL it produces in an
in-memory DuckDB against the very seed CSVs dbt loads, so a staff member's answer and the dbt
models cannot disagree. Python only picks the seed row, checks the input and words the answer.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import jinja2

from renkei.settings import paths

log = logging.getLogger(__name__)

CAPS_SEED = "high_cost_caps.csv"
PARAMETERS_SEED = "benefit_parameters.csv"
MACRO_FILE = "high_cost_cap.sql"
BIRTHDAY_75_PARAMETER = "birthday_75_month_cap_percent"

# Explicit types, no sniffing: codes stay text (a tier like ア or a future zero-padded code
# must never be guessed as a number), money is integer yen, the rate an exact decimal.
_CAPS_COLUMNS = {
    "age_band": "VARCHAR", "tier_code": "VARCHAR", "valid_from": "DATE", "valid_to": "DATE",
    "remuneration_from_yen": "BIGINT", "remuneration_to_yen": "BIGINT", "base_yen": "BIGINT",
    "threshold_yen": "BIGINT", "rate": "DECIMAL(9, 4)", "many_times_yen": "BIGINT",
    "outpatient_cap_yen": "BIGINT", "outpatient_year_cap_yen": "BIGINT", "basis": "VARCHAR",
}
# value is text in the file (parameters of other units may follow); the percent is cast where
# it is used.
_PARAMETER_COLUMNS = {
    "parameter_code": "VARCHAR", "value": "VARCHAR", "unit": "VARCHAR", "valid_from": "DATE",
    "valid_to": "DATE", "basis": "VARCHAR",
}

# The seed row of the case, with every cap figure scaled by $percent (100, or the
# 75th-birthday percent), then the cap and its rounded 1% part, both from the shared macro
# (the 1% part is the same macro with a zero base and no 多数回 or 外来 figure).
_CAP_QUERY = """\
{% from macro_file import high_cost_cap_yen, scaled_cap_yen %}
with

case_row as (

    select * from caps
    where age_band = $age_band
        and tier_code = $tier
        and $month between valid_from and valid_to

),

scaled as (

    select
        valid_from,
        valid_to,
        {{ scaled_cap_yen('base_yen', '$percent') }} as base_yen,
        {{ scaled_cap_yen('threshold_yen', '$percent') }} as threshold_yen,
        rate,
        {{ scaled_cap_yen('many_times_yen', '$percent') }} as many_times_yen,
        {{ scaled_cap_yen('outpatient_cap_yen', '$percent') }} as outpatient_cap_yen,
        basis
    from case_row

),

final as (

    select
        *,
        {{ high_cost_cap_yen(
            '$total_cost', 'base_yen', 'threshold_yen', 'rate',
            'many_times_yen', 'outpatient_cap_yen',
            many_times='$many_times', outpatient_only='$outpatient_only'
        ) }} as cap_yen,
        {{ high_cost_cap_yen(
            '$total_cost', '0', 'threshold_yen', 'rate', 'null', 'null'
        ) }} as one_percent_part_yen
    from scaled

)

select * from final
"""


class CapInputError(ValueError):
    """A bad input to :func:`cap_for`; ``option`` names the argument (and CLI option) at fault."""

    def __init__(self, option: str, message: str):
        super().__init__(f"{option}: {message}")
        self.option = option
        self.detail = message


@dataclass(frozen=True)
class CapParameters:
    """The seed figures the cap was computed from, already scaled by ``scale_percent``."""

    age_band: str
    tier: str
    valid_from: date
    valid_to: date
    base_yen: int
    threshold_yen: int | None
    rate: Decimal | None
    many_times_yen: int | None
    outpatient_cap_yen: int | None
    scale_percent: Decimal  # 100, or the 75歳到達月 percent (50)
    basis: str


@dataclass(frozen=True)
class CapResult:
    month: date
    total_cost: int
    many_times: bool
    outpatient_only: bool
    birthday_75_month: bool
    parameters: CapParameters
    cap_yen: int
    explanation: str


def cap_for(month: date | str, age_band: str, tier: str, total_cost: int, many_times: bool = False,
            outpatient_only: bool = False, birthday_75_month: bool = False) -> CapResult:
    """The monthly cap for one case (DOMAIN.md 3.2 and 3.3).

    ``month`` is the treatment month ('YYYY-MM' or any date in it); ``total_cost`` the full
    10割 medical cost of the month in yen; ``many_times`` the 4th or later capped month in 12
    (多数回); ``outpatient_only`` a 70-74 case with outpatient care only (外来のみ);
    ``birthday_75_month`` the month of the 75th birthday when the birthday is not the 1st
    (75歳到達月の特例: every cap figure is scaled by the benefit_parameters percent).
    Raises :class:`CapInputError` (a ValueError) naming the argument at fault.
    """
    month_start = _month_start(month)
    if isinstance(total_cost, bool) or not isinstance(total_cost, int):
        raise CapInputError("total_cost", f"must be a whole number of yen, got {total_cost!r}")
    if total_cost < 0:
        raise CapInputError("total_cost", f"must not be negative, got {total_cost:,}")

    seeds = paths().dbt_project / "seeds"
    con = duckdb.connect()  # in-memory: nothing here touches the warehouse
    try:
        con.execute(f"create table caps as select * from {_read_csv(seeds / CAPS_SEED, _CAPS_COLUMNS)}")
        tier_code = _seed_tier(con, month_start, age_band, tier)
        percent = Decimal(100)
        if birthday_75_month:
            percent = _birthday_75_percent(con, seeds / PARAMETERS_SEED, month_start)
        sql = _render(_CAP_QUERY, paths().dbt_project / "macros")
        cur = con.execute(sql, {
            "age_band": age_band, "tier": tier_code, "month": month_start, "percent": percent,
            "total_cost": total_cost, "many_times": many_times, "outpatient_only": outpatient_only,
        })
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    if len(rows) != 1:  # the seed's effective-period test should make this impossible
        raise RuntimeError(f"{CAPS_SEED} has {len(rows)} rows for {age_band} {tier_code} "
                           f"in {month_start:%Y-%m}; expected exactly one")
    row = dict(zip(names, rows[0], strict=True))
    params = CapParameters(
        age_band=age_band, tier=tier_code, valid_from=row["valid_from"], valid_to=row["valid_to"],
        base_yen=row["base_yen"], threshold_yen=row["threshold_yen"], rate=row["rate"],
        many_times_yen=row["many_times_yen"], outpatient_cap_yen=row["outpatient_cap_yen"],
        scale_percent=percent, basis=row["basis"])
    result = CapResult(
        month=month_start, total_cost=total_cost, many_times=many_times,
        outpatient_only=outpatient_only, birthday_75_month=birthday_75_month, parameters=params,
        cap_yen=row["cap_yen"],
        explanation=_explain(params, total_cost, many_times, outpatient_only, row["cap_yen"],
                             row["one_percent_part_yen"]))
    log.debug("cap %s %s %s: %s yen", f"{month_start:%Y-%m}", age_band, tier_code, result.cap_yen)
    return result


def _month_start(month: date | str) -> date:
    if isinstance(month, datetime):
        month = month.date()
    if isinstance(month, date):
        return month.replace(day=1)
    m = re.fullmatch(r"(\d{4})-(\d{2})", str(month).strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise CapInputError("month", f"expected a treatment month as YYYY-MM, got {month!r}")
    return date(int(m.group(1)), int(m.group(2)), 1)


def _read_csv(path: Path, columns: dict[str, str]) -> str:
    """A DuckDB read_csv call with every column typed (no sniffing of types or header)."""
    if not path.is_file():
        raise FileNotFoundError(f"seed file not found: {path}")
    cols = ", ".join(f"'{name}': '{type_}'" for name, type_ in columns.items())
    quoted = str(path).replace("'", "''")
    return f"read_csv('{quoted}', header = true, auto_detect = false, columns = {{{cols}}})"


def _same_code(a: str, b: str) -> bool:
    # NFKC so that what a keyboard gives matches the seed: half-width ｳ is ウ, and the
    # Roman numeral Ⅲ (U+2162) equals the letters III.
    return unicodedata.normalize("NFKC", a.strip()) == unicodedata.normalize("NFKC", b)


def _seed_tier(con: duckdb.DuckDBPyConnection, month: date, age_band: str, tier: str) -> str:
    """The seed's own spelling of ``tier``, after checking age band, month and tier."""
    bands = [r[0] for r in con.execute(
        "select age_band from caps group by age_band order by min(valid_from), age_band desc")
        .fetchall()]
    if age_band not in bands:
        raise CapInputError("age_band", f"{age_band!r} is not an age band; valid: {', '.join(bands)}")
    first, last = con.execute(
        "select min(valid_from), max(valid_to) from caps where age_band = ?", [age_band]).fetchone()
    tiers = [r[0] for r in con.execute(
        "select tier_code from caps where age_band = ? and ? between valid_from and valid_to",
        [age_band, month]).fetchall()]
    if not tiers:
        until = "onwards" if last == date(9999, 12, 31) else f"to {last:%Y-%m}"
        raise CapInputError("month", f"{month:%Y-%m} is outside the periods in {CAPS_SEED} for "
                                     f"{age_band} ({first:%Y-%m} {until})")
    for code in tiers:
        if _same_code(tier, code):
            return code
    raise CapInputError("tier", f"{tier!r} is not a tier of age band {age_band} in {month:%Y-%m}; "
                                f"valid tiers: {', '.join(tiers)}")


def _birthday_75_percent(con: duckdb.DuckDBPyConnection, path: Path, month: date) -> Decimal:
    found = con.execute(
        f"select value from {_read_csv(path, _PARAMETER_COLUMNS)} "
        "where parameter_code = ? and ? between valid_from and valid_to",
        [BIRTHDAY_75_PARAMETER, month]).fetchall()
    if len(found) != 1:
        raise CapInputError("birthday_75_month",
                            f"{PARAMETERS_SEED} has {len(found)} rows of {BIRTHDAY_75_PARAMETER} "
                            f"for {month:%Y-%m}; expected exactly one")
    return Decimal(found[0][0].strip())


def _render(template: str, macros_dir: Path) -> str:
    # StrictUndefined: a macro that reached for dbt-only context (ref, adapter, ...) fails here
    # instead of rendering an empty string into the SQL.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(macros_dir)),
                             undefined=jinja2.StrictUndefined, autoescape=False)
    return env.from_string(template).render(macro_file=MACRO_FILE)


def _yen(n: int | Decimal) -> str:
    return format(Decimal(n).normalize(), ",f")


def _explain(p: CapParameters, total: int, many_times: bool, outpatient_only: bool, cap: int,
             one_percent_part: int | None) -> str:
    """Words the macro's result; which figure applies mirrors the macro's order of cases, and a
    disagreement with the macro's number is an error rather than a wrong explanation."""
    notes = []
    if p.scale_percent != 100:
        notes.append(f"75歳到達月の特例: every figure x {_yen(p.scale_percent)}%")
    if outpatient_only and p.outpatient_cap_yen is None:
        notes.append("no separate 外来 cap for this tier: the household cap applies")
    if outpatient_only and p.outpatient_cap_yen is not None:
        claimed = p.outpatient_cap_yen
        text = f"{claimed:,} (外来 outpatient cap; 多数回 does not apply to it)"
    elif many_times and p.many_times_yen is not None:
        claimed = p.many_times_yen
        text = f"{claimed:,} (多数回: 4th or later capped month in 12)"
    else:
        if many_times:
            notes.append("no 多数回 amount for this tier: the normal cap applies")
        if p.threshold_yen is None:
            claimed = p.base_yen
            text = f"{claimed:,} (flat cap of tier {p.tier})"
        else:
            claimed = p.base_yen + (one_percent_part or 0)
            rate = _yen(p.rate * 100)
            if total <= p.threshold_yen:
                text = (f"{p.base_yen:,} + 0 (total {total:,} is not above {p.threshold_yen:,}: "
                        f"no {rate}% part) = {claimed:,}")
            else:
                exact = (total - p.threshold_yen) * p.rate
                text = f"{p.base_yen:,} + ({total:,} - {p.threshold_yen:,}) x {rate}%"
                if exact != one_percent_part:
                    text += (f" = {p.base_yen:,} + {_yen(exact)} (rounded half up to "
                             f"{one_percent_part:,})")
                text += f" = {claimed:,}"
    if claimed != cap:
        raise RuntimeError(f"explanation ({claimed:,}) disagrees with {MACRO_FILE} ({cap:,})")
    return "; ".join([*notes, text]) if notes else text
