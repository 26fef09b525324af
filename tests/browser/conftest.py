"""A headless Chromium per test; skipped where it is missing, except in CI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.chromium import CHROMIUM, Chromium
from tests.servers import require


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Chromium]:
    require(CHROMIUM, "chromium", "apt-get install chromium")
    with Chromium(tmp_path / "chromium-profile") as browser:
        yield browser
