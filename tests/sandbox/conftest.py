"""Make ``renkei`` (plugins/) and ``renkei_sandbox`` (sandbox/) importable for these tests,
whether or not a top-level conftest already did."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
for _sub in ("plugins", "sandbox"):
    if str(_ROOT / _sub) not in sys.path:
        sys.path.insert(0, str(_ROOT / _sub))
