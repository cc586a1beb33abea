"""Fixtures for the browser tests: headless Chromium, and a folder for screenshots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from renkei.settings import REPO_ROOT

from .chromium import Chromium, find_chromium

# Where CI keeps what the tests leave for people to look at (ignored by git).
ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def chromium_binary() -> str:
    binary = find_chromium()
    if binary is None:
        message = "chromium is not installed: apt-get install chromium (.ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI promised to install it: a missing browser is a CI bug
        pytest.skip(message)
    return binary


@pytest.fixture
def browser(chromium_binary, tmp_path):
    with Chromium(tmp_path / "chromium-profile", tmp_path / "chromium.log") as chromium:
        yield chromium


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
