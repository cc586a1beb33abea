"""Documents the operators open from the Airflow UI, served by Airflow's own API server: the
Great Expectations data docs (every gate run) and the dbt docs site.

Mounted by the renkei Airflow plugin under ``/renkei`` and linked from the UI's navigation.
Every request needs a logged-in Airflow user (the UI's session cookie or a bearer token):
plugin endpoints are not protected by Airflow unless they ask for it. Neither site holds
personal data (the gates keep counts, the warehouse holds tokens), but both describe the
insurer's data and stay behind the login.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from renkei.settings import paths


def _user():
    # Imported lazily: this module is also imported where no API server runs (tests, CLI).
    from airflow.api_fastapi.core_api.security import get_user

    return get_user


def gx_docs_root() -> Path:
    return paths().var / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site"


def dbt_docs_root() -> Path:
    return paths().var / "dbt" / "target"


def safe_file(root: Path, relative: str) -> Path:
    """``root / relative`` if it is a file inside ``root`` (no ``..`` escapes), else 404."""
    root = root.resolve()
    target = (root / (relative or "index.html")).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(status_code=404, detail="not found (has the job run yet?)")
    return target


INDEX = """<!doctype html><html lang="ja"><meta charset="utf-8"><title>renkei documents</title>
<body style="font-family:sans-serif;max-width:40em;margin:2em auto">
<h1>renkei</h1><ul>
<li><a href="data-docs/index.html">データ品質ゲートの結果 / Data quality gate results (Great
Expectations data docs)</a></li>
<li><a href="dbt-docs/">dbt docs: models, rules and lineage</a></li></ul></body></html>"""


def create_app() -> FastAPI:
    app = FastAPI(title="renkei documents", dependencies=[Depends(_user())])

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return INDEX

    @app.get("/data-docs/{relative:path}")
    def data_docs(relative: str) -> FileResponse:
        return FileResponse(safe_file(gx_docs_root(), relative))

    @app.get("/dbt-docs/{relative:path}")
    def dbt_docs(relative: str) -> FileResponse:
        root = dbt_docs_root()
        if relative in ("", "index.html") and (root / "static_index.html").is_file():
            relative = "static_index.html"  # self-contained: no separate JSON fetches
        return FileResponse(safe_file(root, relative))

    return app
