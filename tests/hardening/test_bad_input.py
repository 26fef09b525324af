"""Hostile and broken requests against a real server: every one gets a 4xx JSON error, never a 500.

Hypothesis drives query strings, headers (Last-Event-ID huge, binary, of other topics) and bodies
over raw sockets; schemathesis drives the non-streaming endpoints from the OpenAPI schema.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hardening.conftest import FIGURES
from tests.servers import ServerProcess, read_head

TOKEN = "fuzz-token-71c3"
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # not allowed in an HTTP field value
FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    server = ServerProcess("--no-simulators", "--heartbeat", "0", "--backlog", "20",
                           "--max-event-bytes", "4096", "--publish-rate", "0",
                           "--publish-token", TOKEN).start()
    for topic in ("fuzz", "other"):
        for n in range(3):
            publish = httpx.post(f"{server.url}/topics/{topic}/events", json={"event": f"e{n}"},
                                 headers={"Authorization": f"Bearer {TOKEN}"})
            assert publish.status_code == 201
    yield server
    server.kill()
    output = server.output()
    assert "Traceback" not in output and "Exception" not in output, output


def exchange(port: int, head: bytes, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send one raw request; return the status, headers and the first bytes of the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head + body)
        received = read_head(sock, 65536)
        status_line, _, rest = received.partition(b"\r\n")
        fields, _, content = rest.partition(b"\r\n\r\n")
        headers = {}
        for line in fields.split(b"\r\n"):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            while len(content) < int(headers["content-length"]):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                content += chunk
    FIGURES["bad inputs tried"] += 1
    return int(status_line.split()[1]), headers, content


def assert_handled(status: int, headers: dict[str, str], content: bytes, head: bool = False,
                   ) -> None:
    """A stream, a success, or a 4xx whose body is a JSON error: never a server error."""
    assert status < 500, (status, content[:300])
    if status == 200 and headers.get("content-type", "").startswith("text/event-stream"):
        return
    if status >= 400:
        assert headers.get("content-type") == "application/json", (status, headers)
        if not head:  # a HEAD answer has the error's headers and no body
            assert isinstance(json.loads(content)["error"], str)


def request_head(method: str, target: str, headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: fuzz", b"Connection: close",
             *(name + b": " + value for name, value in headers)]
    return b"\r\n".join(lines) + b"\r\n\r\n"


header_value = st.one_of(
    st.binary(min_size=1, max_size=300).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")
                                            .strip() or b"x"),
    st.sampled_from([b"0", b"-1", b"ffffffff-99999999999999999999", b"00000000-0", b"\xff\xfe"]),
    st.integers(1, 60_000).map(lambda n: b"9" * n),  # huge
    st.text(min_size=1, max_size=50).map(lambda t: t.encode("utf-8").strip() or b"x"),
)
query_text = st.text(st.characters(codec="utf-8"), max_size=80)


@FUZZ
@given(topic=st.one_of(st.sampled_from(["fuzz", "other", "", "-x", "a" * 65]), query_text),
       last_id=st.one_of(st.none(), header_value), query_id=st.one_of(st.none(), query_text),
       extra=st.lists(st.tuples(query_text, query_text), max_size=3),
       method=st.sampled_from(["GET", "HEAD"]))
def test_stream_requests(server: ServerProcess, topic: str, last_id: bytes | None,
                         query_id: str | None, extra: list[tuple[str, str]], method: str) -> None:
    params = [("topic", topic), *extra] + ([("last_event_id", query_id)] if query_id else [])
    target = "/stream?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in params)
    headers = [(b"Last-Event-ID", last_id)] if last_id is not None else []
    status, response_headers, content = exchange(server.port, request_head(method, target,
                                                                            headers))
    not_http = last_id is not None and _CONTROL.search(last_id) is not None
    if not (not_http and status == 400):  # uvicorn's parser may refuse those before the app
        assert_handled(status, response_headers, content, head=method == "HEAD")


def read_stream(port: int, head: bytes, until: bytes, within: float) -> bytes:
    """The stream's bytes until `until` appears or `within` seconds have passed."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=within) as sock:
        sock.sendall(head)
        try:
            while until not in received and (chunk := sock.recv(65536)):
                received += chunk
        except TimeoutError:
            pass
    FIGURES["bad inputs tried"] += 1
    return received


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_resume_with_ids_of_other_topics_and_runs(server: ServerProcess,
                                                  data: st.DataObject) -> None:
    rows = {row["name"]: row["newest_id"] for row in httpx.get(f"{server.url}/topics").json()[
        "topics"]}
    last_id = data.draw(st.one_of(st.sampled_from(sorted(rows.values())),
                                  st.from_regex(r"[0-9a-f]{8}-[0-9]{1,25}", fullmatch=True)))
    head = request_head("GET", "/stream?topic=fuzz", [(b"Last-Event-ID", last_id.encode())])
    received = read_stream(server.port, head, b"event: gap", within=0.3)
    assert received.startswith(b"HTTP/1.1 200"), received
    # resuming from the newest id of the topic is no gap; any other id is one, never a failure
    assert (b"event: gap" in received) == (last_id != rows["fuzz"]), received


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"event": st.one_of(st.text(max_size=120), json_values)},
                          optional={"data": json_values, "extra": json_values})
    .map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b'{"event": "e", "data": NaN}', b"[" * 100_000, b'{"event": "gap"}',
                     b'{"event": "x", "data": "' + b"y" * 5000 + b'"}']),
)


@FUZZ
@given(body=bodies, topic=st.one_of(st.just("fuzz"), query_text),
       content_type=st.sampled_from([b"application/json", b"text/plain", b"\xff", None]),
       token=st.sampled_from([TOKEN, "", "nope"]))
def test_publish_bodies(server: ServerProcess, body: bytes, topic: str,
                        content_type: bytes | None, token: str) -> None:
    headers = [(b"Content-Length", str(len(body)).encode())]
    if content_type is not None:
        headers.append((b"Content-Type", content_type))
    if token:
        headers.append((b"Authorization", f"Bearer {token}".encode()))
    target = f"/topics/{quote(topic, safe='')}/events"
    status, response_headers, content = exchange(server.port, request_head("POST", target, headers),
                                                 body)
    assert_handled(status, response_headers, content)
    if token != TOKEN:
        assert status in (401, 404), status


def test_schemathesis_finds_no_server_error(server: ServerProcess, tmp_path: object) -> None:
    """Every check schemathesis has, against /healthz, /topics, /metrics and publishing."""
    report = f"{tmp_path}/schemathesis.json"
    # One worker: hypothesis's ast.parse in two threads at once trips CPython 3.11's "AST
    # constructor recursion depth mismatch" (https://github.com/python/cpython/issues/106905).
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/openapi.json",
         "--checks", "all", "--max-examples", "100", "--seed", "7", "--workers", "1",
         "--generation-database", "none", "--no-color",
         "-H", f"Authorization: Bearer {TOKEN}",
         "--report", "json", "--report-json-path", report],
        capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    with open(report) as file:
        summary = json.load(file)
    assert not summary["failures"], summary["failures"]
    generated = summary["test_cases"]["generated"]
    assert generated > 100, summary["test_cases"]
    FIGURES["bad inputs tried"] += generated
