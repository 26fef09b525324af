"""Optional bearer tokens, one set for subscribing (streams, topics, metrics), one for publishing.

Tokens come only in the `Authorization: Bearer` header, never in a URL, and are never logged.
They are compared as exact bytes; a token a header cannot carry as it is is refused at start-up.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable, Mapping
from enum import StrEnum
from pathlib import Path

from server.errors import ApiError

TOKENS_ENV = "SSE_TOKENS"  # subscribe tokens, separated by commas or whitespace
PUBLISH_TOKENS_ENV = "SSE_PUBLISH_TOKENS"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="sse-demo-server"'}


class Access(StrEnum):
    SUBSCRIBE = "subscribe"
    PUBLISH = "publish"


def token_problem(token: str) -> str | None:
    """Why `token` cannot travel in an Authorization header as it is, or None if it can.

    Only visible ASCII does: other characters would be sent as bytes the two ends may read
    differently. The message never quotes the token.
    """
    if not token:
        return "it is empty"
    for position, char in enumerate(token, 1):
        if not "!" <= char <= "~":
            kind = ("a space" if char == " " else "a non-ASCII character" if char > "~"
                    else "a control character")
            return (f"character {position} is {kind}; a token must be visible ASCII "
                    "(letters, digits and punctuation, no spaces)")
    return None


def read_tokens(path: str | os.PathLike[str]) -> list[str]:
    """Tokens from a file: one per line; blank lines and `#` comments are skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def env_tokens(name: str, environ: Mapping[str, str] = os.environ) -> list[str]:
    return (environ.get(name) or "").replace(",", " ").split()


class TokenAuth:
    """Checks the bearer token of a request against the tokens of the access it needs.

    No subscribe tokens: subscribing is open. No publish tokens: publishing takes a subscribe
    token (so `--token` alone guards the whole server); both open when neither is configured.
    """

    def __init__(self, subscribe: Iterable[str] = (), publish: Iterable[str] = ()) -> None:
        self._subscribe = [header_bytes(token) for token in subscribe if token]
        self._publish = [header_bytes(token) for token in publish if token] or self._subscribe

    @property
    def enabled(self) -> bool:
        return bool(self._subscribe or self._publish)

    def check(self, authorization: str | None, access: Access) -> None:
        """Raise a 401 ApiError unless the header carries a token for `access`."""
        tokens = self._publish if access is Access.PUBLISH else self._subscribe
        if not tokens:
            return
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise ApiError(401, f"{access} needs a bearer token: send 'Authorization: Bearer "
                                "TOKEN'", _CHALLENGE)
        offered = credentials.strip().encode("latin-1")  # Starlette decoded the bytes as Latin-1
        # Compare with every token, in constant time each, so timing tells nothing.
        if not sum(hmac.compare_digest(offered, token) for token in tokens):
            raise ApiError(401, f"the bearer token is not valid for {access}", _CHALLENGE)


def header_bytes(token: str) -> bytes:
    """The bytes a client sends for `token`; ValueError for one no header carries as it is."""
    if (problem := token_problem(token)) is not None:
        raise ValueError(f"a token cannot travel in an HTTP header: {problem}")
    return token.encode("ascii")
