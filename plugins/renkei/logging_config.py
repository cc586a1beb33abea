"""Airflow's logging configuration with the My Number mask (``renkei.masking``) installed.

Point ``[logging] logging_config_class`` at ``renkei.logging_config.LOGGING_CONFIG`` (the
embedded installation does, in ``renkei.airflow_home.airflow_env``). Two things happen:

- ``LOGGING_CONFIG`` is Airflow's default dict config with the mask filter on every handler
  and logger. Airflow applies it in its own processes (scheduler, API server, DAG processor,
  CLI, ``dag.test()``); creating the filter also puts the mask into structlog's chain there.
- ``REMOTE_TASK_LOG`` carries the mask into task logs. Airflow 3.3 writes a task's log in the
  supervisor process from JSON events the task process sends, and neither process uses stdlib
  handlers for that; the only structlog processors they add are those of the
  ``REMOTE_TASK_LOG`` object found next to the logging config (the ``RemoteLogIO``
  protocol's ``processors``), in both the task process and the supervisor. Our object adds
  the mask first and hands everything else (upload, read, stream) to the remote logger
  Airflow would otherwise use, so remote logging keeps working when it is configured.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import logging
from typing import Any

from renkei.masking import structlog_processor

log = logging.getLogger(__name__)

FILTER_NAME = "mask_my_numbers"


def _airflow_settings() -> Any:
    """Airflow's default logging settings module, or None on a Task-SDK-only worker (which has
    no airflow-core; the task-log mask must load there all the same)."""
    if importlib.util.find_spec("airflow.config_templates") is None:
        return None
    return importlib.import_module("airflow.config_templates.airflow_local_settings")


def build_logging_config() -> dict[str, Any]:
    """A fresh copy of Airflow's default dict config with the mask filter everywhere.

    A fresh copy each time: ``dictConfig`` pops keys out of the dicts it is given.
    """
    settings = _airflow_settings()
    config: dict[str, Any] = (
        copy.deepcopy(settings.DEFAULT_LOGGING_CONFIG) if settings is not None
        else {"version": 1, "disable_existing_loggers": False, "handlers": {}, "loggers": {}, "root": {}}
    )
    config.setdefault("filters", {})[FILTER_NAME] = {"()": "renkei.masking.airflow_filter"}
    sections = [*config.get("handlers", {}).values(), *config.get("loggers", {}).values()]
    if "root" in config:
        sections.append(config["root"])
    for section in sections:
        filters = section.setdefault("filters", [])
        if FILTER_NAME not in filters:
            filters.append(FILTER_NAME)
    return config


def __getattr__(name: str) -> Any:
    # Built on first use, not at import: ``import airflow`` reads ``LOGGING_CONFIG`` from this
    # module while initialising, so importing Airflow here at the top would be circular when
    # this module is the first to import it.
    if name == "LOGGING_CONFIG":
        value: Any = build_logging_config()
    elif name == "REMOTE_TASK_LOG":
        value = MaskingTaskLog()
    elif name == "DEFAULT_REMOTE_CONN_ID":
        value = getattr(_airflow_settings(), "DEFAULT_REMOTE_CONN_ID", None)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


_UNRESOLVED = object()


class MaskingTaskLog:
    """``REMOTE_TASK_LOG`` for Airflow: the mask as a task-log processor, then the real remote
    logger (if any) for everything else."""

    def __init__(self, inner: Any = _UNRESOLVED):
        self._inner = inner

    def _remote(self) -> Any:
        if self._inner is _UNRESOLVED:
            self._inner = _airflow_remote_task_log()
        return self._inner

    @property
    def processors(self) -> tuple[Any, ...]:
        # The mask goes first: a remote logger that ships events as they happen must only
        # ever see masked ones.
        inner = tuple(getattr(self._remote(), "processors", ()) or ())
        return (structlog_processor, *inner)

    def upload(self, path: Any, ti: Any = None) -> None:
        if (remote := self._remote()) is not None:
            remote.upload(path, ti)

    def read(self, relative_path: str, ti: Any) -> Any:
        if (remote := self._remote()) is None:
            # Airflow's file task handler takes this as "no remote logs" and reads the local file.
            raise NotImplementedError("no remote task log configured")
        return remote.read(relative_path, ti)

    def __getattr__(self, name: str) -> Any:
        # ``stream`` and provider-specific attributes: present only when the remote logger has them.
        if name.startswith("_"):
            raise AttributeError(name)
        remote = self._remote()
        if remote is None:
            raise AttributeError(name)
        return getattr(remote, name)


def _airflow_remote_task_log() -> Any:
    """The remote task logger Airflow would use without our logging config, or None.

    Airflow takes a custom module's ``REMOTE_TASK_LOG`` instead of its own resolution, so we
    resolve it as Airflow would: the default settings module's object (legacy schemes), else
    the provider registered for the scheme of ``remote_base_log_folder``.
    """
    try:
        if (legacy := getattr(_airflow_settings(), "REMOTE_TASK_LOG", None)) is not None:
            return legacy
        from airflow.sdk.configuration import conf

        if not conf.getboolean("logging", "remote_logging", fallback=False):
            return None
        from airflow.sdk._shared.logging.factory import _build_remote_task_log_from_provider
        from airflow.sdk._shared.module_loading import import_string
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        return _build_remote_task_log_from_provider(
            remote_base_log_folder=conf.get("logging", "remote_base_log_folder", fallback=None),
            providers_manager=ProvidersManagerTaskRuntime(),
            import_string=import_string,
        )
    except Exception:  # noqa: BLE001 - the mask must load even if remote logging is broken
        log.exception("Remote task logging is configured but could not be loaded; task logs stay local")
        return None

