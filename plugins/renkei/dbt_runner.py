"""Run dbt in-process against the warehouse, holding the writer lock.

In-process (``dbtRunner``) rather than a subprocess: no second interpreter start-up per
task, and dbt's result objects tell us which node failed. The profile lives in
``dbt_project/profiles.yml`` and reads the warehouse path from ``RENKEI_WAREHOUSE``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from renkei import warehouse
from renkei.settings import paths

log = logging.getLogger(__name__)


class DbtFailed(RuntimeError):
    pass


@contextmanager
def _warehouse_env(path: Path) -> Iterator[None]:
    """The profile reads RENKEI_WAREHOUSE; set it for this invocation only."""
    old = os.environ.get("RENKEI_WAREHOUSE")
    os.environ["RENKEI_WAREHOUSE"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("RENKEI_WAREHOUSE", None)
        else:
            os.environ["RENKEI_WAREHOUSE"] = old


def dbt(*args: str, lock: bool = True) -> object:
    """Run ``dbt <args>`` in the project; raise :class:`DbtFailed` naming failed nodes."""
    from dbt.cli.main import dbtRunner  # heavy import only when dbt runs

    p = paths()
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    project = Path(p.dbt_project)
    # target/ and logs/ under var/: each installation (and each test) keeps its own.
    cli = [*args, "--project-dir", str(project), "--profiles-dir", str(project),
           "--target-path", str(p.var / "dbt" / "target"), "--log-path", str(p.var / "dbt" / "logs")]
    log.info("dbt %s", " ".join(args))
    with _warehouse_env(p.warehouse), (warehouse.locked(p.warehouse) if lock else nullcontext()):
        res = dbtRunner().invoke(cli)
    if not res.success:
        failed = []
        for r in getattr(res.result, "results", None) or []:
            if str(getattr(r, "status", "")).lower() in ("error", "fail", "runtime error"):
                failed.append(f"{r.node.unique_id}: {r.message}")
        detail = "; ".join(failed) or str(res.exception)
        raise DbtFailed(f"dbt {' '.join(args)} failed: {detail}")
    return res.result
