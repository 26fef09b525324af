"""Optional bearer tokens, one set for subscribing (streams, topics, metrics), one for publishing.

Tokens come only in the `Authorization: Bearer` header, never in a URL, and are never logged.
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
        self._subscribe = [token.encode("latin-1", "replace") for token in subscribe if token]
        self._publish = [token.encode("latin-1", "replace") for token in publish if token] or (
            self._subscribe)

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
        offered = credentials.strip().encode("latin-1", "replace")  # how Starlette decoded it
        # Compare with every token, in constant time each, so timing tells nothing.
        if not sum(hmac.compare_digest(offered, token) for token in tokens):
            raise ApiError(401, f"the bearer token is not valid for {access}", _CHALLENGE)
