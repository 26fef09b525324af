"""Optional bearer tokens, one set for subscribing (streams, topics, metrics), one for publishing.

A token comes in the `Authorization: Bearer` header, in the session cookie a browser got from
`POST /session`, or (only where the operator allows it) in the `access_token` query parameter.
Tokens are never logged. They are compared as exact bytes; a token a header cannot carry as it is
is refused at start-up.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes

from server.errors import ApiError

TOKENS_ENV = "SSE_TOKENS"  # subscribe tokens, separated by commas or whitespace
PUBLISH_TOKENS_ENV = "SSE_PUBLISH_TOKENS"
SESSION_COOKIE = "sse_token"  # set by POST /session: what EventSource can send
QUERY_TOKEN = "access_token"  # the query parameter of --allow-query-token (RFC 6750)
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


def bearer_token(authorization: str | None) -> bytes | None:
    """The token of an `Authorization: Bearer TOKEN` header, as the bytes that came."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip().encode("latin-1")  # Starlette decoded the bytes as Latin-1


def cookie_value(token: bytes) -> str:
    """The session cookie's value for `token`: percent-encoded, so any header token fits."""
    return quote(token, safe="")


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a request offers: its Authorization header, session cookie and query token."""

    authorization: str | None = None
    cookie: str | None = None  # the cookie's value as sent (percent-encoded)
    query: str | None = None  # None unless the operator allows tokens in the query string

    def offered(self) -> list[bytes]:
        tokens = [bearer_token(self.authorization)]
        if self.cookie:
            tokens.append(unquote_to_bytes(self.cookie))
        if self.query:
            tokens.append(self.query.encode("utf-8"))
        return [token for token in tokens if token]


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

    def check(self, credentials: Credentials, access: Access) -> None:
        """Raise a 401 ApiError unless one of the offered tokens is valid for `access`."""
        tokens = self._publish if access is Access.PUBLISH else self._subscribe
        if not tokens:
            return
        offered = credentials.offered()
        if not offered:
            raise ApiError(401, f"{access} needs a bearer token: send 'Authorization: Bearer "
                                f"TOKEN' (a browser: the cookie of POST /session)", _CHALLENGE)
        if not any(_is_one_of(token, tokens) for token in offered):
            raise ApiError(401, f"the bearer token is not valid for {access}", _CHALLENGE)

    def known(self, token: bytes) -> bool:
        """Whether `token` is valid for subscribing or publishing."""
        return _is_one_of(token, self._subscribe) | _is_one_of(token, self._publish)


def _is_one_of(offered: bytes, tokens: list[bytes]) -> bool:
    # Compare with every token, in constant time each, so timing tells nothing.
    return bool(sum(hmac.compare_digest(offered, token) for token in tokens))


def header_bytes(token: str) -> bytes:
    """The bytes a client sends for `token`; ValueError for one no header carries as it is."""
    if (problem := token_problem(token)) is not None:
        raise ValueError(f"a token cannot travel in an HTTP header: {problem}")
    return token.encode("ascii")
