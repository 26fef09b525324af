"""POST /topics/{topic}/events and GET /topics, /healthz."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.server.helpers import data, open_stream, publish, seq_of, topic_info
from tests.servers import ServerProcess


def post(server: ServerProcess, topic: str, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{server.url}/topics/{topic}/events", timeout=5, **kwargs)


def test_publish_creates_the_topic_and_assigns_increasing_ids(quiet_server: ServerProcess,
                                                              topic: str) -> None:
    assert topic_info(quiet_server.url, topic) is None
    responses = [post(quiet_server, topic, json={"event": "RUN_STARTED", "data": {"n": n}})
                 for n in range(3)]
    assert [r.status_code for r in responses] == [201] * 3
    ids = [r.json()["id"] for r in responses]
    assert [seq_of(i) for i in ids] == [1, 2, 3]
    assert topic_info(quiet_server.url, topic) == {
        "name": topic, "kind": "custom", "newest_id": ids[-1], "backlog": 3, "subscribers": 0}


def test_data_is_optional_and_any_json(quiet_server: ServerProcess, topic: str) -> None:
    assert post(quiet_server, topic, json={"event": "bare"}).status_code == 201
    for value in (None, 1.5, "text", [1, {"a": None}], {"nested": {"deep": [True]}}):
        assert post(quiet_server, topic, json={"event": "e", "data": value}).status_code == 201


@pytest.mark.anyio
async def test_published_data_reaches_subscribers_unchanged(quiet_server: ServerProcess,
                                                            topic: str) -> None:
    first = publish(quiet_server.url, topic, "e")
    value = {"text": "crlf\r\nlf\ncr\r", "unicode": "héllo ✓", "n": [1, 2.5, None]}
    async with open_stream(quiet_server.url, topic, first) as stream:
        publish(quiet_server.url, topic, "TEXT", value)
        [event] = await stream.take(1)
    assert event.type == "TEXT" and data(event) == value


@pytest.mark.parametrize(("body", "status", "words"), [
    (b"{not json", 400, "not valid JSON"),
    (b"", 400, "not valid JSON"),
    (b'{"event": "e", "data": NaN}', 400, "not valid JSON"),
    (b"\xff\xfe", 400, "not valid JSON"),
    (b"[1, 2]", 422, "expected a JSON object"),
    (b'{"data": 1}', 422, "expected a JSON object"),
    (b'{"event": 5}', 422, "expected a JSON object"),
    (b'{"event": "e", "extra": 1}', 422, "unexpected fields: extra"),
    (b'{"event": "gap"}', 400, "reserved"),
    (b'{"event": "heartbeat"}', 400, "reserved"),
    (b'{"event": ""}', 400, "invalid event name"),
    (b'{"event": "two\\nlines"}', 400, "invalid event name"),
    (b'{"event": "e", "data": "' + b"x" * 3000 + b'"}', 413, "larger than 2000 bytes"),
])
def test_bad_bodies_get_json_errors(quiet_server: ServerProcess, topic: str, body: bytes,
                                    status: int, words: str) -> None:
    response = post(quiet_server, topic, content=body,
                    headers={"content-type": "application/json"})
    assert response.status_code == status
    assert words in response.json()["error"]
    assert topic_info(quiet_server.url, topic) is None  # nothing was created


def test_body_over_the_limit_without_content_length(quiet_server: ServerProcess,
                                                    topic: str) -> None:
    chunks = iter([b'{"event": "e", "data": "', b"x" * 3000, b'"}'])
    response = post(quiet_server, topic, content=chunks)  # chunked: no Content-Length
    assert response.status_code == 413


def test_invalid_topic_names(quiet_server: ServerProcess) -> None:
    for name in ("-bad", "x" * 65, "sp%20ace"):
        response = post(quiet_server, name, json={"event": "e"})
        assert response.status_code == 400
        assert "invalid topic" in response.json()["error"]


def test_other_errors_are_json_too(quiet_server: ServerProcess) -> None:
    missing = httpx.get(f"{quiet_server.url}/nowhere")
    wrong_method = httpx.delete(f"{quiet_server.url}/topics")
    assert (missing.status_code, wrong_method.status_code) == (404, 405)
    assert missing.json()["error"] and wrong_method.json()["error"]


def test_healthz_and_topic_kinds(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory("--ticker", "5", "--speed", "5", "--heartbeat", "0")
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    rows = httpx.get(f"{server.url}/topics").json()["topics"]
    assert {row["name"]: row["kind"] for row in rows} == {
        "progress": "progress", "logs": "logs", "tokens": "tokens", "ticker": "ticker"}
