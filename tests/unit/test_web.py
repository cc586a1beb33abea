"""The documents served inside the Airflow UI: files only from their own folders, behind the
Airflow login."""

import pytest
from fastapi.testclient import TestClient

from renkei import web


@pytest.fixture
def client(workspace):
    from airflow.api_fastapi.core_api.security import get_user

    app = web.create_app()
    root = web.gx_docs_root()
    root.mkdir(parents=True)
    (root / "index.html").write_text("<h1>gates</h1>", "utf-8")
    (web.dbt_docs_root()).mkdir(parents=True)
    (web.dbt_docs_root() / "static_index.html").write_text("<h1>dbt</h1>", "utf-8")
    (workspace / "var" / "warehouse.duckdb").write_bytes(b"not for the browser")
    return app, get_user


def test_serves_the_sites_to_a_logged_in_user(client):
    app, get_user = client
    app.dependency_overrides[get_user] = lambda: object()
    c = TestClient(app)
    assert c.get("/data-docs/index.html").text == "<h1>gates</h1>"
    assert c.get("/dbt-docs/").text == "<h1>dbt</h1>"
    assert "data-docs/index.html" in c.get("/").text


@pytest.mark.parametrize("path", ["/data-docs/../../warehouse.duckdb",
                                  "/data-docs/..%2F..%2F..%2F..%2Fwarehouse.duckdb",
                                  "/dbt-docs/../../warehouse.duckdb", "/data-docs/missing.html"])
def test_never_leaves_its_folder(client, path):
    app, get_user = client
    app.dependency_overrides[get_user] = lambda: object()
    assert TestClient(app).get(path).status_code == 404


def test_requires_a_login(client):
    app, _ = client
    # no override: Airflow's own user resolution runs and finds no token
    assert TestClient(app).get("/data-docs/index.html").status_code in (401, 403)
