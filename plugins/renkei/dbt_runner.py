"""Run dbt against the warehouse, holding the writer lock.

dbt runs in a child process, like every Airflow task does: dbt-duckdb keeps its DuckDB
handle open for the life of the process, and DuckDB refuses a second handle on the same
file with a different configuration (a read-only report query after an in-process build
would fail). A child process releases the file when it exits. The profile lives in
``dbt_project/profiles.yml`` and reads the warehouse path from ``RENKEI_WAREHOUSE``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

from renkei import warehouse
from renkei.settings import paths

log = logging.getLogger(__name__)


class DbtFailed(RuntimeError):
    pass


def _failed_nodes(target: Path) -> list[str]:
    try:
        results = json.loads((target / "run_results.json").read_text("utf-8"))["results"]
    except (OSError, KeyError, ValueError):
        return []
    return [f"{r['unique_id']}: {(r.get('message') or '').strip()}" for r in results
            if r.get("status") in ("error", "fail", "runtime error")]


def dbt(*args: str, lock: bool = True) -> None:
    """Run ``dbt <args>`` in the project; raise :class:`DbtFailed` naming failed nodes."""
    p = paths()
    project = Path(p.dbt_project)
    target = p.var / "dbt" / "target"
    # target/ and logs/ under var/: each installation (and each test) keeps its own.
    cli = [str(Path(sys.executable).with_name("dbt")), "--no-use-colors", *args,
           "--project-dir", str(project), "--profiles-dir", str(project),
           "--target-path", str(target), "--log-path", str(p.var / "dbt" / "logs")]
    env = {**os.environ, "RENKEI_WAREHOUSE": str(p.warehouse),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    log.info("dbt %s", " ".join(args))
    lock_ctx = warehouse.locked(p.warehouse) if lock else nullcontext()
    with lock_ctx:
        proc = subprocess.run(cli, env=env, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        log.info("dbt | %s", line)
    if proc.returncode != 0:
        failed = _failed_nodes(target) or proc.stdout.strip().splitlines()[-5:]
        raise DbtFailed(f"dbt {' '.join(args)} failed:\n  " + "\n  ".join(failed))

