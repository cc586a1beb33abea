"""Operator messages: readers' and gates' own messages pass through; anything unexpected is
reduced to its type (its text could carry a value from a record)."""

from renkei import alerts
from renkei.intake import FilesRejected


def test_operator_exceptions_keep_their_message():
    msg = alerts.operator_message("d", "t", "r1", FilesRejected("1 file(s) rejected. Ask the sender"))
    assert msg.startswith("renkei: task t of d (run r1) failed.")
    assert "Ask the sender" in msg


def test_unexpected_exceptions_repeat_only_their_type():
    msg = alerts.operator_message("d", "t", "r1", ValueError("山田 太郎 123456789018"))
    assert "ValueError" in msg and "Clear the task" in msg
    assert "山田" not in msg and "123456789018" not in msg


def test_callback_records_the_alert(workspace):
    class TI:
        dag_id, task_id, run_id = "dag", "gate_extract", "manual__x"

    alerts.on_task_failure({"ti": TI(), "exception": KeyError("secret")})
    recorded = alerts.recent()
    assert len(recorded) == 1
    assert recorded[0]["task_id"] == "gate_extract" and "KeyError" in recorded[0]["message"]
    assert "secret" not in recorded[0]["message"]
    assert recorded[0]["at"].endswith("+09:00")
