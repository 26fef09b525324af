"""The harness itself: a page opens, JavaScript runs, keys arrive, a screenshot is a PNG."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.chromium import CDPError, Chromium

PAGE = ("data:text/html,<body><script>window.keys=[];"
        "addEventListener('keydown',e=>keys.push(e.key))</script>ready</body>")


def test_a_page_runs_javascript_takes_keys_and_a_screenshot(chromium: Chromium,
                                                            tmp_path: Path) -> None:
    page = chromium.new_page(PAGE)
    assert page.evaluate("document.body.innerText") == "ready"
    assert page.evaluate("Promise.resolve(6 * 7)") == 42
    page.press("?")
    page.press("Escape")
    assert page.wait_for("keys.length === 2 && keys") == ["?", "Escape"]
    with pytest.raises(CDPError, match="boom"):
        page.evaluate("(() => { throw new Error('boom') })()")
    with pytest.raises(TimeoutError):
        page.wait_for("false", timeout=0.3)
    shot = page.screenshot(tmp_path / "page.png")
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
