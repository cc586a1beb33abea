"""The Airflow UI as an operator meets it: API server on loopback, log in, the DAG list."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from airflow_api import log_tail, request

from renkei import airflow_home

pytestmark = pytest.mark.browser

PLATFORM_DAGS = {"allocate_intermediary_server_costs", "determine_benefit_tiers",
                 "receive_tax_information"}
# Airflow's log servers listen on these (on every interface): never take them.
LOG_SERVER_PORTS = {8793, 8794}
AIRFLOW = Path(sys.executable).with_name("airflow")

def _free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind((airflow_home.API_HOST, 0))
            port = s.getsockname()[1]
        if port not in LOG_SERVER_PORTS:
            return port


@pytest.fixture
def api_server(tmp_path):
    """``airflow api-server`` on 127.0.0.1 and a free port, with the platform's DAGs in the
    metadata database (the API server shows what the DAG processor stored; here
    ``airflow dags reserialize`` stores it, as the processor would)."""
    from renkei import runs

    runs.init_airflow()
    env = {**os.environ, **airflow_home.apply()}
    subprocess.run([str(AIRFLOW), "dags", "reserialize"], env=env, check=True,
                   capture_output=True, timeout=300)
    port = _free_port()
    env["AIRFLOW__API__PORT"] = str(port)
    log_path = tmp_path / "api-server.log"
    base = f"http://{airflow_home.API_HOST}:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(AIRFLOW), "api-server", "--host", airflow_home.API_HOST, "--port", str(port),
             "--workers", "1"],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own process group, so every worker stops with it
    try:
        deadline = time.monotonic() + 180
        while request(f"{base}/api/v2/monitor/health")[0] != 200:
            if proc.poll() is not None:
                pytest.fail(f"api-server exited with {proc.returncode}:\n{log_tail(log_path)}")
            if time.monotonic() > deadline:
                pytest.fail(f"api-server did not answer in 180 s:\n{log_tail(log_path)}")
            time.sleep(1)
        password_file = Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
        yield base, json.loads(password_file.read_text("utf-8"))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


def test_operator_logs_in_and_sees_the_platform_dags(browser, api_server, artifacts):
    base, passwords = api_server
    # Every configured account got a generated password, and there is no other account.
    configured = os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin")
    assert set(passwords) == {user.split(":")[0] for user in configured.split(",")}
    assert "admin" in passwords

    # The API refuses anyone without a token, and a wrong password gets none.
    assert request(f"{base}/api/v2/dags")[0] == 401
    assert request(f"{base}/auth/token", {"username": "admin", "password": "wrong"})[0] == 401

    page = browser.new_page()
    page.goto(f"{base}/")
    # Not logged in: the UI sends the browser to the login form first.
    page.wait_for("!!document.querySelector('input[name=password]')", timeout=60,
                  what="the login form")
    assert page.evaluate("location.pathname") == "/auth/login"
    page.type_into("input[name=username]", "admin")
    page.type_into("input[name=password]", passwords["admin"])
    page.evaluate("document.querySelector('button[type=submit]').click()")
    page.wait_for("!location.pathname.startsWith('/auth')", what="the login to finish")

    page.goto(f"{base}/dags")
    links_js = ("Array.from(document.querySelectorAll('a[href]'))"
                ".map(a => new URL(a.href).pathname).filter(p => /^\\/dags\\/[^/]+$/.test(p))"
                ".map(p => p.slice('/dags/'.length))")
    listed = set(page.wait_for(
        f"(() => {{ const ids = {links_js}; "
        f"return {json.dumps(sorted(PLATFORM_DAGS))}.every(d => ids.includes(d)) && ids; }})()",
        timeout=60, what="the platform's DAGs in the list"))
    assert PLATFORM_DAGS <= listed
    shot = page.screenshot(artifacts / "airflow_ui_dag_list.png")
    print(f"screenshot: {shot}")

    # The same through the REST API, with a token from the same credentials.
    status, body = request(f"{base}/auth/token", {"username": "admin", "password": passwords["admin"]})
    assert status == 201
    status, dags = request(f"{base}/api/v2/dags?limit=100", token=body["access_token"])
    assert status == 200
    assert PLATFORM_DAGS <= {d["dag_id"] for d in dags["dags"]}

    # Everything the UI loaded came from this server.
    outside = [u for u in page.requested_urls()
               if not u.startswith((f"{base}/", "data:", "about:", "blob:"))]
    assert outside == []
