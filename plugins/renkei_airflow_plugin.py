"""The renkei Airflow plugin: registers the business-day timetable with the scheduler, and
serves the data-quality and dbt documents inside the Airflow UI (``renkei.web``).

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
from renkei.web import create_app


class RenkeiPlugin(AirflowPlugin):
    name = "renkei"
    timetables = [NthBusinessDayTimetable]
    fastapi_apps = [{"app": create_app(), "url_prefix": "/renkei", "name": "renkei documents"}]
    # Entries in the UI's navigation; hrefs are relative to the UI's base URL.
    external_views = [
        {"name": "Data quality (GX data docs)", "href": "renkei/data-docs/index.html",
         "destination": "nav", "category": "browse", "url_route": "renkei-data-docs"},
        {"name": "dbt docs", "href": "renkei/dbt-docs/", "destination": "nav",
         "category": "browse", "url_route": "renkei-dbt-docs"},
    ]
