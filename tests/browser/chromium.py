"""Debian's headless Chromium, driven over the DevTools protocol (CDP) with `websockets`.

Small on purpose: start the browser, open a page, evaluate JavaScript, wait for a condition,
send keys, take a screenshot. Every wait is bounded.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--remote-debugging-port=0",
)
# Key names for Input.dispatchKeyEvent: (key, code, windowsVirtualKeyCode).
_SPECIAL_KEYS = {
    "Enter": ("Enter", "Enter", 13), "Escape": ("Escape", "Escape", 27),
    "Tab": ("Tab", "Tab", 9), "ArrowDown": ("ArrowDown", "ArrowDown", 40),
    "ArrowUp": ("ArrowUp", "ArrowUp", 38),
}


class CDPError(RuntimeError):
    """The browser answered a command with an error, or did not answer in time."""


class Chromium:
    """One headless Chromium process with a fresh profile in `profile`; a context manager."""

    def __init__(self, profile: Path, timeout: float = 30.0) -> None:
        if CHROMIUM is None:
            raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
        self.timeout = timeout
        self.profile = profile
        profile.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._closing = contextlib.ExitStack()
        self._ws: ClientConnection = self._closing.enter_context(connect(
            self._browser_endpoint(), max_size=64 << 20, open_timeout=timeout, close_timeout=2))
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []  # every event seen, for a test to inspect

    def _browser_endpoint(self) -> str:
        """The browser's WebSocket URL, from the DevToolsActivePort file Chromium writes."""
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                said = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"chromium exited with {self.proc.returncode}: {said[-2000:]}")
            lines = active.read_text().split() if active.exists() else []
            if len(lines) == 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.05)
        self.close()
        raise RuntimeError(f"chromium wrote no DevToolsActivePort in {self.timeout}s")

    def call(self, method: str, session: str | None = None, timeout: float | None = None,
             **params: Any) -> dict[str, Any]:
        """Send one command (to a page's `session`, or to the browser) and return its result."""
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError(f"{method}: no answer in {timeout or self.timeout}s")
            try:
                reply = json.loads(self._ws.recv(timeout=left))
            except TimeoutError:
                continue
            if reply.get("id") != ident:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise CDPError(f"{method}: {reply['error'].get('message')}")
            return reply.get("result", {})

    def new_page(self, url: str = "about:blank", isolated: bool = False) -> Page:
        """A new tab; `isolated`: in a browser context of its own (its own cookies)."""
        where = {}
        if isolated:
            where["browserContextId"] = self.call("Target.createBrowserContext")[
                "browserContextId"]
        target = self.call("Target.createTarget", url="about:blank", **where)["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        page = Page(self, session)
        page.call("Page.enable")
        page.call("Runtime.enable")
        if url != "about:blank":
            page.goto(url)
        return page

    def close(self) -> None:
        if getattr(self, "_closing", None) is not None:
            self._closing.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class Page:
    """One tab, attached over a flat CDP session."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        return self.browser.call(method, self.session, **params)

    def goto(self, url: str, timeout: float = 30.0) -> None:
        """Navigate and wait until the document has loaded."""
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise CDPError(f"cannot open {url}: {result['errorText']}")
        self.wait_for("document.readyState === 'complete'", timeout)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited), as JSON-able data."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError(f"JavaScript threw: {text}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, interval: float = 0.1) -> Any:
        """Evaluate `expression` until it is truthy; its value, or TimeoutError with the last."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression!r} still {value!r} after {timeout}s")
            time.sleep(interval)

    def press(self, key: str) -> None:
        """Type one key: a printable character, or a name of _SPECIAL_KEYS."""
        if key in _SPECIAL_KEYS:
            name, code, virtual = _SPECIAL_KEYS[key]
            common = {"key": name, "code": code, "windowsVirtualKeyCode": virtual}
            self.call("Input.dispatchKeyEvent", type="rawKeyDown", **common)
            if name == "Enter":
                self.call("Input.dispatchKeyEvent", type="char", text="\r", **common)
            self.call("Input.dispatchKeyEvent", type="keyUp", **common)
            return
        self.call("Input.dispatchKeyEvent", type="keyDown", key=key, text=key)
        self.call("Input.dispatchKeyEvent", type="keyUp", key=key)

    def screenshot(self, path: Path) -> Path:
        """A PNG of the viewport, written to `path`."""
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def set_viewport(self, width: int, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
