"""The log mask: the My Number rule, registered values, the stdlib filter, the structlog
processor and the Airflow logging config that installs them. Numbers are synthetic."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renkei import logging_config, masking
from renkei.identifiers import is_valid_my_number, my_number_with_check_digit
from renkei.masking import MY_NUMBER_LABEL, REGISTERED_LABEL, mask_text

VALID = "123456789018"      # DOMAIN.md's examples
OTHER = "983205673214"
DIGITS = "0123456789０１２３４５６７８９"


@pytest.fixture(autouse=True)
def fresh_registry():
    masking.clear_registered()
    yield
    masking.clear_registered()


def wrong_check_digit(body: str, shift: int) -> str:
    right = my_number_with_check_digit(body)[-1]
    return body + str((int(right) + shift) % 10)


# -- the rule -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    (f"member {VALID} ok", f"member {MY_NUMBER_LABEL} ok"),
    (f"{VALID},{OTHER}", f"{MY_NUMBER_LABEL},{MY_NUMBER_LABEL}"),
    (f"a{VALID}b", f"a{MY_NUMBER_LABEL}b"),                          # letters are no digits
    ("123456789019", "123456789019"),                                # check digit off by one
    ("12345678901", "12345678901"),                                  # 11 digits
    (f"{VALID}0", f"{VALID}0"),                                      # 13 digits
    (f"9{VALID}", f"9{VALID}"),                                      # 13 digits, other side
    ("１２３４５６７８９０１８", MY_NUMBER_LABEL),                     # full width
    (f"1{'１２３４５６７８９０１８'}", f"1{'１２３４５６７８９０１８'}"),  # mixed widths are one run
    ("1234 5678 9018", MY_NUMBER_LABEL),                             # as printed on the card
    ("1234-5678-9018", MY_NUMBER_LABEL),
    ("1234 5678 9019", "1234 5678 9019"),
    ("2017-08-01 12:00:00 3 rows", "2017-08-01 12:00:00 3 rows"),
    ("", ""),
])
def test_rule_examples(text, expected):
    assert mask_text(text) == expected


@given(st.integers(0, 10**11 - 1), st.text(), st.text())
def test_any_valid_number_standing_alone_is_masked(body, prefix, suffix):
    number = my_number_with_check_digit(f"{body:011d}")
    prefix, suffix = prefix.rstrip(DIGITS), suffix.lstrip(DIGITS)
    masked = mask_text(prefix + number + suffix)
    assert masked == mask_text(prefix) + MY_NUMBER_LABEL + mask_text(suffix)


no_digits = st.text(st.characters(blacklist_categories=("Nd",)), max_size=30)


@given(no_digits, no_digits, st.sampled_from([11, 13, 14, 20]), st.randoms())
def test_runs_of_other_lengths_are_left_alone(prefix, suffix, length, rnd):
    run = "".join(rnd.choice("0123456789") for _ in range(length))
    text = prefix + run + suffix
    assert mask_text(text) == text


@given(no_digits, no_digits, st.integers(0, 10**11 - 1), st.integers(1, 9))
def test_invalid_check_digits_are_left_alone(prefix, suffix, body, shift):
    number = wrong_check_digit(f"{body:011d}", shift)
    assert not is_valid_my_number(number)
    text = prefix + number + suffix
    assert mask_text(text) == text


def test_registered_values_are_masked_even_inside_longer_runs():
    assert mask_text(f"ref 77{OTHER}77") == f"ref 77{OTHER}77"
    masking.register(OTHER)
    assert mask_text(f"ref 77{OTHER}77") == f"ref 77{REGISTERED_LABEL}77"
    assert mask_text(f"ref {OTHER}") == f"ref {REGISTERED_LABEL}"
    masking.register("山田花子")  # too short a string would mask ordinary words
    masking.register("synthetic-secret-value")
    assert mask_text("a synthetic-secret-value b") == f"a {REGISTERED_LABEL} b"


def test_many_registered_numbers_stay_findable():
    numbers = [my_number_with_check_digit(f"{i * 7919:011d}") for i in range(120_000)]
    for n in numbers:
        masking.register(n)
    assert masking.registered_count() == len(numbers)
    for n in (numbers[0], numbers[60_000], numbers[-1]):
        assert mask_text(f"9{n}9") == f"9{REGISTERED_LABEL}9"
    unregistered = my_number_with_check_digit(f"{120_001 * 7919:011d}")
    assert mask_text(f"9{unregistered}9") == f"9{unregistered}9"


# -- values -------------------------------------------------------------------------------

def test_mask_value_walks_structures_and_keeps_other_types():
    class Row:
        def __repr__(self):
            return f"Row(my_number={OTHER!r})"

    value = {"n": OTHER, OTHER: 1, "list": [int(VALID), (OTHER,)], "count": 3, "ok": True,
             "row": Row(), "b": OTHER.encode()}
    masked = masking.mask_value(value)
    assert masked["n"] == MY_NUMBER_LABEL and masked[MY_NUMBER_LABEL] == 1
    assert masked["list"] == [MY_NUMBER_LABEL, (MY_NUMBER_LABEL,)]
    assert masked["count"] == 3 and masked["ok"] is True
    assert masked["row"] == f"Row(my_number='{MY_NUMBER_LABEL}')"
    assert masked["b"] == f"b'{MY_NUMBER_LABEL}'"
    assert OTHER not in repr(masked) and VALID not in repr(masked)


# -- stdlib logging -----------------------------------------------------------------------

def make_record(msg, *args, exc_info=None):
    return logging.LogRecord("renkei.test", logging.ERROR, __file__, 1, msg, args, exc_info)


def test_filter_formats_then_masks_the_message():
    record = make_record("member %s has %d rows", OTHER, 3)
    assert masking.MyNumberFilter().filter(record) is True
    assert record.msg == f"member {MY_NUMBER_LABEL} has 3 rows" and record.args == ()
    assert record.getMessage() == f"member {MY_NUMBER_LABEL} has 3 rows"


def test_filter_masks_exception_text_and_arguments():
    try:
        raise KeyError(f"no row for {OTHER}")
    except KeyError:
        record = make_record("lookup failed", exc_info=sys.exc_info())
    masking.MyNumberFilter().filter(record)
    assert OTHER not in record.exc_text and MY_NUMBER_LABEL in record.exc_text
    assert "KeyError" in record.exc_text
    assert OTHER not in logging.Formatter().format(record)
    assert OTHER not in str(record.exc_info[1])


def test_filter_masks_extra_values_and_bad_arguments():
    record = make_record("two %s %s", OTHER)  # one argument short
    masking.MyNumberFilter().filter(record)
    assert OTHER not in record.msg and "could not be formatted" in record.msg
    record = make_record("with extra")
    record.member = OTHER
    masking.MyNumberFilter().filter(record)
    assert record.member == MY_NUMBER_LABEL


def test_installed_mask_reaches_every_handler_including_caplog(caplog):
    masking.install()
    log = logging.getLogger("renkei.test_masking")
    with caplog.at_level(logging.INFO):
        log.info("collected %s from J-LIS", OTHER)
        try:
            raise ValueError(f"J-LIS returned {OTHER} twice")
        except ValueError:
            log.exception("collection failed")
    assert OTHER not in caplog.text
    assert f"collected {MY_NUMBER_LABEL} from J-LIS" in caplog.text
    assert f"ValueError: J-LIS returned {MY_NUMBER_LABEL} twice" in caplog.text


def test_install_is_idempotent_and_uninstall_restores():
    was = masking.is_installed()
    original = logging.getLogRecordFactory()
    try:
        masking.uninstall()
        plain = logging.getLogRecordFactory()
        masking.install()
        masking.install()
        assert masking.is_installed()
        assert logging.makeLogRecord({"msg": OTHER}).msg == OTHER  # makeLogRecord bypasses factories
        rec = logging.getLogRecordFactory()("n", logging.INFO, __file__, 1, "%s", (OTHER,), None)
        assert rec.getMessage() == MY_NUMBER_LABEL
        masking.uninstall()
        assert logging.getLogRecordFactory() is plain
        rec = logging.getLogRecordFactory()("n", logging.INFO, __file__, 1, "%s", (OTHER,), None)
        assert rec.getMessage() == OTHER
    finally:
        if was:
            masking.install()
        else:
            logging.setLogRecordFactory(original)


# -- structlog ----------------------------------------------------------------------------

def test_structlog_processor_masks_event_keys_values_and_exceptions():
    try:
        raise RuntimeError(f"intermediary server refused {OTHER}")
    except RuntimeError:
        event = masking.structlog_processor(None, "error", {
            "event": f"sent {VALID}", "count": int(OTHER), "rows": [{"n": OTHER}], "exc_info": True,
            "_record": "kept as is"})
    assert "exc_info" not in event
    assert event["event"] == f"sent {MY_NUMBER_LABEL}"
    assert event["count"] == MY_NUMBER_LABEL and event["rows"] == [{"n": MY_NUMBER_LABEL}]
    assert "RuntimeError: intermediary server refused " + MY_NUMBER_LABEL in event["exception"]
    assert "Traceback" in event["exception"]
    assert event["_record"] == "kept as is"


def test_structlog_processor_masks_a_rendered_json_traceback():
    # What the task process sends to the supervisor: the traceback already as dicts.
    event = {"event": "Task failed with exception", "error_detail": [
        {"exc_type": "ValueError", "exc_value": f"bad {OTHER}", "frames": [{"lineno": 3}]}]}
    masked = masking.structlog_processor(None, "error", event)
    assert masked["error_detail"][0]["exc_value"] == f"bad {MY_NUMBER_LABEL}"
    assert masked["error_detail"][0]["frames"] == [{"lineno": 3}]


def test_structlog_logger_with_the_processor_writes_no_number():
    import io

    import structlog

    out = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(out),
        processors=[masking.structlog_processor, structlog.processors.JSONRenderer()])
    logger.info("collected", my_number=OTHER, nested={"n": int(VALID)})
    assert OTHER not in out.getvalue() and VALID not in out.getvalue()
    assert json.loads(out.getvalue()) == {
        "event": "collected", "my_number": MY_NUMBER_LABEL, "nested": {"n": MY_NUMBER_LABEL}}


# -- Airflow logging config ---------------------------------------------------------------

def test_logging_config_puts_the_filter_on_every_handler_and_logger():
    config = logging_config.build_logging_config()
    assert config["filters"][logging_config.FILTER_NAME]["()"] == "renkei.masking.airflow_filter"
    sections = [*config["handlers"].values(), *config["loggers"].values(), config["root"]]
    assert sections and all(logging_config.FILTER_NAME in s["filters"] for s in sections)
    # Airflow's own secrets masker stays where it was.
    assert "mask_secrets_core" in config["handlers"]["task"]["filters"]
    assert isinstance(masking.airflow_filter(), masking.MyNumberFilter)


def test_remote_task_log_adds_the_mask_and_falls_back_to_local_logs():
    task_log = logging_config.MaskingTaskLog(inner=None)
    assert task_log.processors == (masking.structlog_processor,)
    with pytest.raises(NotImplementedError):
        task_log.read("dag_id=x/attempt=1.log", None)
    task_log.upload("dag_id=x/attempt=1.log", None)   # nothing to upload to: no error
    assert getattr(task_log, "stream", None) is None  # Airflow then uses .read, then the local file


def test_remote_task_log_delegates_to_a_configured_remote_logger():
    calls = []

    def shipper(logger, name, event):
        return event

    class Remote:
        processors = (shipper,)

        def upload(self, path, ti):
            calls.append(("upload", path))

        def read(self, path, ti):
            return ["remote"], ["line"]

        def stream(self, path, ti):
            return ["remote"], []

    task_log = logging_config.MaskingTaskLog(inner=Remote())
    assert task_log.processors == (masking.structlog_processor, shipper)  # the mask first
    task_log.upload("p.log", None)
    assert calls == [("upload", "p.log")]
    assert task_log.read("p.log", None) == (["remote"], ["line"])
    assert task_log.stream("p.log", None) == (["remote"], [])


def test_airflow_reads_our_remote_task_log_for_task_processes():
    from airflow.sdk.log import load_remote_log_handler

    assert load_remote_log_handler() is logging_config.REMOTE_TASK_LOG
    assert logging_config.REMOTE_TASK_LOG.processors[0] is masking.structlog_processor
