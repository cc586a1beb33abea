"""Command line: ``python -m renkei_sandbox generate --members N --seed S --start 2017-07
--end 2018-03 --out DIR [--tax-dir DIR] [--applications-dir DIR]`` (with ``plugins`` and
``sandbox`` on PYTHONPATH)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from renkei_sandbox.extract import FILE_PREFIX as EXTRACT_PREFIX
from renkei_sandbox.generator import generate


@click.group(help="Sandbox insurer system: writes synthetic monthly eligibility extracts and, on "
                  "request, tax information and 基準収入額 applications.")
def cli() -> None:
    pass


@cli.command("generate", help="Simulate the membership and write ELIG_<YYYYMM>.dat per month "
                              "(and TAX_FY<YYYY>.csv, KIJUN_<YYYYMM>.csv when their folders are given).")
@click.option("--members", type=click.IntRange(min=1), default=20_000, show_default=True,
              help="Members at the start of the first month.")
@click.option("--seed", type=int, default=20170718, show_default=True)
@click.option("--start", default="2017-07", show_default=True, help="First month, YYYY-MM.")
@click.option("--end", default="2018-03", show_default=True, help="Last month, YYYY-MM (included).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the extracts into (created if missing).")
@click.option("--tax-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write TAX_FY<YYYY>.csv for every fiscal year the range uses into this folder.")
@click.option("--applications-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write KIJUN_<YYYYMM>.csv (基準収入額 applications) into this folder.")
def generate_command(members: int, seed: int, start: str, end: str, out_dir: Path,
                     tax_dir: Path | None, applications_dir: Path | None) -> None:
    began = time.perf_counter()
    try:
        paths = generate(out_dir, start=start, end=end, members=members, seed=seed,
                         tax_dir=tax_dir, applications_dir=applications_dir)
    except ValueError as exc:   # a malformed month
        raise click.BadParameter(str(exc)) from exc
    for path in paths:
        click.echo(str(path))
    extracts = sum(1 for p in paths if p.name.startswith(EXTRACT_PREFIX))
    others = f", {len(paths) - extracts} tax/application file(s)" if len(paths) > extracts else ""
    click.echo(f"{extracts} extract(s){others}, {members} members, {time.perf_counter() - began:.1f} s",
               err=True)


if __name__ == "__main__":
    cli(prog_name="python -m renkei_sandbox")
