"""renkei_sandbox: a stand-in for the insurer's own eligibility system.

It is *not* part of the production package ``renkei``: it produces the monthly eligibility
extracts that the platform ingests, from a deterministic simulated membership, and knows
the true answers (member counts per 保険者番号 and month) for tests.

    PYTHONPATH=plugins:sandbox python -m renkei_sandbox generate --members 20000 --out DIR

Everything in it is synthetic: names from Faker, real postal codes with made-up house
numbers, My Numbers with valid check digits that belong to nobody.
"""

from renkei_sandbox.extract import write_month_extract
from renkei_sandbox.generator import generate
from renkei_sandbox.population import Population, simulate

__all__ = ["Population", "generate", "simulate", "write_month_extract"]
