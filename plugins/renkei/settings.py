"""Where things live on disk. Every path can be moved with an environment variable so that
tests run in a throwaway folder and production points at its own volumes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# plugins/renkei/settings.py -> repository root
REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEZONE = "Asia/Tokyo"


@dataclass(frozen=True)
class Paths:
    var: Path            # warehouse, staging, secrets, GE stores (never committed)
    exchange: Path       # inbox / archive / quarantine / outbox per interface
    reports: Path        # what people read: CSV, Excel, charts, docs
    dbt_project: Path

    @property
    def warehouse(self) -> Path:
        return Path(os.environ.get("RENKEI_WAREHOUSE", self.var / "warehouse.duckdb"))

    @property
    def staging(self) -> Path:
        return self.var / "staging"

    @property
    def secrets(self) -> Path:
        return self.var / "secrets"

    @property
    def vault(self) -> Path:
        """The My Number vault (encrypted SQLite; its own file, never the warehouse)."""
        return self.var / "vault" / "vault.sqlite"

    def inbox(self, interface: str) -> Path:
        return self.exchange / "inbox" / interface

    def archive(self, interface: str) -> Path:
        return self.exchange / "archive" / interface

    def quarantine(self, interface: str) -> Path:
        return self.exchange / "quarantine" / interface


def paths() -> Paths:
    """Read the environment each call: tests change it between runs."""
    var = Path(os.environ.get("RENKEI_VAR", REPO_ROOT / "var"))
    return Paths(
        var=var,
        exchange=Path(os.environ.get("RENKEI_EXCHANGE", REPO_ROOT / "exchange")),
        reports=Path(os.environ.get("RENKEI_REPORTS", REPO_ROOT / "reports")),
        dbt_project=Path(os.environ.get("RENKEI_DBT_PROJECT", REPO_ROOT / "dbt_project")),
    )
