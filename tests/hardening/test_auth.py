"""Bearer tokens for subscribing and publishing, an open /healthz, and CORS only when asked."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.server.helpers import raw_stream_socket
from tests.servers import ServerProcess

Factory = Callable[..., ServerProcess]
READ, WRITE = "read-token-4f1c", "write-token-9a2e"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def publish(server: ServerProcess, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.url}/topics/t1/events", json={"event": "e"}, headers=headers)


def stream_status(server: ServerProcess, headers: dict[str, str], topic: str = "t1") -> int:
    with httpx.stream("GET", f"{server.url}/stream", params={"topic": topic},
                      headers=headers, timeout=5) as response:
        if response.status_code != 200:
            assert response.headers["content-type"] == "application/json"
            assert "error" in json.loads(response.read())
        return response.status_code


def test_tokens_separate_subscribing_from_publishing(server_factory: Factory,
                                                     tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(f"# readers\n{READ}\n\n")
    server = server_factory("--no-simulators", "--tokens-file", str(tokens_file),
                            "--publish-token", WRITE)
    assert httpx.get(f"{server.url}/healthz").status_code == 200  # open for probes

    for headers in ({}, bearer("wrong-token"), {"Authorization": READ},
                    {"Authorization": f"Basic {READ}"}):
        refused = publish(server, headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert "error" in refused.json()
    assert publish(server, bearer(READ)).status_code == 401  # a reader may not publish
    assert publish(server, bearer(WRITE)).status_code == 201

    assert stream_status(server, {}) == 401
    assert stream_status(server, bearer(WRITE)) == 401  # a publisher may not subscribe
    assert stream_status(server, bearer(READ)) == 200
    # never from the query string, where it would end up in access logs
    response = httpx.get(f"{server.url}/topics", params={"access_token": READ})
    assert response.status_code == 401
    assert httpx.get(f"{server.url}/topics", headers=bearer(READ)).status_code == 200
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    assert httpx.head(f"{server.url}/stream", params={"topic": "t1"}).status_code == 401

    server.kill()
    assert READ not in server.output() and WRITE not in server.output()


def test_one_token_from_the_environment_guards_everything(server_factory: Factory,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSE_TOKENS", f"{READ}, other-token")
    server = server_factory("--no-simulators", "--access-log", "--log-level", "debug")
    assert publish(server, {}).status_code == 401
    assert publish(server, bearer("other-token")).status_code == 201
    assert stream_status(server, bearer(READ)) == 200
    server.kill()
    output = server.output()
    assert "/topics/t1/events" in output  # the access log ran, and shows no token
    assert READ not in output and "other-token" not in output


def test_an_unreadable_tokens_file_is_a_usage_error(tmp_path: Path) -> None:
    server = ServerProcess("--tokens-file", str(tmp_path / "missing"))
    with pytest.raises(RuntimeError, match="cannot read tokens"):
        server.start()


def test_cors_is_off_unless_origins_are_given(server_factory: Factory) -> None:
    origin = {"Origin": "https://app.example"}
    closed = server_factory("--no-simulators")
    publish(closed, {})
    response = httpx.get(f"{closed.url}/topics", headers=origin)
    assert "access-control-allow-origin" not in response.headers

    server = server_factory("--no-simulators", "--cors-origin", "https://app.example")
    publish(server, {})
    response = httpx.get(f"{server.url}/topics", headers=origin)
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    other = httpx.get(f"{server.url}/topics", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = httpx.options(f"{server.url}/stream", headers={
        **origin, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "last-event-id, authorization"})
    assert preflight.status_code == 200
    assert "last-event-id" in preflight.headers["access-control-allow-headers"].lower()
    # the stream itself (answered outside FastAPI's middleware) carries the header too
    with httpx.stream("GET", f"{server.url}/stream", params={"topic": "t1"},
                      headers=origin) as stream:
        assert stream.status_code == 200
        assert stream.headers["access-control-allow-origin"] == "https://app.example"
    sock = raw_stream_socket(server.port, "t1")  # and a stream without Origin still works
    sock.close()
