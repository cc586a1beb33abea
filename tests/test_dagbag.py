"""Every DAG imports, and declares what the operators rely on."""

import pytest

from renkei.settings import REPO_ROOT


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO_ROOT / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "allocate_intermediary_server_costs" in dagbag.dags


def test_every_dag_is_documented_and_explicit(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.start_date.tzinfo is not None, dag_id
        # Airflow stores start_date in UTC; the DAG's own timezone must be Tokyo.
        assert dag.timezone.name == "Asia/Tokyo", dag_id
        assert dag.start_date.in_timezone("Asia/Tokyo").hour == 0, dag_id
        assert dag.tags, dag_id
        assert dag.doc_md and "When it fails" in dag.doc_md, dag_id
        assert dag.owner and dag.owner != "airflow", dag_id


def test_catchup_is_set_on_the_dag_not_default_args():
    # `catchup` inside default_args is ignored by Airflow 3; it must be a DAG argument.
    for path in (REPO_ROOT / "dags").glob("*.py"):
        text = path.read_text("utf-8")
        if "@dag(" in text:
            assert "catchup=" in text.split("default_args")[0], path.name


def test_allocation_dag_covers_exactly_the_previous_month(dagbag):
    import pendulum

    dag = dagbag.dags["allocate_intermediary_server_costs"]
    assert dag.catchup is False
    run_after = pendulum.datetime(2017, 8, 1, tz="Asia/Tokyo")
    from airflow.serialization.encoders import coerce_to_core_timetable

    timetable = coerce_to_core_timetable(dag.timetable)  # what the scheduler evaluates
    interval = timetable.infer_manual_data_interval(run_after=run_after)
    assert interval.start == pendulum.datetime(2017, 7, 1, tz="Asia/Tokyo")
    assert interval.end == pendulum.datetime(2017, 8, 1, tz="Asia/Tokyo")


def test_warehouse_writers_share_the_single_slot_pool(dagbag):
    dag = dagbag.dags["allocate_intermediary_server_costs"]
    from renkei.warehouse import POOL

    writers = {t.task_id for t in dag.tasks if t.pool == POOL}
    assert writers == {"load_extract", "build_models"}


def test_tier_dag_is_started_by_data_not_by_a_clock(dagbag):
    from renkei import assets

    dag = dagbag.dags["determine_benefit_tiers"]
    # Asset-triggered: the scheduler starts it when any of these assets is updated.
    uris = {a.uri for a in dag.timetable.asset_condition.objects}
    expected = {assets.ELIGIBILITY.uri, assets.TAX_INFORMATION.uri,
                assets.INCOME_THRESHOLD_APPLICATIONS.uri}
    assert expected <= uris
    producers = {t.task_id: {o.uri for o in t.outlets}
                 for d in dagbag.dags.values() for t in d.tasks if t.outlets}
    for uri in expected:
        assert any(uri in outs for outs in producers.values()), uri


def test_intake_dag_runs_daily_in_tokyo_and_shares_the_writer_pool(dagbag):
    from renkei.warehouse import POOL

    dag = dagbag.dags["receive_tax_information"]
    assert dag.catchup is False
    assert dag.timetable.expression == "0 7 * * *"
    assert str(dag.timetable.timezone) == "Asia/Tokyo"
    writers = {t.task_id for t in dag.tasks if t.pool == POOL}
    assert writers == {"intake_tax_information", "intake_income_threshold_applications"}
    assert dagbag.dags["determine_benefit_tiers"].get_task("build_tier_models").pool == POOL


def test_allocation_runs_on_the_6th_business_day_after_the_year_end_closure(dagbag):
    import pendulum
    from airflow.timetables.base import DataInterval, TimeRestriction

    from renkei.timetables import NthBusinessDayTimetable

    dag = dagbag.dags["allocate_intermediary_server_costs"]
    assert isinstance(dag.timetable, NthBusinessDayTimetable)
    tz = "Asia/Tokyo"
    november = DataInterval(pendulum.datetime(2026, 11, 1, tz=tz), pendulum.datetime(2026, 12, 1, tz=tz))
    info = dag.timetable.next_dagrun_info(
        last_automated_data_interval=november,
        restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True))
    # December 2026 is processed in January 2027: 1-3 Jan closed, then Mon 4 .. Fri 8 are
    # business days 1-5, Mon 11 is 成人の日, so the 6th business day is Tue 12 January.
    assert info.data_interval.start == pendulum.datetime(2026, 12, 1, tz=tz)
    assert info.data_interval.end == pendulum.datetime(2027, 1, 1, tz=tz)
    assert info.run_after == pendulum.datetime(2027, 1, 12, 9, tz=tz)
