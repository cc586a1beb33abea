"""A task that logs, prints and raises with a My Number leaves no My Number in its logs.

Two paths: ``dag.test()`` in this process (Airflow's own logging config, console output), and
a real task-runner process: Airflow's supervisor forks the task process, which sends its log
events as JSON to the supervisor, which writes the task's log file. Only the HTTP hop to the
API server is replaced, by Airflow's in-process Execution API, so no server is started."""

from __future__ import annotations

import inspect
import json
import logging
import os
import subprocess
import sys

import pendulum
import pytest

from renkei.masking import MY_NUMBER_LABEL
from renkei.settings import REPO_ROOT, TIMEZONE

NUMBER = "983205673214"  # synthetic; DOMAIN.md's example of a valid check digit


def log_and_raise():
    """The probe task: logs through stdlib and structlog, prints, and raises with a number."""
    import logging

    import structlog

    number = "983205673214"  # NUMBER: the subprocess DAG gets this function's source only
    logging.getLogger("renkei.mask_probe").info("collected %s from J-LIS", number)
    structlog.get_logger("renkei.mask_probe").info("collected", my_number=number)
    print("printed", number)
    raise ValueError(f"J-LIS returned {number} for two members")


DAG_FILE = f"""import pendulum
from airflow.sdk import dag, task


{inspect.getsource(log_and_raise)}

@dag(dag_id="renkei_mask_probe", schedule=None, catchup=False, tags=["test"],
     start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Tokyo"))
def renkei_mask_probe():
    task(log_and_raise)()


renkei_mask_probe()
"""


def probe_dag():
    from airflow.sdk import dag, task

    @dag(dag_id="renkei_mask_probe", schedule=None, catchup=False, tags=["test"],
         start_date=pendulum.datetime(2024, 1, 1, tz=TIMEZONE))
    def renkei_mask_probe():
        task(log_and_raise)()

    return renkei_mask_probe()


def test_dag_test_run_logs_no_my_number(airflow_db, caplog, capfd):
    """The path of ``renkei demo`` and of the other end-to-end tests."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    dag = probe_dag()
    # dag.test() runs only DAGs the metadata DB knows; this one lives in the test, not in dags/.
    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=os.devnull)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)

    caplog.set_level(logging.INFO)
    when = pendulum.datetime(2024, 2, 1, tz=TIMEZONE)
    run = dag.test(logical_date=when, run_after=when)

    assert str(run.state) == "failed"  # the task raised, as intended
    out, err = capfd.readouterr()
    # print() is not logging: under dag.test() it goes straight to this console. In a real
    # task run the supervisor captures it into the task log, masked (the next test).
    console = [line for line in (out + err).splitlines() if line != f"printed {NUMBER}"]
    assert len(console) < len((out + err).splitlines())  # the probe did print
    assert NUMBER not in "\n".join([caplog.text, *console])
    assert f"collected {MY_NUMBER_LABEL} from J-LIS" in caplog.text
    assert any("collected" in line and f"my_number={MY_NUMBER_LABEL}" in line for line in console)
    assert f"ValueError: J-LIS returned {MY_NUMBER_LABEL} for two members" in console


RUNNER = '''
import json, sys
from pathlib import Path

from renkei import airflow_home, masking

airflow_home.apply()
from airflow.utils import db

db.upgradedb()
import pendulum
from airflow.configuration import conf
from airflow.dag_processing.bundles.manager import DagBundlesManager
from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
from airflow.executors import workloads
from airflow.executors.workloads import BundleInfo
from airflow.models.dagbag import DBDagBag
from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor, supervise_task
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState
from airflow.utils.types import DagRunTriggeredByType, DagRunType

# Only the Airflow logging config may mask from here on: the record factory that install()
# put into this process would otherwise be inherited by the forked task process.
masking.uninstall()

manager = DagBundlesManager()
manager.sync_bundles_to_db()
bundle = manager.get_bundle("dags-folder")
bundle.initialize()
bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name="dags-folder")
assert not bag.import_errors, bag.import_errors
sync_bag_to_db(bag, "dags-folder", None)

when = pendulum.datetime(2024, 2, 1, tz="Asia/Tokyo")
with create_session() as session:
    dag = DBDagBag().get_latest_version_of_dag("renkei_mask_probe", session=session)
    run = dag.create_dagrun(
        run_id="mask_probe", logical_date=when, data_interval=(when, when), run_after=when,
        run_type=DagRunType.MANUAL, triggered_by=DagRunTriggeredByType.TEST,
        state=DagRunState.RUNNING, session=session)
    ti = run.get_task_instance("log_and_raise", session=session)
    ti.try_number = 1
    ti.state = TaskInstanceState.QUEUED  # what the scheduler hands an executor
    session.flush()
    workload = workloads.ExecuteTask.make(ti, bundle_info=BundleInfo(name="dags-folder"))

# What LocalExecutor's worker does with a workload, with the in-process Execution API as client.
exit_code = supervise_task(
    ti=workload.ti, bundle_info=workload.bundle_info, dag_rel_path=workload.dag_rel_path, token="",
    client=InProcessTestSupervisor._api_client(), log_path=workload.log_path)
log_file = Path(conf.get("logging", "base_log_folder")) / workload.log_path
print(json.dumps({"exit_code": exit_code, "log_file": str(log_file)}))
'''


@pytest.mark.timeout(600)
def test_task_runner_process_writes_a_log_file_without_my_number(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "renkei_mask_probe.py").write_text(DAG_FILE, "utf-8")
    script = tmp_path / "run_probe.py"
    script.write_text(RUNNER, "utf-8")

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "RENKEI_VAR": str(tmp_path / "var"),
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "plugins"), env.get("PYTHONPATH", "")]),
    })
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                          timeout=540, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])

    text = open(result["log_file"], encoding="utf-8").read()
    events = [json.loads(line) for line in text.splitlines()]
    assert NUMBER not in text
    assert NUMBER not in done.stdout + done.stderr
    by_event = {e["event"]: e for e in events}
    assert f"collected {MY_NUMBER_LABEL} from J-LIS" in by_event
    assert by_event["collected"]["my_number"] == MY_NUMBER_LABEL
    assert f"printed {MY_NUMBER_LABEL}" in by_event                    # stdout, via the supervisor
    failure = by_event["Task failed with exception"]["error_detail"][0]
    assert failure["exc_type"] == "ValueError"
    assert failure["exc_value"] == f"J-LIS returned {MY_NUMBER_LABEL} for two members"
