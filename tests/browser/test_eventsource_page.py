"""docs/examples/eventsource.html in Chromium, against a server with --token: the cookie of
POST /session lets EventSource in, a restart is resumed with Last-Event-ID (an other-run gap, no
duplicates), and the same page without the cookie gets nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from urllib.parse import urlencode

import pytest

from tests.browser.chromium import Chromium
from tests.browser.web_monitor import wait_served
from tests.servers import ROOT, ServerProcess, free_port

Factory = Callable[..., ServerProcess]
TOKEN = "browser-token-77d1"


@pytest.fixture
def page_origin() -> Iterator[str]:
    """docs/examples served by `python -m http.server`, as docs/server.md says, on its own port."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", str(ROOT / "docs" / "examples")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    origin = f"http://127.0.0.1:{port}"
    try:
        wait_served(proc, f"{origin}/eventsource.html")
        yield origin
    finally:
        proc.kill()
        proc.wait(5)


def test_eventsource_page_with_the_cookie_resumes_after_a_restart(
        chromium: Chromium, server_factory: Factory, page_origin: str) -> None:
    server = server_factory("--no-simulators", "--ticker", "5", "--heartbeat", "0.3",
                            "--retry-ms", "300", "--token", TOKEN, "--cors-origin", page_origin)
    query = urlencode({"server": server.url, "topic": "ticker", "events": "tick"})
    page = chromium.new_page(f"{page_origin}/eventsource.html?{query}")
    page.evaluate(f"document.forms[0].elements.token.value = {json.dumps(TOKEN)}; connect()")
    page.wait_for("seen.ids.length >= 5 && seen.heartbeats >= 1")
    assert page.evaluate("document.forms[0].elements.token.value") == ""  # no copy kept
    cookies = page.call("Network.getCookies", urls=[server.url])["cookies"]
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [
        ("sse_token", True, "Strict")]
    assert page.evaluate("document.cookie") == ""  # scripts cannot read it

    before = page.evaluate("seen.ids.length")
    last_before_restart = page.evaluate("seen.ids[seen.ids.length - 1]")
    server.restart()  # same port; the memory backend starts a new run
    page.wait_for(f"seen.opens >= 2 && seen.gaps.length >= 1 && seen.ids.length > {before} + 3",
                  timeout=60)
    gaps = page.evaluate("seen.gaps")
    assert gaps[0]["reason"] == "other-run"
    seen = page.evaluate("seen")
    # EventSource resumed from the last id it had seen (Last-Event-ID), none before it
    ids = seen["ids"]
    assert ids.index(gaps[0]["requested"]) >= ids.index(last_before_restart)
    assert seen["duplicates"] == 0 and len(set(seen["ids"])) == len(seen["ids"])
    assert page.evaluate("document.getElementById('gaps').textContent") == str(len(gaps))


def test_eventsource_page_without_the_cookie_gets_nothing(
        chromium: Chromium, server_factory: Factory, page_origin: str) -> None:
    server = server_factory("--no-simulators", "--ticker", "5", "--token", TOKEN,
                            "--cors-origin", page_origin)
    query = urlencode({"server": server.url, "topic": "ticker", "events": "tick"})
    page = chromium.new_page(f"{page_origin}/eventsource.html?{query}", isolated=True)
    page.evaluate("connect()")
    page.wait_for("seen.state === 'refused'")  # a 401 closes an EventSource for good
    assert page.evaluate("[seen.ids.length, seen.heartbeats, seen.opens]") == [0, 0, 0]

    # a wrong token is refused by POST /session, and nothing is subscribed either
    page.evaluate("document.forms[0].elements.token.value = 'wrong'; connect()")
    page.wait_for("seen.state.includes('401')")
    assert page.evaluate("seen.ids.length") == 0
