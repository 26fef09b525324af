"""A live session of the demo server, with a restart in it, recorded by `sse-monitor --plain`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.servers import ROOT, ServerProcess

TOPICS = ("progress", "logs")
SERVER_ARGS = ("--seed", "2", "--heartbeat", "0.2", "--speed", "5", "--retry-ms", "99")


def monitor(*args: str, **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", *args], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs,
    )


def run_monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=30,
    )


def record_session_with_restart(server: ServerProcess, path: Path) -> tuple[list[str], str]:
    """Record both topics live, restart the server midway, stop once each topic has resumed."""
    proc = monitor(f"{server.url}/stream", "--topic", TOPICS[0], "--topic", TOPICS[1], "--plain",
                   "--format", "jsonl", "--record", str(path))
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []
    try:
        while len(lines) < 6:
            lines.append(proc.stdout.readline())
        server.restart()  # SIGKILL, then a new run on the same port: every id is foreign now
        resumed: set[str] = set()  # topics with an event after their gap
        gapped: set[str] = set()
        while resumed != set(TOPICS):
            lines.append(line := proc.stdout.readline())
            row = json.loads(line)
            if row["event"] == "gap":
                gapped.add(row["topic"])
            elif row["topic"] in gapped:
                resumed.add(row["topic"])
        time.sleep(0.6)  # a few heartbeats (every 0.2 s) into the recording too
    finally:
        proc.send_signal(signal.SIGINT)
        # Not communicate(): it reads the raw pipe and would skip what readline() buffered.
        rest, err = proc.stdout.read(), proc.stderr.read()
        proc.wait(10)
    assert proc.returncode == 130, err
    return lines + rest.splitlines(keepends=True), err
