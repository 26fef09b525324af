"""Keep credentials off the screen and out of logs: `redact(text)` masks every known secret.

The CLI remembers the tokens and sensitive header values it was given; anything shown to a
person (state lines, errors, the TUI's header, URLs) goes through `redact` first.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

MASK = "***"
SENSITIVE_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token",
})
_MIN_SECRET = 4  # shorter values would mask ordinary words; they are no secret either
_SCHEMES = ("bearer ", "basic ", "token ")
# user:password@ in a URL, and query parameters that usually carry credentials.
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]*@")
_PARAM = re.compile(r"([?&])([^&=#\s]*)=([^&#\s]*)")
# Query parameters that usually carry credentials (also the server's access log masks these).
CREDENTIAL_PARAMETERS = frozenset({
    "token", "access_token", "refresh_token", "id_token", "auth", "authorization", "api_key",
    "apikey", "key", "password", "passwd", "pwd", "secret", "client_secret", "signature", "sig",
    "x_amz_signature", "x_amz_credential", "x_amz_security_token", "jwt", "session",
})
_CREDENTIAL_SUFFIXES = ("_token", "_secret", "_password", "_key", "_signature")
_known: set[str] = set()


def remember(value: str) -> None:
    """Mask `value` (and, for `Bearer X`, X alone) wherever redact() sees it from now on."""
    value = value.strip()
    candidates = [value]
    if value.lower().startswith(_SCHEMES):
        candidates.append(value.split(None, 1)[1].strip() if " " in value else "")
    _known.update(c for c in candidates if len(c) >= _MIN_SECRET)


def remember_header(name: str, value: str) -> None:
    """Remember the value of a header that carries credentials."""
    if name.strip().lower() in SENSITIVE_HEADERS:
        remember(value)


def redact(text: str) -> str:
    """`text` with known secrets, URL passwords and credential query parameters masked."""
    if not text:
        return text
    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _USERINFO.sub(rf"\g<1>{MASK}@", text)
    return _PARAM.sub(_masked_parameter, text)


def is_credential(name: str) -> bool:
    """Whether a query parameter of this name (percent-encoded or not) usually holds a secret."""
    name = unquote_plus(name).strip().lower().replace("-", "_")
    return name in CREDENTIAL_PARAMETERS or name.endswith(_CREDENTIAL_SUFFIXES)


def _masked_parameter(pair: re.Match[str]) -> str:
    separator, name, _value = pair.groups()
    return f"{separator}{name}={MASK}" if is_credential(name) else pair[0]


def forget_all() -> None:
    """Forget every remembered secret (tests)."""
    _known.clear()
