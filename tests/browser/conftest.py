"""A headless Chromium per test; skipped where it is missing, except in CI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.chromium import CHROMIUM, Chromium


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Chromium]:
    if CHROMIUM is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("chromium is not installed, and CI must not skip the browser tests "
                        "(make test installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with Chromium(tmp_path / "chromium-profile") as browser:
        yield browser
