"""The registration and tax-linkage DAGs: business-day schedules after the cost allocation,
back-off on every task that talks to the intermediary server, the warehouse pool for the
one that writes, and the Asset that starts the tier engine."""

import datetime as dt

import pytest

from renkei.settings import REPO_ROOT


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    return {d: bag.dags[d] for d in ("register_members", "link_tax_information")}


def test_schedules_follow_the_allocation_on_business_days(dags):
    import pendulum
    from airflow.serialization.encoders import coerce_to_core_timetable

    from renkei.timetables import NthBusinessDayTimetable

    assert dags["register_members"].timetable == NthBusinessDayTimetable(7, hour=9)
    assert dags["link_tax_information"].timetable == NthBusinessDayTimetable(8, hour=9)
    for dag in dags.values():
        assert dag.catchup is False and dag.max_active_runs == 1
        timetable = coerce_to_core_timetable(dag.timetable)
        interval = timetable.infer_manual_data_interval(
            run_after=pendulum.datetime(2017, 7, 11, 9, tz="Asia/Tokyo"))
        assert interval.start == pendulum.datetime(2017, 6, 1, tz="Asia/Tokyo")


def test_exchange_tasks_retry_with_exponential_back_off(dags):
    talking = {"register_members": {"send_registrations", "wait_for_results"},
               "link_tax_information": {"send_inquiries", "wait_for_answers"}}
    for dag_id, task_ids in talking.items():
        for task_id in task_ids:
            t = dags[dag_id].get_task(task_id)
            assert t.retries == 6 and t.retry_exponential_backoff == 2.0, task_id
            assert t.retry_delay == dt.timedelta(minutes=10) and t.max_retry_delay == dt.timedelta(hours=6)
            assert t.on_failure_callback, task_id


def test_only_the_loader_writes_the_warehouse_and_it_starts_the_tier_engine(dags):
    from renkei import assets
    from renkei.warehouse import POOL

    writers = {t.task_id for d in dags.values() for t in d.tasks if t.pool == POOL}
    assert writers == {"load_answers"}
    loader = dags["link_tax_information"].get_task("load_answers")
    assert [o.uri for o in loader.outlets] == [assets.TAX_INFORMATION.uri]


def test_operator_exceptions_pass_their_message(dags):
    from renkei.alerts import OPERATOR_EXCEPTIONS, operator_message
    from renkei.linkage_state import not_answering

    assert {"CounterpartNotAnswering", "TransportUnavailable"} <= set(OPERATOR_EXCEPTIONS)
    exc = not_answering("intermediary server (tax inquiries)", ["T2017070101"], "2017-07-01T09:00:00+09:00")
    message = operator_message("link_tax_information", "wait_for_answers", "r1", exc)
    assert "T2017070101" in message and "will NOT be sent again" in message
