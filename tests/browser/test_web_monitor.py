"""`sse-monitor --web --demo` in Chromium: the page loads, the three demo panes are drawn, `?`
opens help; the page's socket refuses other origins, and nothing is fetched from elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser.chromium import Chromium
from tests.browser.web_monitor import open_monitor
from tests.browser.web_monitor import web_monitor as demo_web_monitor


@pytest.fixture
def web_monitor() -> Iterator[str]:
    with demo_web_monitor("--demo") as url:
        yield url


def test_web_monitor_draws_the_demo_panes_and_opens_help(
        chromium: Chromium, web_monitor: str, tmp_path: Path) -> None:
    page = open_monitor(chromium, web_monitor)
    text = page.wait_for("['progress', 'logs', 'tokens'].every(t => screenText().includes(t))"
                         " && screenText()", timeout=60)
    assert "sse-monitor keys" not in text
    page.wait_for("document.body.classList.contains('-first-byte')")
    before = page.evaluate("received.length")
    page.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
    page.press("?")
    page.wait_for(f"screenText({before}).includes('sse-monitor keys')", timeout=30)

    # every request of the page went to the monitor's own address
    requested = {event["params"]["request"]["url"] for event in chromium.events
                 if event.get("method") == "Network.requestWillBeSent"}
    assert requested and all(u.startswith(web_monitor) for u in requested), requested
    assert page.screenshot(tmp_path / "web.png").stat().st_size > 10_000


def test_web_monitor_socket_refuses_other_origins_and_hosts(web_monitor: str) -> None:
    port = web_monitor.rsplit(":", 1)[1]
    socket_headers = {"Connection": "Upgrade", "Upgrade": "websocket",
                      "Sec-WebSocket-Version": "13",
                      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    other_site = httpx.get(f"{web_monitor}/ws",
                           headers={**socket_headers, "Origin": "https://evil.example"})
    assert other_site.status_code == 403
    no_origin = httpx.get(f"{web_monitor}/ws", headers=socket_headers)
    assert no_origin.status_code == 403
    rebound = httpx.get(web_monitor, headers={"Host": f"evil.example:{port}"})
    assert rebound.status_code == 403  # a name rebound to 127.0.0.1 gets no page
    assert httpx.get(web_monitor, headers={"Host": f"localhost:{port}"}).status_code == 200
    page = httpx.get(web_monitor).text
    assert "googleapis" not in page and "https://" not in page
