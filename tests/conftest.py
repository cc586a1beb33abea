"""Test isolation: every test session gets its own Airflow home, warehouse, exchange and
reports under a temporary folder, set before Airflow is imported anywhere."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for sub in ("plugins", "sandbox"):
    if str(ROOT / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / sub))

_SESSION = Path(tempfile.mkdtemp(prefix="renkei-tests-"))
os.environ.update({
    "AIRFLOW_HOME": str(_SESSION / "airflow"),
    "RENKEI_VAR": str(_SESSION / "var"),
    "RENKEI_EXCHANGE": str(_SESSION / "exchange"),
    "RENKEI_REPORTS": str(_SESSION / "reports"),
    # A fixed test key: tokens are stable across the session, and no key file is created.
    "RENKEI_TOKEN_KEY": "7e" * 32,
})
os.environ.pop("RENKEI_WAREHOUSE", None)
os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)

from renkei import airflow_home  # noqa: E402

airflow_home.apply()

import pytest  # noqa: E402


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A fresh var/exchange/reports for one test (the Airflow metadata DB is shared)."""
    for name in ("var", "exchange", "reports"):
        monkeypatch.setenv(f"RENKEI_{name.upper()}", str(tmp_path / name))
    return tmp_path


@pytest.fixture(scope="session")
def session_dir() -> Path:
    return _SESSION
