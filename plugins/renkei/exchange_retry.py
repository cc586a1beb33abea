"""How long the tasks that talk to a counterpart keep trying: Airflow retries with exponential
back-off, read when the DAG file is parsed.

Defaults suit a real counterpart: the first retry after 10 minutes, then 20, 40, 80, 160
minutes and 6 hours (the cap), about 11 hours in all, which spans an announced overnight
maintenance; each try waits up to ``RENKEI_EXCHANGE_WAIT_S`` seconds for an answer before
it gives up. Tests and the sandbox shorten them with the environment variables below.
"""

from __future__ import annotations

import datetime as dt
import os

ENV_RETRIES = "RENKEI_EXCHANGE_RETRIES"
ENV_RETRY_DELAY_S = "RENKEI_EXCHANGE_RETRY_DELAY_S"
ENV_MAX_RETRY_DELAY_S = "RENKEI_EXCHANGE_MAX_RETRY_DELAY_S"
ENV_WAIT_S = "RENKEI_EXCHANGE_WAIT_S"

# Airflow 3.3 reads retry_exponential_backoff as the multiplier (True would mean 1.0,
# a constant delay): 2.0 doubles the delay each time.
BACKOFF_MULTIPLIER = 2.0


def _number(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def retry_args() -> dict:
    """Task arguments for the sending and waiting tasks."""
    return {
        "retries": int(_number(ENV_RETRIES, 6)),
        "retry_delay": dt.timedelta(seconds=_number(ENV_RETRY_DELAY_S, 600)),
        "retry_exponential_backoff": BACKOFF_MULTIPLIER,
        "max_retry_delay": dt.timedelta(seconds=_number(ENV_MAX_RETRY_DELAY_S, 6 * 3600)),
    }


def wait_seconds() -> float:
    """How long one try waits for a counterpart's answer before it fails and is retried."""
    return _number(ENV_WAIT_S, 120)
