"""The README's picture of `sse-monitor --web --demo` in Chromium: screenshots/web.png.

Run by `make screenshots`; needs chromium (`make chromium`).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from anywhere: the harness lives in tests/

from tests.browser.chromium import Chromium  # noqa: E402
from tests.browser.web_monitor import open_monitor, web_monitor  # noqa: E402

EVENTS_FOR = 8.0  # seconds of demo events before the picture


def main() -> None:
    with tempfile.TemporaryDirectory() as profile, web_monitor("--demo") as url, \
            Chromium(Path(profile)) as chromium:
        page = open_monitor(chromium, url)
        page.wait_for("['progress', 'logs', 'tokens'].every(t => screenText().includes(t))",
                      timeout=60)
        time.sleep(EVENTS_FOR)
        path = page.screenshot(HERE / "web.png")
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
