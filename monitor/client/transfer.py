"""HTTP details shared by the streams and `GET /topics`: header bytes, uncompressed bodies, caps.

The monitor asks for `identity` and reads raw bytes: httpx decompresses a whole network chunk at
once, so half a megabyte of gzip would become gigabytes before any cap could count them.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

import httpx

ACCEPT_IDENTITY = {"Accept-Encoding": "identity"}
# Visible Latin-1 and spaces or tabs between: what HTTP carries in a header value.
_SENDABLE = re.compile(r"[\t\x20-\x7e\xa0-\xff]*")
UNSENDABLE = "cannot be sent in an HTTP header (characters outside Latin-1, or control characters)"


def header_bytes(value: str) -> bytes | None:
    """`value` as the bytes of a header value, or None when it cannot be sent (characters
    outside Latin-1, control characters)."""
    return value.encode("latin-1") if _SENDABLE.fullmatch(value) else None


def request_headers(headers: dict[str, str]) -> dict[str, str | bytes]:
    """Headers for httpx, values as Latin-1 bytes (httpx would encode str values as ASCII).

    Raises ValueError, naming the header but not its value, for one that cannot be sent.
    """
    encoded: dict[str, str | bytes] = {}
    for name, value in headers.items():
        raw = header_bytes(value)
        if raw is None:
            raise ValueError(f"header {name}: {UNSENDABLE}")
        encoded[name] = raw
    return encoded


def content_coding(response: httpx.Response) -> str:
    """The response's Content-Encoding, lower-cased; "" when it is not compressed."""
    coding = response.headers.get("content-encoding", "").strip().lower()
    return "" if coding == "identity" else coding


async def read_start(response: httpx.Response, limit: int, seconds: float) -> bytes:
    """Up to `limit` bytes of the body as sent (never decompressed), what came within `seconds`.

    The rest is not read; httpx errors end the reading like the time does.
    """
    body = bytearray()
    with contextlib.suppress(TimeoutError, httpx.HTTPError):
        async with asyncio.timeout(seconds):
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) >= limit:
                    break
    return bytes(body[:limit])
