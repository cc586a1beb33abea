"""Make ``renkei`` (plugins/) and ``renkei_sandbox`` (sandbox/) importable for these tests,
whether or not a top-level conftest already did; share the main job's population."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
for _sub in ("plugins", "sandbox"):
    if str(_ROOT / _sub) not in sys.path:
        sys.path.insert(0, str(_ROOT / _sub))


@pytest.fixture(scope="session")
def default_population():
    """The main job's population (``make demo``): 20,000 members, 2017-07 .. 2018-03."""
    from renkei_sandbox import simulate

    return simulate("2017-07", "2018-03", members=20_000, seed=20170718)
