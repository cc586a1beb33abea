"""The renkei Airflow plugin: registers the business-day timetable with the scheduler.

Airflow serializes a DAG's timetable by class path and, for a class outside Airflow, only
deserializes it if a plugin lists that class; without this file a DAG scheduled with
``NthBusinessDayTimetable`` would fail to load in the scheduler and the UI.

The plugins manager imports every ``.py`` file under ``plugins/`` as a top-level module named
after the file. ``plugins/.airflowignore`` therefore keeps it out of ``plugins/renkei/``: the
library is imported as the ``renkei`` package instead (``renkei/calendar.py`` loaded as a module
called ``calendar`` would replace the standard library's in ``sys.modules``).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from renkei.timetables import NthBusinessDayTimetable


class RenkeiPlugin(AirflowPlugin):
    name = "renkei"
    timetables = [NthBusinessDayTimetable]
