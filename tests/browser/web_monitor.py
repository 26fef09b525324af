"""`sse-monitor --web` in a subprocess, and a page of it whose terminal output can be read."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx

from tests.browser.chromium import Chromium, Page
from tests.servers import ROOT, free_port

# Records what the monitor's socket sends: the terminal's output (text and escape sequences).
CAPTURE_SOCKET = r"""
window.received = "";
const decoder = new TextDecoder();
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", event => {
      if (event.data instanceof ArrayBuffer) {
        window.received += decoder.decode(new Uint8Array(event.data), { stream: true });
      }
    });
  }
};
window.screenText = (from = 0) => window.received.slice(from)
  .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, "")
  .replace(/\x1b\[[0-?]*[ -\/]*[@-~]/g, " ")
  .replace(/\x1b[()=>78][A-Z0-9]?/g, "");
"""


def wait_served(proc: subprocess.Popen[bytes], url: str, timeout: float = 30.0) -> None:
    """Wait until `url` answers 200; RuntimeError with the output if `proc` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"sse-monitor --web exited with {proc.returncode}: {out}")
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} was not served in {timeout}s")


@contextlib.contextmanager
def web_monitor(*args: str) -> Iterator[str]:
    """`sse-monitor --web ARGS` on a free loopback port: its URL while it runs."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--web", "--port", str(port), *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_served(proc, url)
        yield url
    finally:
        os.killpg(proc.pid, 9)  # the server, the tabs' monitors and their demo servers
        proc.wait(5)


def open_monitor(chromium: Chromium, url: str) -> Page:
    page = chromium.new_page()
    page.set_viewport(1400, 800)
    page.call("Page.addScriptToEvaluateOnNewDocument", source=CAPTURE_SOCKET)
    page.call("Network.enable")
    page.goto(url)
    return page
