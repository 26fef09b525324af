"""Auth a browser can do, over real HTTP: the session cookie, the opt-in query token, CORS with
credentials for exact origins only."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.servers import ServerProcess

Factory = Callable[..., ServerProcess]
READ, WRITE = "read-token-4f1c", "write-token-9a2e"
ODD = 'a;b%2C"c=d'  # visible ASCII that a raw cookie value could not carry


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def session_cookie(server: ServerProcess, token: str, **headers: str) -> tuple[str, str]:
    """POST /session with `token`: (the Set-Cookie header, the Cookie header to send back)."""
    response = httpx.post(f"{server.url}/session", headers={**bearer(token), **headers})
    assert response.status_code == 204, response.text
    set_cookie = response.headers["set-cookie"]
    return set_cookie, set_cookie.split(";")[0]


def stream_status(server: ServerProcess, params: dict[str, str] | None = None,
                  **headers: str) -> int:
    with httpx.stream("GET", f"{server.url}/stream", params={"topic": "t1", **(params or {})},
                      headers=headers, timeout=5) as response:
        return response.status_code


def publish_status(server: ServerProcess, **headers: str) -> int:
    return httpx.post(f"{server.url}/topics/t1/events", json={"event": "e"},
                      headers=headers).status_code


def test_post_session_sets_an_http_only_strict_cookie_that_authorizes_reads(
        server_factory: Factory) -> None:
    server = server_factory("--no-simulators", "--token", READ, "--token", ODD,
                            "--publish-token", WRITE, "--forwarded-allow-ips", "127.0.0.1")
    assert publish_status(server, **bearer(WRITE)) == 201
    set_cookie, cookie = session_cookie(server, READ)
    attributes = {part.strip().lower() for part in set_cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert "secure" not in attributes  # plain http: a Secure cookie would never come back
    assert stream_status(server, Cookie=cookie) == 200
    assert httpx.get(f"{server.url}/topics", headers={"Cookie": cookie}).status_code == 200
    assert stream_status(server) == 401
    assert stream_status(server, Cookie="sse_token=wrong") == 401

    # behind a trusted TLS proxy the cookie is Secure
    secure, _ = session_cookie(server, READ, **{"X-Forwarded-Proto": "https"})
    assert "secure" in {part.strip().lower() for part in secure.split(";")}

    # exact bytes: a token with ; , " = and % survives the cookie, and a look-alike does not
    _, odd_cookie = session_cookie(server, ODD)
    assert stream_status(server, Cookie=odd_cookie) == 200
    assert stream_status(server, Cookie='sse_token=a%3Bb,"c=d') == 401

    refused = httpx.post(f"{server.url}/session", headers=bearer("wrong"))
    assert refused.status_code == 401 and "set-cookie" not in refused.headers
    assert httpx.post(f"{server.url}/session").status_code == 400
    cleared = httpx.delete(f"{server.url}/session")
    assert cleared.status_code == 204
    assert cleared.headers["set-cookie"].startswith('sse_token="";')
    assert "max-age=0" in cleared.headers["set-cookie"].lower()

    server.kill()
    assert READ not in server.output() and "2C%22c" not in server.output()


def test_a_cookie_publishes_only_from_an_allowed_origin(server_factory: Factory) -> None:
    app = "http://app.example:8080"
    server = server_factory("--no-simulators", "--token", READ, "--publish-token", WRITE,
                            "--cors-origin", app)
    _, cookie = session_cookie(server, WRITE)
    assert publish_status(server, Cookie=cookie) == 401  # no Origin: a cookie writes nothing
    assert publish_status(server, Cookie=cookie, Origin="https://evil.example") == 401
    assert publish_status(server, Cookie=cookie, Origin=app) == 201
    assert publish_status(server, Cookie=cookie, Origin=server.url) == 201  # its own pages
    assert publish_status(server, **bearer(WRITE)) == 201  # the header, as ever
    _, reader = session_cookie(server, READ)
    assert publish_status(server, Cookie=reader, Origin=app) == 401  # a reader's cookie


def test_cors_allows_credentials_for_the_named_origins(server_factory: Factory) -> None:
    app = "http://127.0.0.1:9"
    server = server_factory("--no-simulators", "--token", READ, "--cors-origin", app)
    assert publish_status(server, **bearer(READ)) == 201
    preflight = httpx.options(f"{server.url}/session", headers={
        "Origin": app, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == app
    assert preflight.headers["access-control-allow-credentials"] == "true"
    _, cookie = session_cookie(server, READ)
    with httpx.stream("GET", f"{server.url}/stream", params={"topic": "t1"},
                      headers={"Origin": app, "Cookie": cookie}, timeout=5) as stream:
        assert stream.status_code == 200
        assert stream.headers["access-control-allow-origin"] == app
        assert stream.headers["access-control-allow-credentials"] == "true"
    other = httpx.get(f"{server.url}/topics",
                      headers={"Origin": "http://127.0.0.1:10", "Cookie": cookie})
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(("origin", "says"), [
    ("*", "name each origin"),
    ("https://app.example/", "no path"),
    ("app.example", "scheme://host"),
    ("https://App.example", "lower case"),
])
def test_cors_origin_must_be_exact(origin: str, says: str) -> None:
    server = ServerProcess("--cors-origin", origin)
    with pytest.raises(RuntimeError, match=says) as failed:
        server.start()
    message = str(failed.value).strip().splitlines()
    assert len(message) == 2 and "usage" not in message[1]  # the exit status, then one line


def test_query_token_only_when_allowed_and_masked_in_the_access_log(
        server_factory: Factory) -> None:
    closed = server_factory("--no-simulators", "--token", READ)
    assert stream_status(closed, {"access_token": READ}) == 401
    server = server_factory("--no-simulators", "--token", READ, "--allow-query-token",
                            "--access-log")
    assert publish_status(server, **bearer(READ)) == 201
    assert stream_status(server, {"access_token": READ}) == 200
    assert stream_status(server, {"access_token": "wrong"}) == 401
    assert httpx.get(f"{server.url}/topics", params={"access_token": READ}).status_code == 200
    server.kill()
    output = server.output()
    assert "access_token=***" in output
    assert READ not in output
