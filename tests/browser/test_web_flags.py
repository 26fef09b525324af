"""The flags of `sse-monitor --web`: what each tab runs, where it binds, where the token goes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.cli import build_parser
from monitor.web import tab_command
from tests.browser.chromium import Chromium
from tests.browser.web_monitor import open_monitor, web_monitor
from tests.servers import ROOT, ServerProcess

TOKEN = "web-token-5e0b"


def tab_args(*argv: str) -> str:
    return tab_command(argv, build_parser())


def test_each_tab_runs_the_same_arguments_without_the_web_flags_or_the_token() -> None:
    command = tab_args("--web", "--host", "127.0.0.1", "--port=9000", "--web-expose", "--token",
                       TOKEN, "--topic", "a b", "http://x/stream", "--tok=" + TOKEN,
                       "--po", "1", "--max-lines", "50")
    assert command.startswith(f"{sys.executable} -m monitor ")
    assert command.endswith("--topic 'a b' http://x/stream --max-lines 50")
    assert TOKEN not in command


@pytest.mark.parametrize(("argv", "says"), [
    (["--web", "--host", "0.0.0.0"], "not loopback"),
    (["--host", "127.0.0.1"], "--host is for --web"),
    (["--web", "--plain"], "no --plain"),
    (["--web", "--record", "f.jsonl"], "no --record"),
    (["--web", "--port", "70000"], "between 1 and 65535"),
])
def test_web_flags_are_checked(argv: list[str], says: str) -> None:
    run = subprocess.run([sys.executable, "-m", "monitor", *argv], cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2
    assert says in run.stderr.strip().splitlines()[-1]


def test_the_token_reaches_each_tab_through_its_environment_only(
        chromium: Chromium, server_factory: Callable[..., ServerProcess], tmp_path: Path) -> None:
    server = server_factory("--token", TOKEN, "--heartbeat", "0.5")
    with web_monitor("--token", TOKEN, "--topic", "logs", f"{server.url}/stream") as url:
        page = open_monitor(chromium, url)
        page.wait_for("screenText().includes('live')", timeout=60)  # authorized by the token
        listed = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        tab = [line for line in listed.splitlines() if "-m monitor" in line and "logs" in line]
        assert any("--web" not in line for line in tab), tab  # the tab's own monitor runs
        assert all(TOKEN not in line for line in tab if "--web" not in line)
        assert TOKEN not in page.evaluate("document.documentElement.outerHTML + location.href")
