"""`python -m monitor --plain` end to end, in a subprocess against a real server."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from monitor.cli import parse_args, stream_configs
from tests.server.helpers import publish
from tests.servers import ROOT, ServerProcess, free_port

ID = re.compile(r"^[0-9a-f]{8}-\d+$")
TOPICS = ("progress", "logs", "tokens")


def monitor(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def assert_one_line_each(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert all(line.startswith("sse-monitor:") for line in stderr.splitlines()), stderr


def test_jsonl_from_three_topics(demo_server: ServerProcess) -> None:
    args = [f"--topic={topic}" for topic in TOPICS]
    done = monitor(f"{demo_server.url}/stream", *args, "--plain", "--format", "jsonl",
                   "--max-events", "12")
    assert done.returncode == 0, done.stderr
    rows = records(done.stdout)
    assert len(rows) == 12
    for row in rows:
        assert row["topic"] in TOPICS and ID.match(row["id"])
        assert isinstance(row["event"], str) and row["event"] not in ("heartbeat", "gap")
        assert isinstance(json.loads(row["data"]), dict)  # data kept as the JSON text it was
    assert_one_line_each(done.stderr)
    assert "[progress] live" in done.stderr and "--max-events 12 reached" in done.stderr


def test_last_event_id_resumes_and_a_bad_one_reports_the_gap(demo_server: ServerProcess) -> None:
    first = records(monitor(f"{demo_server.url}/stream", "--topic", "logs", "--plain",
                            "--format", "jsonl", "--max-events", "2").stdout)
    epoch, seq = first[0]["id"].rsplit("-", 1)
    resumed = records(monitor(f"{demo_server.url}/stream", "--topic", "logs", "--plain",
                              "--format", "jsonl", "--max-events", "1",
                              "--last-event-id", first[0]["id"]).stdout)
    assert resumed[0]["id"] == f"{epoch}-{int(seq) + 1}"  # replayed, nothing skipped

    done = monitor(f"{demo_server.url}/stream", "--topic", "logs", "--plain", "--format", "jsonl",
                   "--max-events", "1", "--last-event-id", "not-an-id")
    gap, event = records(done.stdout)
    assert gap["event"] == "gap" and gap["gap"]["reason"] == "malformed"
    assert json.loads(gap["data"])["requested"] == "not-an-id" and gap["topic"] == "logs"
    assert event["id"] == gap["gap"]["resume_from"]


def test_text_format_is_readable(demo_server: ServerProcess) -> None:
    done = monitor(f"{demo_server.url}/stream", "--topic", "tokens", "--plain", "--max-events", "3")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert len(lines) == 3
    for line in lines:
        clock, topic, _event, ident, data = line.split(" ", 4)
        assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", clock) and topic == "tokens"
        assert ID.match(ident.removeprefix("id=")) and data.startswith("{")


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/stream?topic=nope", "404 Not Found (check the URL)"),
     ("/topics", "not an event stream: Content-Type 'application/json'")],
)
def test_errors_exit_nonzero_with_one_line(
    demo_server: ServerProcess, path: str, expected: str
) -> None:
    done = monitor(f"{demo_server.url}{path}", "--plain")
    assert done.returncode == 1 and done.stdout == ""
    assert_one_line_each(done.stderr)
    assert expected in done.stderr.splitlines()[-1]


def test_refused_with_no_reconnect_exits_nonzero() -> None:
    url = f"http://127.0.0.1:{free_port()}/stream"
    done = monitor(url, "--plain", "--no-reconnect")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"sse-monitor: error: connection refused ({url})")


def test_bad_flags_get_argparse_errors() -> None:
    done = monitor("--plain", "--header", "no colon here")
    assert done.returncode == 2 and "expected 'Name: value'" in done.stderr
    done = monitor("--plain", "--reconnect-delay", "soon")
    assert done.returncode == 2 and "not a number: 'soon'" in done.stderr
    done = monitor("ftp://example.org/stream", "--plain")
    assert done.returncode == 2 and "http:// or https://" in done.stderr
    done = monitor("--plain", "--stream-process")
    assert done.returncode == 2 and "--stream-process is for the TUI" in done.stderr


def test_ctrl_c_exits_cleanly(demo_server: ServerProcess) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", f"{demo_server.url}/stream", "--topic", "logs",
         "--plain"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()  # an event arrived: the stream is live
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


@pytest.mark.timeout(60)
def test_survives_a_server_restart_with_the_gap_reported(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory("--seed", "2", "--heartbeat", "0.2", "--speed", "5", "--retry-ms", "99")
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", f"{server.url}/stream", "--topic", "progress",
         "--plain", "--format", "jsonl"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    try:
        before = [json.loads(proc.stdout.readline()) for _ in range(3)]
        server.restart()  # SIGKILL, then the same port again
        after: list[dict] = []
        while not after or after[-1]["event"] == "gap" or "gap" not in {r["event"] for r in after}:
            after.append(json.loads(proc.stdout.readline()))  # until one event after the gap
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    gaps = [row for row in after if row["event"] == "gap"]
    assert [gap["gap"]["reason"] for gap in gaps] == ["other-run"]
    assert gaps[0]["gap"]["requested"] in {row["id"] for row in before + after}
    assert "reconnecting" in err and proc.returncode == 130


def test_demo_flag_monitors_the_embedded_server() -> None:
    done = monitor("--demo", "--plain", "--format", "jsonl", "--max-events", "20")
    assert done.returncode == 0, done.stderr
    assert {row["topic"] for row in records(done.stdout)} <= set(TOPICS)
    assert all(f"[{topic}] live" in done.stderr for topic in TOPICS)


def monitor_without_url(port: int, *args: str) -> subprocess.Popen[str]:
    """`sse-monitor --plain ARGS` with no URL, its default server moved to a free port."""
    code = ("import sys, monitor.cli as cli; "
            f"cli.DEFAULT_STREAM_URL = 'http://127.0.0.1:{port}/stream'; "
            "sys.exit(cli.main(sys.argv[1:]))")
    return subprocess.Popen([sys.executable, "-c", code, "--plain", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_plain_without_a_url_waits_for_the_server_then_follows_every_topic(
    server_factory: Callable[..., ServerProcess],
) -> None:
    port = free_port()
    proc = monitor_without_url(port, "--format", "jsonl", "--max-events", "30")
    try:
        assert proc.stderr is not None
        waiting = proc.stderr.readline()
        assert waiting.startswith(f"sse-monitor: waiting for topics at http://127.0.0.1:{port}"
                                  "/topics: connection refused (no server at that address yet: "
                                  "start sse-demo-server, or use --demo); next try in 1s")
        server_factory("--seed", "7", "--heartbeat", "0.5", "--speed", "5", port=port)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert {row["topic"] for row in records(out)} == set(TOPICS)
    assert_one_line_each(err)
    assert "missing topic" not in err


def test_plain_without_a_url_waits_for_a_first_topic(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory("--no-simulators", "--heartbeat", "0")
    proc = monitor_without_url(server.port, "--format", "jsonl", "--max-events", "1")
    try:
        assert proc.stderr is not None and proc.stdout is not None
        assert "the server lists no topics yet" in proc.stderr.readline()
        for n in range(200):  # the agent publishes until the monitor has followed the topic
            publish(server.url, "agent", "step", {"n": n})
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert records(out)[0]["topic"] == "agent"


def test_plain_connection_refused_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/stream"
    done = monitor(url, "--topic", "logs", "--plain", "--no-reconnect")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"sse-monitor: [logs] error: connection refused ({url}?topic=logs)")


def test_watchdog_flag_reaches_every_stream() -> None:
    for flag, expected in (([], None), (["--watchdog", "0"], 0), (["--watchdog", "1.5"], 1.5)):
        args = parse_args(["http://h/stream", "--topic", "a", "--topic", "b", *flag])
        assert [c.watchdog for c in stream_configs(args.url, args.topic, args)] == [expected] * 2
    done = monitor("--plain", "--watchdog", "-1")
    assert done.returncode == 2 and "must be at least 0" in done.stderr
