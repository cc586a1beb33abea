"""renkei_sandbox: a stand-in for the insurer's own eligibility system.

It is *not* part of the production package ``renkei``: it produces the monthly eligibility
extracts that the platform ingests, from a deterministic simulated membership, and knows
the true answers (member counts per 保険者番号 and month) for tests. Until the tax linkage
exists it also plays the municipalities (``TAX_FY<YYYY>.csv``) and the members who apply for
基準収入額 (``KIJUN_<YYYYMM>.csv``), and knows each member's expected tier
(:meth:`Population.expected_tiers`).

    PYTHONPATH=plugins:sandbox python -m renkei_sandbox generate --members 20000 --out DIR \\
        [--tax-dir DIR] [--applications-dir DIR]

Everything in it is synthetic: names from Faker, real postal codes with made-up house
numbers, My Numbers with valid check digits that belong to nobody, incomes drawn from hashes.
"""

from renkei_sandbox.applications import write_income_threshold_applications
from renkei_sandbox.extract import write_month_extract
from renkei_sandbox.generator import generate
from renkei_sandbox.population import Population, simulate
from renkei_sandbox.tax import TaxFacts, write_tax_information
from renkei_sandbox.tiers import ExpectedTier, ExpectedTiers

__all__ = [
    "ExpectedTier",
    "ExpectedTiers",
    "Population",
    "TaxFacts",
    "generate",
    "simulate",
    "write_income_threshold_applications",
    "write_month_extract",
    "write_tax_information",
]
