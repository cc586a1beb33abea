"""The log mask for My Numbers (issue 6).

A 個人番号 must never reach a log line, whatever path the line takes. Two rules rewrite text:

- any run of exactly 12 digits (ASCII or full-width; also written 4-4-4 with spaces or
  hyphens, as the card prints it) whose check digit is valid becomes ``[個人番号]``. A run that
  is part of a longer digit run is left alone: 13-digit 法人番号 or 20-digit file hashes are
  not My Numbers, and one in eleven of their 12-digit windows would pass the check;
- any value the vault handed out in this process becomes ``[masked]``, wherever it stands,
  also inside a longer digit run.

The rules are applied by three installers, because Airflow 3 logs along three paths:

- ``MyNumberFilter`` (stdlib ``logging``): ``install()`` applies it as each record is created
  (a log-record factory), so every handler sees the masked record, including handlers that
  Airflow or pytest add later. Filters on loggers would miss records of child loggers, and
  filters on handlers miss the handlers configured after us.
- ``structlog_processor``: Airflow's own loggers and the task runner use structlog. Task logs
  are written by the supervisor process from JSON events sent by the task process; Airflow
  3.3 ignores stdlib handlers there and takes extra processors only from the
  ``REMOTE_TASK_LOG`` object of ``[logging] logging_config_class`` (``renkei.logging_config``
  provides it). For the processes that use the logging config class directly (scheduler,
  API server, ``dag.test()``), ``install()`` adds the processor to structlog's chain too.
- ``renkei.logging_config.LOGGING_CONFIG``: Airflow's default config with the filter on every
  handler; applying it calls ``install()``.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from typing import Any

from renkei.identifiers import is_valid_my_number

MY_NUMBER_LABEL = "[個人番号]"
REGISTERED_LABEL = "[masked]"

_D = "0-9０-９"  # full-width digits too: CP932 files and people both write them
_FULL_WIDTH = str.maketrans("０１２３４５６７８９", "0123456789")
# Cheap pre-check: a line without four digits in a row cannot hold a number.
_ANY_FOUR = re.compile(f"[{_D}]{{4}}")
_LONG_RUN = re.compile(f"[{_D}]{{12,}}")
_CANDIDATE = re.compile(rf"(?<![{_D}])(?:[{_D}]{{12}}|[{_D}]{{4}}[ -][{_D}]{{4}}[ -][{_D}]{{4}})(?![{_D}])")
_OTHER_MIN_LENGTH = 6  # shorter registered strings would mask ordinary words and dates


class _Registry:
    """Values handed out by the vault in this process.

    A bulk reader may take millions of numbers; in a Python set each costs about 70 bytes, so
    numbers are packed into a sorted numpy array of 8-byte integers. New ones wait in a small
    set that is merged in when it reaches an eighth of the array, so merging stays linear
    overall however many numbers arrive.
    """

    _MIN_MERGE = 50_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._packed: Any = None          # numpy.ndarray[uint64], sorted; imported on first use
        self._recent: set[int] = set()
        self._other: set[str] = set()
        self.other_pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        digits = value.translate(_FULL_WIDTH)
        with self._lock:
            if len(digits) == 12 and digits.isascii() and digits.isdigit():
                self._recent.add(int(digits))
                packed = 0 if self._packed is None else len(self._packed)
                if len(self._recent) >= max(self._MIN_MERGE, packed // 8):
                    self._merge()
            elif len(value) >= _OTHER_MIN_LENGTH and value not in self._other:
                self._other.add(value)
                self.other_pattern = re.compile(
                    "|".join(re.escape(v) for v in sorted(self._other, key=len, reverse=True)))

    def _merge(self) -> None:
        import numpy as np

        recent = np.fromiter(self._recent, dtype=np.uint64, count=len(self._recent))
        base = np.empty(0, dtype=np.uint64) if self._packed is None else self._packed
        self._packed = np.union1d(base, recent)  # sorted and unique
        self._recent = set()

    def __contains__(self, number: int) -> bool:
        if number in self._recent:
            return True
        packed = self._packed
        if packed is None or not len(packed):
            return False
        i = int(packed.searchsorted(number))
        return i < len(packed) and int(packed[i]) == number

    def __len__(self) -> int:
        packed = 0 if self._packed is None else len(self._packed)
        return packed + len(self._recent) + len(self._other)

    def __bool__(self) -> bool:
        return len(self) > 0

    def clear(self) -> None:
        with self._lock:
            self._packed, self._recent, self._other = None, set(), set()
            self.other_pattern = None


_registry = _Registry()


def register(value: str) -> None:
    """Mask ``value`` in every log line of this process from now on (the vault calls this)."""
    if isinstance(value, str) and value:
        _registry.add(value)


def registered_count() -> int:
    return len(_registry)


def clear_registered() -> None:
    """Forget every registered value (tests only: in a process, registration is for life)."""
    _registry.clear()


def _mask_registered_in_run(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = run.translate(_FULL_WIDTH)
    hidden = [False] * len(run)
    for start in range(len(run) - 11):
        if int(digits[start:start + 12]) in _registry:
            hidden[start:start + 12] = [True] * 12
    if not any(hidden):
        return run
    out, i = [], 0
    while i < len(run):
        if hidden[i]:
            while i < len(run) and hidden[i]:
                i += 1
            out.append(REGISTERED_LABEL)
        else:
            out.append(run[i])
            i += 1
    return "".join(out)


def _mask_candidate(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0)).translate(_FULL_WIDTH)
    return MY_NUMBER_LABEL if is_valid_my_number(digits) else match.group(0)


def mask_text(text: str) -> str:
    """``text`` with every My Number and every registered value replaced by a label."""
    if not text or not isinstance(text, str):
        return text
    if (other := _registry.other_pattern) is not None:
        text = other.sub(REGISTERED_LABEL, text)
    if not _ANY_FOUR.search(text):
        return text
    if _registry:
        text = _LONG_RUN.sub(_mask_registered_in_run, text)
    return _CANDIDATE.sub(_mask_candidate, text)


# structlog's own bookkeeping, removed before rendering; the LogRecord must stay a LogRecord.
_STRUCTLOG_META = frozenset({"_record", "_from_structlog", "_logger", "_name"})
_PLAIN = (bool, type(None))
_MAX_DEPTH = 12


def mask_value(value: Any, _depth: int = 0) -> Any:
    """Mask strings inside ``value`` (dicts, lists, tuples, sets: keys and values).

    Numbers and other objects are checked as they would be rendered (``repr``); one that would
    show a My Number is replaced by its masked rendering, anything else is returned unchanged
    so that renderers still see the original types.
    """
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, _PLAIN):
        return value
    if _depth > _MAX_DEPTH:
        return mask_text(repr(value))
    if isinstance(value, dict):
        return {mask_value(k, _depth + 1): mask_value(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(v, _depth + 1) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(mask_value(v, _depth + 1) for v in value)
    if isinstance(value, (set, frozenset)):
        return {mask_value(v, _depth + 1) for v in value}
    try:
        shown = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not break logging
        return value
    masked = mask_text(shown)
    return value if masked == shown else masked


def _mask_exception_in_place(exc: BaseException | None, seen: set[int] | None = None) -> None:
    """Mask the arguments of an exception and of its cause/context chain.

    Renderers format tracebacks from the exception object itself (``str(exc)`` reads
    ``args``), so the masked message must live there, as Airflow's secrets masker does.
    """
    seen = seen if seen is not None else set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        try:
            exc.args = tuple(mask_value(a) for a in exc.args)
            if isinstance(exc, OSError):
                for attr in ("filename", "filename2"):
                    if isinstance(getattr(exc, attr, None), str):
                        setattr(exc, attr, mask_text(getattr(exc, attr)))
            if notes := getattr(exc, "__notes__", None):
                exc.__notes__ = [mask_text(n) if isinstance(n, str) else n for n in notes]
        except (AttributeError, TypeError):  # extension types may refuse new attributes
            pass
        if exc.__cause__ is not None and exc.__cause__ is not exc.__context__:
            _mask_exception_in_place(exc.__cause__, seen)
        exc = exc.__context__


class MyNumberFilter(logging.Filter):
    """Rewrites a record's message and exception text with the mask; never drops a record."""

    FLAG = "_renkei_my_number_masked"

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.__dict__.get(self.FLAG):
            self._mask_message(record)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_RECORD_ATTRS:  # ``extra={...}``: set after the record factory ran
                record.__dict__[key] = mask_value(value)
        return True

    def _mask_message(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, dict) and not record.args:
            # structlog's stdlib bridge passes its event dict as the message: keep it a dict.
            record.msg = mask_value(record.msg)
        else:
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - stdlib would print msg and args raw in handleError
                message = f"{record.msg} (log arguments could not be formatted: {record.args!r})"
            record.msg = mask_text(message)
            record.args = ()
        if record.exc_info and record.exc_info[1] is not None:
            _mask_exception_in_place(record.exc_info[1])
            record.exc_text = mask_text("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        record.__dict__[self.FLAG] = True


_STANDARD_RECORD_ATTRS = frozenset(
    logging.LogRecord("x", logging.INFO, __file__, 1, "", (), None).__dict__
) | {"message", "asctime", MyNumberFilter.FLAG}


def _exc_info_tuple(value: Any):
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], BaseException):
        return value
    if value is True:
        import sys

        info = sys.exc_info()
        return info if info[1] is not None else None
    return None


def structlog_processor(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """The same mask for a structlog event dict; goes last before the renderer.

    An exception still carried as ``exc_info`` is rendered to text here, masked, and passed on
    as ``exception`` (the renderers print that key as the traceback), because a renderer that
    formats ``exc_info`` itself would bypass the mask.
    """
    if "exc_info" in event_dict:
        info = _exc_info_tuple(event_dict.pop("exc_info"))
        if info is not None:
            _mask_exception_in_place(info[1])
            event_dict["exception"] = "".join(traceback.format_exception(*info)).rstrip("\n")
    for key in list(event_dict):
        if key in _STRUCTLOG_META:
            continue
        value = event_dict.pop(key)
        event_dict[mask_text(key) if isinstance(key, str) else key] = mask_value(value)
    return event_dict


_filter = MyNumberFilter()
_install_lock = threading.Lock()
_previous_factory: Any = None


def _masking_record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _previous_factory(*args, **kwargs)
    _filter.filter(record)
    return record


def _add_structlog_processor() -> bool:
    """Put ``structlog_processor`` just before the renderer of structlog's configured chain."""
    try:
        import structlog
    except ImportError:
        return False
    if not structlog.is_configured():
        return False
    processors = list(structlog.get_config()["processors"])
    if any(p is structlog_processor for p in processors):
        return True
    processors.insert(max(len(processors) - 1, 0), structlog_processor)
    structlog.configure(processors=processors)
    return True


def install() -> None:
    """Mask every stdlib log record created in this process, and structlog's chain if Airflow
    has configured it. Idempotent; Airflow calls it again through ``LOGGING_CONFIG``."""
    global _previous_factory
    with _install_lock:
        current = logging.getLogRecordFactory()
        if current is not _masking_record_factory:
            _previous_factory = current
            logging.setLogRecordFactory(_masking_record_factory)
    _add_structlog_processor()


def uninstall() -> None:
    """Undo ``install()`` (tests use it to see what code logs before the mask applies)."""
    global _previous_factory
    with _install_lock:
        if logging.getLogRecordFactory() is _masking_record_factory and _previous_factory is not None:
            logging.setLogRecordFactory(_previous_factory)
            _previous_factory = None
    try:
        import structlog
    except ImportError:
        return
    if structlog.is_configured():
        processors = [p for p in structlog.get_config()["processors"] if p is not structlog_processor]
        structlog.configure(processors=processors)


def is_installed() -> bool:
    return logging.getLogRecordFactory() is _masking_record_factory


def airflow_filter() -> MyNumberFilter:
    """Factory named in ``renkei.logging_config.LOGGING_CONFIG``.

    Airflow configures structlog first and applies the dict config right after, so this is
    the moment to add the processor to the chain it has just built.
    """
    install()
    return _filter

