"""The dbt docs site: models, columns, lineage and the reports (exposures) they feed.

``dbt docs generate --static`` writes ``static_index.html``, one self-contained file with the
manifest and the catalog inlined: it opens from disk in any browser, with no server, and
fetches nothing from elsewhere (no network is reachable from the platform anyway). The
plain ``index.html`` beside it would need ``manifest.json`` and ``catalog.json`` served over
HTTP, which browsers refuse to read from ``file://``.

The site loads no assets from a CDN: dbt inlines its scripts and styles. Its only outside
request would be dbt's usage tracker, which the page loads only when the manifest says
``send_anonymous_usage_stats: true``; ``dbt_project.yml`` and the runner both turn it off.

No personal data: the catalog holds the names, types and comments of columns; dbt-duckdb
records no table statistics (no row counts, no minimum or maximum values), and the manifest
holds SQL and descriptions, never rows. The warehouse itself holds only tokens, codes, dates
and amounts.
"""

from __future__ import annotations

import logging
from pathlib import Path

from renkei.dbt_runner import dbt
from renkei.settings import paths

log = logging.getLogger(__name__)

SITE_FILE = "static_index.html"


def target_dir() -> Path:
    """Where dbt writes its artifacts (the same folder ``renkei.dbt_runner`` points dbt at)."""
    return paths().var / "dbt" / "target"


def build() -> Path:
    """Generate the docs site from the project and the warehouse; return its HTML file.

    Runs after the models are built: the catalog (column types, row counts) is read from
    the warehouse, under the writer lock like every dbt run, since dbt-duckdb opens the file
    for writing.
    """
    dbt("docs", "generate", "--static")
    site = target_dir() / SITE_FILE
    if not site.is_file():
        # dbt exited 0 but left no site: a changed flag or layout in a dbt upgrade.
        raise FileNotFoundError(f"dbt docs generate wrote no {SITE_FILE} in {site.parent}")
    log.info("dbt docs site: %s", site)
    return site
