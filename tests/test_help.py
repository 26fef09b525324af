"""`--help` and `--version` of both commands, as a user runs them."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys

import pytest

from tests.servers import ROOT


def run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={"COLUMNS": "100", "PATH": ""})


@pytest.mark.parametrize(("module", "prog"), [("monitor", "sse-monitor"),
                                              ("server", "sse-demo-server")])
def test_version_is_the_package_version(module: str, prog: str) -> None:
    done = run(module, "--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"{prog} {importlib.metadata.version('sse-monitor')}"


def test_monitor_help_has_examples_keys_and_exit_codes() -> None:
    done = run("monitor", "--help")
    assert done.returncode == 0
    assert "examples:" in done.stdout and "sse-monitor --demo" in done.stdout
    assert "press ? in the TUI" in done.stdout and "docs/monitor.md" in done.stdout
    assert "exit status:" in done.stdout and "130 interrupted" in done.stdout
    assert "--watchdog SECONDS" in done.stdout


def test_server_help_says_each_default_once() -> None:
    done = run("server", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())  # argparse wraps lines anywhere
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "(default: [])" not in text
    assert not re.search(r"default[^()]*\) \(default", text), text
    assert "(default: random, logged)" in text and "(default: 8000)" in text
    log_level = text.split("--log-level {critical,error,warning,info,debug,trace}")[-1]
    assert log_level.strip().startswith("the least severe server log message printed")
