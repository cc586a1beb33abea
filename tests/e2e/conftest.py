import datetime as dt

import pytest

from renkei.settings import paths


@pytest.fixture(scope="session")
def airflow_db():
    from renkei import runs

    runs.init_airflow()
    return runs


@pytest.fixture
def sandbox(workspace):
    """A small sandbox insurer whose extracts land in this test's inbox."""
    from renkei_sandbox import Population, write_month_extract

    class Sandbox:
        def __init__(self):
            self.population = Population(members=1_500, seed=11, start="2017-07")
            self.inbox = paths().inbox("eligibility_extract")

        def deliver(self, month: dt.date):
            self.population.simulate_month()
            return write_month_extract(self.population, month, self.inbox)

    return Sandbox()
