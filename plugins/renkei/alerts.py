"""What an operator is told when a task fails: one paragraph, in the task log and in the
platform's alert list (``var/alerts/alerts.jsonl``, shown by ``renkei status``).

Readers, gates and intakes raise exceptions whose messages are written for operators and
name files, records and fields but never values; those messages are passed on as they are.
Any other exception is unexpected: only its type is repeated (its text could carry data
from a record), with what to do next.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

from renkei.settings import TIMEZONE, paths

log = logging.getLogger(__name__)

ALERTS_FILE = "alerts.jsonl"
# Exceptions whose messages are operator messages (value-free by construction).
OPERATOR_EXCEPTIONS = ("GateFailed", "ExtractUnreadable", "FilesRejected", "DbtFailed",
                       "WarehouseBusy", "LookupError", "CounterpartNotAnswering",
                       "TransportUnavailable")


def alerts_path() -> Path:
    return paths().var / "alerts" / ALERTS_FILE


def operator_message(dag_id: str, task_id: str, run_id: str, exc: BaseException | None) -> str:
    head = f"renkei: task {task_id} of {dag_id} (run {run_id}) failed."
    if exc is not None and type(exc).__name__ in OPERATOR_EXCEPTIONS:
        return f"{head} {exc}"
    kind = type(exc).__name__ if exc is not None else "an unknown error"
    return (f"{head} Unexpected error ({kind}); the task log has the details. Nothing was "
            "half-loaded: every load replaces its batch in one transaction. Clear the task to "
            "retry; if it fails the same way again, hand the task log to the data-platform team.")


def record(dag_id: str, task_id: str, run_id: str, message: str) -> None:
    path = alerts_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"at": dt.datetime.now(dt.UTC).astimezone(_tz()).isoformat(timespec="seconds"),
             "dag_id": dag_id, "task_id": task_id, "run_id": run_id, "message": message}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")


def recent(limit: int = 10) -> list[dict]:
    path = alerts_path()
    if not path.exists():
        return []
    lines = path.read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines[-limit:]]


def on_task_failure(context) -> None:
    """Airflow ``on_failure_callback``: log the paragraph and add it to the alert list."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    run_id = getattr(ti, "run_id", "?")
    message = operator_message(dag_id, task_id, run_id, context.get("exception"))
    log.error("%s", message)
    try:
        record(dag_id, task_id, run_id, message)
    except OSError:  # the alert list is a convenience; the task log already has the message
        log.exception("could not record the alert")


def _tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo(TIMEZONE)
