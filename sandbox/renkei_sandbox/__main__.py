"""Command line: ``python -m renkei_sandbox generate --members N --seed S --start 2017-07
--end 2018-03 --out DIR`` (with ``plugins`` and ``sandbox`` on PYTHONPATH)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from renkei_sandbox.generator import generate


@click.group(help="Sandbox insurer system: writes synthetic monthly eligibility extracts.")
def cli() -> None:
    pass


@cli.command("generate", help="Simulate the membership and write ELIG_<YYYYMM>.dat per month.")
@click.option("--members", type=click.IntRange(min=1), default=20_000, show_default=True,
              help="Members at the start of the first month.")
@click.option("--seed", type=int, default=20170718, show_default=True)
@click.option("--start", default="2017-07", show_default=True, help="First month, YYYY-MM.")
@click.option("--end", default="2018-03", show_default=True, help="Last month, YYYY-MM (included).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the extracts into (created if missing).")
def generate_command(members: int, seed: int, start: str, end: str, out_dir: Path) -> None:
    began = time.perf_counter()
    try:
        paths = generate(out_dir, start=start, end=end, members=members, seed=seed)
    except ValueError as exc:   # a malformed month
        raise click.BadParameter(str(exc)) from exc
    for path in paths:
        click.echo(str(path))
    click.echo(f"{len(paths)} extract(s), {members} members, {time.perf_counter() - began:.1f} s", err=True)


if __name__ == "__main__":
    cli(prog_name="python -m renkei_sandbox")
