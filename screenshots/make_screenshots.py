"""Regenerate the README screenshots: `python screenshots/make_screenshots.py` (`make screenshots`).

The views are the snapshot tests' scripted, seeded scenarios (tests/tui/scenarios.py) with a fixed
clock, so the SVGs change only when the app's looks do.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from anywhere: the scenarios live in tests/

from tests.tui.scenarios import VIEWS  # noqa: E402

SHOTS = {  # file name -> view
    "three-topics": "three_topics",
    "reconnecting": "reconnecting",
    "gap": "gap",
    "help": "help",
    "inspector": "inspector",
    "small-terminal": "small",
}


async def shoot(name: str, view_name: str) -> Path:
    view = VIEWS[view_name]
    scenario = view.scenario()
    app = scenario.app()
    async with app.run_test(size=view.size) as pilot:
        await view.show(pilot, scenario)
        svg = app.export_screenshot(title=f"sse-monitor: {name.replace('-', ' ')}")
    path = HERE / f"{name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


async def main() -> None:
    for name, view_name in SHOTS.items():
        print(await shoot(name, view_name))


if __name__ == "__main__":
    asyncio.run(main())
