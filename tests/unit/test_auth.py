"""Roles: the auditor (viewer) reads runs and task states but no task logs or XComs; the
operator runs and clears tasks; nobody but admin touches connections."""

import pytest
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

from renkei import airflow_home
from renkei.auth import USERS, RenkeiAuthManager

ADMIN = SimpleAuthManagerUser(username="admin", role="admin")
OPERATOR = SimpleAuthManagerUser(username="operator", role="user")
AUDITOR = SimpleAuthManagerUser(username="auditor", role="viewer")


@pytest.fixture(scope="module")
def manager():
    return RenkeiAuthManager()


@pytest.mark.parametrize(("user", "method", "entity", "allowed"), [
    (AUDITOR, "GET", DagAccessEntity.RUN, True),
    (AUDITOR, "GET", DagAccessEntity.TASK_INSTANCE, True),
    (AUDITOR, "GET", DagAccessEntity.TASK_LOGS, False),
    (AUDITOR, "GET", DagAccessEntity.XCOM, False),
    (AUDITOR, "POST", DagAccessEntity.RUN, False),
    (AUDITOR, "PUT", DagAccessEntity.TASK_INSTANCE, False),
    (OPERATOR, "GET", DagAccessEntity.TASK_LOGS, True),
    (OPERATOR, "POST", DagAccessEntity.RUN, True),          # trigger
    (OPERATOR, "PUT", DagAccessEntity.TASK_INSTANCE, True),  # clear / mark
    (ADMIN, "GET", DagAccessEntity.TASK_LOGS, True),
])
def test_dag_permissions(manager, user, method, entity, allowed):
    assert manager.is_authorized_dag(method=method, user=user, access_entity=entity) is allowed


def test_only_admin_reads_connections(manager):
    for user, allowed in ((AUDITOR, False), (OPERATOR, False), (ADMIN, True)):
        assert manager.is_authorized_connection(method="GET", user=user) is allowed


def test_the_embedded_airflow_uses_these_roles():
    env = airflow_home.airflow_env()
    assert env["AIRFLOW__CORE__AUTH_MANAGER"] == "renkei.auth.RenkeiAuthManager"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == USERS
    # no password in configuration: Airflow generates them on first start
    assert all(part.count(":") == 1 for part in USERS.split(","))
