"""The ``renkei`` command line: the main job and the tools operators and staff use."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

import click

from renkei import airflow_home

DAG_ID = "allocate_intermediary_server_costs"
INTAKE_DAG_ID = "receive_tax_information"
TIERS_DAG_ID = "determine_benefit_tiers"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """renkei (連携): My Number linkage platform for a health insurer.

    Runs on an embedded Airflow (SQLite) and DuckDB inside this checkout.
    """
    airflow_home.apply()


@main.command()
@click.option("--members", default=20_000, show_default=True, help="Sandbox insurer size.")
@click.option("--start", default="2017-07", show_default=True, help="First month (YYYY-MM).")
@click.option("--end", default="2018-03", show_default=True, help="Last month (YYYY-MM).")
@click.option("--seed", default=20170718, show_default=True, help="Sandbox random seed.")
def demo(members: int, start: str, end: str, seed: int) -> None:
    """The main job: the sandbox insurer's cycle, month by month.

    For each month: the eligibility extract and cost allocation, My Number collection
    (pension service, J-LIS), registration in the intermediary server and tax linkage with
    the municipalities; then 基準収入額 applications and the tier engine. Every DAG runs
    exactly as the scheduler would; the outside bodies are sandbox counterparts.
    """
    import os

    # The console shows progress and the summary; task details stay at WARNING and above
    # (a failing task still prints its operator message).
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    from renkei import main_job, runs
    from renkei.settings import paths

    logging.basicConfig(level=logging.WARNING)
    # Library deprecation notices (Starlette, Airflow internals) say nothing to an operator.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=r".*is deprecated.*")

    p = paths()
    click.echo(f"[1/3] sandbox insurer: {members:,} members, {start} .. {end}; the pension "
               "service, J-LIS, the intermediary server and municipalities are sandbox "
               "counterparts")
    click.echo("[2/3] Airflow metadata database and pools")
    runs.init_airflow()
    click.echo("[3/3] the monthly cycle: allocation, My Numbers, registration, tax linkage; "
               "then applications and tiers")
    result = main_job.run(members, start, end, seed, report=click.echo)
    if result.failed:
        # No summary on failure: figures from a half-finished cycle would read as a result.
        click.echo(f"FAILED: {', '.join(result.failed)}. The failing task's message is printed "
                   f"above and in `renkei status`; quarantined files and their reasons are in "
                   f"{p.exchange / 'quarantine'}.", err=True)
        sys.exit(1)
    _print_allocation_summary(start, end)
    _print_collection_summary(result)
    _print_linkage_summary(result)
    _print_tier_summary(start, end)
    from renkei import docs_site

    click.echo(f"\ndbt docs (rules, lineage): {docs_site.build()}")


def _print_collection_summary(result) -> None:
    from renkei.collection import format_reconciliation

    first = result.months[0].collection
    if first:
        click.echo("\n" + format_reconciliation(first[0]))
    last = result.months[-1].collection
    if last and len(result.months) > 1:
        c = last[-1].counts
        click.echo(f"Last month ({result.months[-1].month:%Y-%m}): still without a number "
                   f"{c.get('still_without_number', 0):,}, on the work list "
                   f"{c.get('worklist_members', 0):,} (reports/my_numbers/)")


def _print_linkage_summary(result) -> None:
    from collections import Counter

    registered, rejected = Counter(), Counter()
    for m in result.months:
        for outcome, n in m.registration.get("outcome", {}).items():
            (rejected if outcome.startswith("rejected") else registered)[outcome] += n
    click.echo("\nIntermediary server registration (中間サーバー 加入者情報登録), all months")
    click.echo(f"  accepted {registered.get('accepted', 0):,}; rejected "
               + (", ".join(f"{k.split()[1]}: {v:,}" for k, v in sorted(rejected.items())) or "0")
               + " (reasons and members: reports/registration/)")
    last = result.months[-1].linkage
    click.echo("Tax information linkage (地方税関係情報 照会), where every inquiry stands")
    click.echo("  " + ", ".join(f"{k} {v:,}" for k, v in last.get("all_inquiries", {}).items())
               + " (members without an answer: reports/tax_linkage/)")


def _print_tier_summary(start: str, end: str) -> None:
    from renkei import warehouse
    from renkei.settings import paths

    con = warehouse.reader()
    try:
        rows = con.execute(
            """select strftime(month, '%Y-%m'), age_band, tier_code, coalesce(sort_order, 99),
                      member_count
               from marts.fct_tier_counts_by_month
               where strftime(month, '%Y-%m') between ? and ?""", [start, end]).fetchall()
    finally:
        con.close()
    months = sorted({r[0] for r in rows})
    counts = {(r[1], r[2], r[3]): {} for r in rows}
    for month, band, tier, order, n in rows:
        counts[(band, tier, order)][month] = n
    bands = {"under70": 0, "70-74": 1}
    click.echo("\nMembers per 高額療養費 tier (所得区分別加入者数)")
    click.echo(f"{'band':<8} {'tier':<10}" + "".join(f" {m[2:]:>7}" for m in months))
    for band, tier, order in sorted(counts, key=lambda k: (bands.get(k[0], 2), k[2], k[1])):
        # East Asian wide characters take two columns: pad by display width
        label = tier + " " * max(0, 10 - sum(2 if ord(c) > 0x2E80 else 1 for c in tier))
        click.echo(f"{band:<8} {label}" + "".join(
            f" {counts[(band, tier, order)].get(m, 0):>7,}" for m in months))
    click.echo(f"\nReports: {paths().reports / 'tiers'}/tier_summary.xlsx (and .csv)")


def _print_allocation_summary(start: str, end: str) -> None:
    from renkei import warehouse
    from renkei.settings import paths

    con = warehouse.reader()
    try:
        rows = con.execute(
            """select strftime(month, '%Y-%m'), sum(member_count), max(yen_per_member_month),
                      sum(amount_yen)
               from marts.fct_intermediary_cost_allocation
               where strftime(month, '%Y-%m') between ? and ?
               group by 1 order by 1""", [start, end]).fetchall()
    finally:
        con.close()
    click.echo("\nIntermediary server cost allocation (中間サーバー運営費用 按分)")
    click.echo(f"{'month':<8} {'members':>12} {'yen/member':>11} {'yen':>14}")
    total_members = total_yen = 0
    for month, members, unit, yen in rows:
        click.echo(f"{month:<8} {members:>12,} {unit:>11} {yen:>14,}")
        total_members += members
        total_yen += yen
    click.echo(f"{'total':<8} {total_members:>12,} {'':>11} {total_yen:>14,}")
    click.echo(f"\nReports: {paths().reports / 'allocation'}/<YYYY-MM>/ (CSV and Excel)")


@main.command("generate")
@click.option("--members", default=20_000, show_default=True, help="Sandbox insurer size.")
@click.option("--start", default="2017-07", show_default=True, help="First month (YYYY-MM).")
@click.option("--end", default="2018-03", show_default=True, help="Last month (YYYY-MM).")
@click.option("--seed", default=20170718, show_default=True, help="Sandbox random seed.")
@click.option("--bulk", is_flag=True, help="Fast mode for large N (1M-40M): one month's extract "
              "(--end), vectorised and in bounded memory, for benchmarks; no simulation history.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the extracts [default: the exchange inbox].")
def generate_cmd(members: int, start: str, end: str, seed: int, bulk: bool,
                 out_dir: Path | None) -> None:
    """Write the sandbox insurer's files (ELIG_<YYYYMM>.dat, CP932 fixed width).

    Without --bulk: a simulated membership month by month (hires, losses, births, grade
    changes), as the main job uses. With --bulk: one month for millions of members, fast.
    """
    from renkei.settings import paths

    target = out_dir or paths().inbox("eligibility_extract")
    if bulk:
        from renkei_sandbox.bulk import write_bulk_extract

        with click.progressbar(length=1, label=f"{members:,} members, {end}") as bar:
            written = [write_bulk_extract(target, members, month=end, seed=seed)]
            bar.update(1)
    else:
        from renkei_sandbox import generate

        written = generate(target, start=start, end=end, members=members, seed=seed)
    for path in written:
        click.echo(str(path))


@main.command("status")
def status_cmd() -> None:
    """Last runs per DAG, quarantined files, open work lists and recent alerts."""
    import os

    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from renkei import status

    st = status.collect()
    click.echo("Last runs (newest first)")
    if not st.runs:
        click.echo("  none yet: run `renkei demo` or trigger a DAG in the Airflow UI")
    for r in st.runs:
        click.echo(f"  {r['dag_id']:<38} {r['state']:<8} {r['interval']:<23} {r['run_id']}")
    click.echo("\nQuarantined files (exchange/quarantine/)")
    if not st.quarantined:
        click.echo("  none")
    for q in st.quarantined:
        click.echo(f"  {q['interface']}/{q['file']}: {q['reason']}")
    click.echo("\nOpen work lists for staff")
    click.echo("".join(f"  {w}\n" for w in st.worklists) or "  none\n", nl=False)
    click.echo("\nRecent alerts")
    if not st.alerts:
        click.echo("  none")
    for a in st.alerts:
        click.echo(f"  {a['at']} {a['message']}")


@main.command("airflow-env")
@click.option("--profile", type=click.Choice(["embedded", "production"]), default="embedded",
              show_default=True, help="embedded: SQLite, one task at a time; production: "
              "PostgreSQL metadata and the LocalExecutor.")
@click.option("--pg-url", envvar="RENKEI_PG_URL", help="With --profile production: "
              "postgresql+psycopg2://user@127.0.0.1:5432/airflow (password in ~/.pgpass).")
def airflow_env_cmd(profile: str, pg_url: str | None) -> None:
    """Print shell exports for Airflow (eval "$(renkei airflow-env)")."""
    if profile == "embedded":
        click.echo(airflow_home.shell_exports())
        return
    if not pg_url:
        raise click.UsageError("--profile production needs --pg-url")
    from renkei import profiles

    try:
        click.echo(profiles.shell_exports(profiles.production_env(pg_url)))
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--pg-url") from None


@main.command("init")
def init_cmd() -> None:
    """Create or migrate the Airflow metadata database and pools."""
    from renkei import runs

    runs.init_airflow()
    click.echo("Airflow metadata database ready.")


@main.command("layout-doc")
@click.argument("layout_name")
def layout_doc_cmd(layout_name: str) -> None:
    """Print the Markdown page documenting a file layout (docs/interfaces/<name>.md)."""
    from renkei.layout import load_layout
    from renkei.layout_doc import render_markdown

    click.echo(render_markdown(load_layout(layout_name)), nl=False)


@main.command("cap")
@click.option("--month", required=True, metavar="YYYY-MM",
              help="Treatment month (診療月), e.g. 2025-05.")
@click.option("--age-band", required=True, metavar="BAND",
              help="Age band (年齢区分): under70 (70歳未満) or 70-74 (高齢受給者).")
@click.option("--tier", required=True, metavar="TIER",
              help="Income tier (所得区分): ア イ ウ エ オ under 70; 現役並み 一般 低所得Ⅱ 低所得Ⅰ for "
                   "70-74 (現役並みⅢ/Ⅱ/Ⅰ from 2018-08).")
@click.option("--total-cost", required=True, type=int, metavar="YEN",
              help="Total medical cost of the month in yen, the full 10割 amount (総医療費).")
@click.option("--many-times", is_flag=True,
              help="4th or later month with a capped amount within 12 months (多数回該当).")
@click.option("--outpatient-only", is_flag=True,
              help="Outpatient care only (外来のみ): the 70-74 individual outpatient cap where the "
                   "tier has one.")
@click.option("--birthday-75-month", is_flag=True,
              help="Month of the 75th birthday, unless it falls on the 1st: every cap figure "
                   "halved (75歳到達月の特例).")
def cap_cmd(month: str, age_band: str, tier: str, total_cost: int, many_times: bool,
            outpatient_only: bool, birthday_75_month: bool) -> None:
    """The monthly cap of 高額療養費 (自己負担限度額) for one case.

    Uses the very formula and figures the dbt models use (macros/high_cost_cap.sql and the
    seeds high_cost_caps and benefit_parameters), and prints the cap in yen with the arithmetic.

    \b
    Example (the case every 高額療養費 leaflet prints):
      renkei cap --month 2025-05 --age-band under70 --tier ウ --total-cost 1000000
      87,430 yen
      80,100 + (1,000,000 - 267,000) x 1% = 87,430
    """
    from renkei.caps import CapInputError, cap_for

    try:
        result = cap_for(month, age_band, tier, total_cost, many_times=many_times,
                         outpatient_only=outpatient_only, birthday_75_month=birthday_75_month)
    except CapInputError as exc:
        raise click.BadParameter(exc.detail, param_hint=f"--{exc.option.replace('_', '-')}") from None
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{result.cap_yen:,} yen")
    click.echo(result.explanation)


@main.command("disclosure")
@click.option("--member", "member", required=True, metavar="KEYS",
              help="The member's 保険者番号-記号-番号-枝番, e.g. 01130012-00001234-00000001-00.")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Check the log's hash chain before printing.")
def disclosure_cmd(member: str, verify: bool) -> None:
    """One member's 情報提供等記録: every tax inquiry made and answer received for them.

    For a disclosure request: prints when, which fiscal year, on which legal basis and with
    what outcome. The member is looked up by token; keys and numbers are never printed.
    """
    from renkei.member_keys import token_for
    from renkei.provision_log import OUTCOMES, PURPOSES, ProvisionLog

    try:
        token = token_for(member)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--member") from None
    with ProvisionLog() as plog:
        if verify:
            check = plog.verify()
            if not check.ok:
                raise click.ClickException("the provision log fails its integrity check: "
                                           + "; ".join(check.problems[:5]))
        entries = list(plog.entries(token))
    click.echo(f"情報提供等記録 (provision record) of member token {token}")
    if not entries:
        click.echo("  no inquiry or answer recorded for this member")
        return
    click.echo(f"{'at (Asia/Tokyo)':<26} {'event':<8} {'FY':<5} {'outcome':<28} purpose")
    for e in entries:
        outcome = OUTCOMES.get(e["outcome"], e["outcome"])
        purpose = PURPOSES.get(e["purpose_code"], e["purpose_code"])
        click.echo(f"{e['at']:<26} {e['event']:<8} {e['fiscal_year']:<5} {outcome:<28} {purpose}")
    click.echo(f"{len(entries)} entries")

if __name__ == "__main__":
    main()
