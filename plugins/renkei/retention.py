"""Retention of My Numbers: the vault forgets members who left the plan long enough ago.

番号法 allows keeping a 個人番号 only while the work needs it. A member's number is deleted
from the vault when every one of these holds on the retention run's date:

- the member's last known loss of eligibility (資格喪失日) is more than the retention period
  ago (``RENKEI_VAULT_RETENTION_MONTHS``, default 84 months = about 7 years, DOMAIN.md
  section 1 item 6, marked [u] there: confirm with the insurer's records policy);
- the member is not enrolled in the latest loaded eligibility month (a member who re-joined
  keeps their number);
- nothing is still open with the intermediary server for them: no registration change
  waiting for an answer and no unanswered tax inquiry (``renkei.linkage_state``).

Every deletion is written to the vault's append-only audit table with the reason; the run
returns counts only. Members never seen in the warehouse are not touched: that needs a
person, not a rule.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import asdict, dataclass

from renkei import warehouse

log = logging.getLogger(__name__)

DEFAULT_MONTHS = 84
ENV_MONTHS = "RENKEI_VAULT_RETENTION_MONTHS"


@dataclass(frozen=True)
class RetentionResult:
    as_of: str
    retention_months: int
    cutoff: str
    in_vault: int
    deleted: int
    kept_enrolled: int
    kept_within_period: int
    kept_open_with_intermediary: int
    kept_unknown: int

    def to_xcom(self) -> dict:
        return asdict(self)


def retention_months() -> int:
    value = os.environ.get(ENV_MONTHS, str(DEFAULT_MONTHS))
    months = int(value)
    if months < 12:
        # a typo here would delete numbers still needed for benefit claims
        raise ValueError(f"{ENV_MONTHS}={months}: retention under 12 months is refused")
    return months


def cutoff_for(as_of: dt.date, months: int) -> dt.date:
    """Members whose loss date is before this day are past the period."""
    index = as_of.year * 12 + as_of.month - 1 - months
    year, month = divmod(index, 12)
    day = min(as_of.day, _days_in(year, month + 1))
    return dt.date(year, month + 1, day)


def _days_in(year: int, month: int) -> int:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day


def member_status(tokens: set[str]) -> dict[str, tuple[bool, dt.date | None]]:
    """token -> (enrolled in the latest loaded month, last known loss date)."""
    con = warehouse.reader()
    try:
        rows = con.execute(
            """
            with latest as (select max(period) as period from raw.eligibility_members)
            select m.member_token,
                   bool_or(m.period = latest.period
                           and (m.lost_date is null or m.lost_date > last_day(m.period))),
                   max(m.lost_date)
            from raw.eligibility_members as m
            cross join latest
            where m.member_token in (select unnest(cast(? as varchar[])))
            group by m.member_token
            """, [sorted(tokens)]).fetchall()
    finally:
        con.close()
    return {t: (bool(enrolled), lost) for t, enrolled, lost in rows}


def open_with_intermediary(tokens: set[str]) -> set[str]:
    """Members with a registration change or a tax inquiry still waiting for an answer."""
    from renkei import linkage_state

    if not linkage_state.state_path().exists():
        return set()
    con = linkage_state.connect()
    try:
        rows = con.execute(
            "select member_token from changes where status in ('pending', 'sent') "
            "union select member_token from inquiries where status = 'sent'").fetchall()
    finally:
        con.close()
    return {r[0] for r in rows} & tokens


def purge(as_of: dt.date, vault=None) -> RetentionResult:
    """Delete the numbers of members past the retention period; keep everyone still needed."""
    from renkei.vault import Vault

    months = retention_months()
    cutoff = cutoff_for(as_of, months)
    own = vault is None
    vault = vault or Vault()
    try:
        tokens = set(vault.tokens())
        status = member_status(tokens) if tokens else {}
        still_open = open_with_intermediary(tokens)
        counts = {"deleted": 0, "enrolled": 0, "within": 0, "open": 0, "unknown": 0}
        for token in sorted(tokens):
            if token not in status:
                counts["unknown"] += 1
                continue
            enrolled, lost = status[token]
            if enrolled or lost is None:
                counts["enrolled"] += 1
            elif lost >= cutoff:
                counts["within"] += 1
            elif token in still_open:
                counts["open"] += 1
            else:
                vault.delete(token, reason=f"retention: left {lost:%Y-%m}, over {months} months "
                                           f"before {as_of:%Y-%m-%d}")
                counts["deleted"] += 1
    finally:
        if own:
            vault.close()
    result = RetentionResult(
        as_of=as_of.isoformat(), retention_months=months, cutoff=cutoff.isoformat(),
        in_vault=len(tokens), deleted=counts["deleted"], kept_enrolled=counts["enrolled"],
        kept_within_period=counts["within"], kept_open_with_intermediary=counts["open"],
        kept_unknown=counts["unknown"])
    log.info("retention as of %s: %s", as_of, result)
    return result
