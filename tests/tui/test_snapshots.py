"""Snapshots of the main views and states, from scripted streams and a fixed clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from tests.tui.scenarios import VIEWS


@pytest.mark.parametrize("name", list(VIEWS))
def test_view(name: str, snap_compare: Callable[..., bool]) -> None:
    view = VIEWS[name]
    scenario = view.scenario()

    async def run_before(pilot: Pilot) -> None:
        await view.show(pilot, scenario)

    assert snap_compare(scenario.app(), terminal_size=view.size, run_before=run_before)
