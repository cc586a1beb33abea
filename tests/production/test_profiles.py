"""The production profile's settings (renkei.profiles), and the way it keeps the metadata
password out of the environment (~/.pgpass) working with both of Airflow's drivers."""

from __future__ import annotations

import asyncio
import os

import pytest

from renkei import airflow_home, profiles

from .conftest import Cluster


def test_production_env_sets_postgres_and_the_local_executor(tmp_path):
    env = profiles.production_env("postgresql+psycopg2://airflow@127.0.0.1:5432/airflow",
                                  home=tmp_path, api_port=18080)
    assert env["AIRFLOW_HOME"] == str(tmp_path)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://airflow@127.0.0.1:5432/airflow"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert (env["AIRFLOW__CORE__PARALLELISM"], env["AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG"]) == ("4", "2")
    # Tasks report to the API server this profile starts, on loopback and its port.
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1" and env["AIRFLOW__API__PORT"] == "18080"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    # Everything else is the embedded profile's: same DAGs, roles, timezone, log mask.
    embedded = airflow_home.airflow_env()
    for key in ("AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__AUTH_MANAGER",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "AIRFLOW__CORE__DEFAULT_TIMEZONE",
                "AIRFLOW__LOGGING__LOGGING_CONFIG_CLASS", "AIRFLOW__CORE__LOAD_EXAMPLES"):
        assert env[key] == embedded[key], key


def test_plain_postgresql_scheme_means_psycopg2():
    env = profiles.production_env("postgresql://airflow@127.0.0.1/airflow")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://airflow@127.0.0.1/airflow"
    assert env["AIRFLOW__API__PORT"] == airflow_home.API_PORT


@pytest.mark.parametrize("url", ["sqlite:////srv/airflow.db", "mysql://airflow:s3cret@db/airflow",
                                 "postgres://airflow:s3cret@127.0.0.1/airflow"])
def test_other_databases_are_refused_without_echoing_the_url(url):
    with pytest.raises(ValueError) as raised:
        profiles.production_env(url)
    assert "s3cret" not in str(raised.value) and "postgresql+psycopg2://" in str(raised.value)


def test_components_stay_on_loopback_and_start_no_log_server():
    assert profiles.COMMANDS["api-server"][-2:] == ("--host", "127.0.0.1")
    assert "--skip-serve-logs" in profiles.COMMANDS["scheduler"]
    assert "triggerer" not in profiles.COMMANDS  # its log server would listen on every interface


def test_shell_exports_quote_for_the_shell():
    exports = profiles.shell_exports({"A": "x y", "B": "it's"})
    assert exports.splitlines() == ["export A='x y'", "export B='it'\"'\"'s'"]


@pytest.mark.production
def test_both_drivers_read_the_password_from_pgpass(postgres: Cluster, tmp_path, monkeypatch):
    """The README tells operators to keep the password in ~/.pgpass, not in the URL: the
    synchronous driver (psycopg2) and the asynchronous one Airflow derives (asyncpg) must
    both find it there."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.ext.asyncio import create_async_engine

    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"{postgres.host}:{postgres.port}:{postgres.database}:{postgres.user}:"
                      f"{postgres.password}\n", "utf-8")
    os.chmod(pgpass, 0o600)  # libpq ignores a pgpass file others can read
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    url = profiles.production_env(
        f"postgresql://{postgres.user}@{postgres.host}:{postgres.port}/{postgres.database}",
    )["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]

    engine = create_engine(url)
    try:
        with engine.connect() as con:
            assert con.execute(text("select current_user")).scalar() == postgres.user
    finally:
        engine.dispose()

    async def current_user() -> str:
        # the async URL as Airflow derives it from the sync one
        engine = create_async_engine(url.replace("+psycopg2", "+asyncpg"))
        try:
            async with engine.connect() as con:
                return (await con.execute(text("select current_user"))).scalar()
        finally:
            await engine.dispose()

    assert asyncio.run(current_user()) == postgres.user

    # ... and without the file, no password: the server really asks for one.
    pgpass.unlink()
    engine = create_engine(url)
    try:
        with pytest.raises(Exception, match="password"):
            engine.connect()
    finally:
        engine.dispose()
