"""Tokens are compared as exact bytes, and one that no header can carry is refused at start-up.

A token outside Latin-1 was once matched by a string of `?` (an auth bypass), while the real
token, sent as UTF-8, was refused.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from server.auth import TokenAuth
from server.settings import ServerSettings
from tests.hardening.test_auth import bearer, publish, stream_status
from tests.servers import ROOT, ServerProcess, free_port, read_head

Factory = Callable[..., ServerProcess]
GOOD = "Tok-3n_.~+/="  # every character of RFC 6750's b64token
UNSENDABLE = {"euro": "tok€n-7c1d", "latin-1": "café-7c1d", "space": "two words-7c1d",
              "control": "esc\x1b[0m-7c1d"}


def start_refused(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the server expecting it to exit at once; a server that starts fails the test."""
    command = [sys.executable, "-m", "server", "--no-simulators", "--port", str(free_port()), *args]
    try:
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=20,
                              env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server started with an unsendable token ({args or env})")


@pytest.mark.parametrize(("source", "kind"), [
    (source, kind) for source in ("--token", "--publish-token", "--tokens-file", "SSE_TOKENS")
    for kind in sorted(UNSENDABLE)
    if (source, kind) != ("SSE_TOKENS", "space")])  # spaces separate the tokens of SSE_TOKENS
def test_a_token_no_header_can_carry_is_refused_at_start(source: str, kind: str,
                                                         tmp_path: Path) -> None:
    token = UNSENDABLE[kind]
    if source == "--tokens-file":
        (tmp_path / "tokens").write_text(f"{GOOD}\n{token}\n", encoding="utf-8")
        done = start_refused(source, str(tmp_path / "tokens"))
    elif source == "SSE_TOKENS":
        done = start_refused(env={"SSE_TOKENS": f"{GOOD},{token}"})
    else:
        done = start_refused("--token", GOOD, source, token)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and "cannot travel in an HTTP header" in lines[0], lines
    assert "7c1d" not in done.stderr + done.stdout  # the message never quotes the token


def test_the_settings_and_the_checker_refuse_them_too() -> None:
    """The embedded server and workers build settings without the CLI: same refusal."""
    for token in UNSENDABLE.values():
        with pytest.raises(ValueError, match="cannot travel in an HTTP header"):
            ServerSettings(tokens=(token,))
        with pytest.raises(ValueError, match="cannot travel in an HTTP header"):
            TokenAuth(publish=[token])


def test_a_good_token_works_and_only_its_exact_bytes_do(server_factory: Factory) -> None:
    server = server_factory("--no-simulators", "--token", GOOD)
    assert publish(server, bearer(GOOD)).status_code == 201
    assert stream_status(server, bearer(GOOD)) == 200
    for near in ("?" * len(GOOD), GOOD.lower(), GOOD[:-1], GOOD + "=", f"{GOOD} {GOOD}"):
        assert stream_status(server, bearer(near)) == 401, near
    # bytes beyond ASCII in the header: what 'replace' once turned into `?`
    for tail in (b"\xe2\x82\xac", b"\xff", b"?"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /stream?topic=t1 HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer "
                         + GOOD.encode() + tail + b"\r\n\r\n")
            assert read_head(sock).startswith(b"HTTP/1.1 401"), tail
