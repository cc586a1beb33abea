"""The embedded Airflow installation: home inside the checkout, SQLite metadata.

Everything is set through ``AIRFLOW__*`` environment variables (``setdefault``: a value the
operator exported wins), so ``airflow.cfg`` never needs editing and the production profile
(PostgreSQL, LocalExecutor) is a different set of the same variables.
"""

from __future__ import annotations

import os

from renkei.settings import REPO_ROOT, TIMEZONE

API_HOST = "127.0.0.1"
API_PORT = "8080"


def airflow_env() -> dict[str, str]:
    home = os.environ.get("AIRFLOW_HOME", str(REPO_ROOT / ".airflow"))
    return {
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": TIMEZONE,
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        # Three roles; a viewer sees runs but no task logs or XComs (renkei.auth).
        "AIRFLOW__CORE__AUTH_MANAGER": "renkei.auth.RenkeiAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,operator:user,auditor:viewer",
        "AIRFLOW__API__HOST": API_HOST,
        "AIRFLOW__API__PORT": API_PORT,
        # The My Number mask on Airflow's handlers and in task logs (renkei.masking).
        "AIRFLOW__LOGGING__LOGGING_CONFIG_CLASS": "renkei.logging_config.LOGGING_CONFIG",
        # No telemetry: nothing but package registries is reachable, and none is wanted.
        "SCARF_ANALYTICS": "false",
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
        "DO_NOT_TRACK": "1",
        "GX_ANALYTICS_ENABLED": "False",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def apply() -> dict[str, str]:
    """Export the embedded defaults into this process (before Airflow is imported)."""
    env = airflow_env()
    for k, v in env.items():
        os.environ.setdefault(k, v)
    os.makedirs(os.environ["AIRFLOW_HOME"], exist_ok=True)
    from renkei import masking

    masking.install()  # the platform's own logs: no My Number in any record of this process
    return {k: os.environ[k] for k in env}


def shell_exports() -> str:
    return "\n".join(f"export {k}={v!r}" for k, v in apply().items())


def optional_connection(conn_id: str):
    """The Airflow connection ``conn_id``, or None when there is none or no Airflow around.

    Secrets (the token key, the vault keys) come from Airflow connections in production; a
    script outside Airflow, or an installation without the connection, falls back to the
    caller's other sources. Airflow is imported only when an Airflow home or the
    connection's environment variable says it is there.
    """
    if not os.environ.get("AIRFLOW_HOME") and not os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"):
        return None
    try:
        from airflow.sdk import BaseHook  # heavy import only when Airflow is the caller

        return BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - an absent connection is a normal case here
        return None
