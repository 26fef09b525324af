"""Secrets given to the monitor never reach a screen or a log, even when a server echoes them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitor.cli import parse_args
from monitor.client import redaction
from monitor.client.events import State
from monitor.client.process import StreamProcess
from monitor.client.stream import StreamConfig
from tests.client.rawserver import RawServer, respond
from tests.hardening.test_client_fuzz import follow, settled

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def no_remembered_secrets() -> Iterator[None]:
    redaction.forget_all()
    yield
    redaction.forget_all()


def test_redact_masks_known_secrets_url_passwords_and_credential_parameters() -> None:
    redaction.remember("Bearer tok-123456")
    redaction.remember_header("X-Api-Key", "key-abcdef")
    redaction.remember_header("Accept", "text/event-stream")  # not a secret: stays
    text = ("401: tok-123456 and key-abcdef at https://ann:pa55word@host/s?topic=a&token=zz9"
            "&access_token=yy8 (text/event-stream)")
    assert redaction.redact(text) == (
        "401: *** and *** at https://ann:***@host/s?topic=a&token=***&access_token=*** "
        "(text/event-stream)")


def test_the_screen_masks_the_parameters_the_access_log_masks() -> None:
    """One list of credential parameters for the monitor's lines and the server's access log."""
    url = ("http://h/s?topic=a&refresh_token=r1&X-Amz-Signature=s2&client%5Fsecret=c3"
           "&db_password=p4&sig=s5&page=2")
    assert redaction.redact(url) == (
        "http://h/s?topic=a&refresh_token=***&X-Amz-Signature=***&client%5Fsecret=***"
        "&db_password=***&sig=***&page=2")


def test_the_cli_remembers_token_and_sensitive_headers() -> None:
    args = parse_args(["http://h/stream", "--token", "cli-tok-1", "--header",
                       "Cookie: session=cookie-2"])
    assert ("Authorization", "Bearer cli-tok-1") in args.header
    assert redaction.redact("cli-tok-1 session=cookie-2") == "*** ***"


def test_bad_token_flags_are_refused_without_echoing_them(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--token", "two words"])
    assert exit_info.value.code == 2
    assert "two words" not in capsys.readouterr().err


async def test_a_server_echoing_the_token_shows_it_masked() -> None:
    redaction.remember("Bearer echo-secret-9")
    echo = respond(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                   b'Content-Length: 36\r\n\r\n{"error": "bad token echo-secret-9"}')
    async with RawServer([echo]) as server:
        final = settled(await follow(server.url))
    assert final.state is State.ERROR
    assert final.reason == '401 Unauthorized (check credentials): {"error": "bad token ***"}'


async def test_the_stream_process_masks_the_token_an_error_body_echoes() -> None:
    """The stream process is another interpreter: it learns the secrets from the stream's
    headers, not from the app's registry."""
    echo = respond(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                   b'Content-Length: 37\r\n\r\n{"error": "bad token proc-secret-7"}')
    process = StreamProcess()
    try:
        async with RawServer([echo]) as server:
            config = StreamConfig(server.url, headers={"Authorization": "Bearer proc-secret-7"},
                                  reconnect=False)
            items = [item async for item in process.source(config).items()]
    finally:
        await process.aclose()
    final = settled(items)
    assert final.state is State.ERROR
    assert final.reason == '401 Unauthorized (check credentials): {"error": "bad token ***"}'
