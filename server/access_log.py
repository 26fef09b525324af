"""The access log with credential-like query parameters masked (`?token=***`)."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any
from urllib.parse import unquote_plus

from uvicorn.config import LOGGING_CONFIG

MASK = "***"
CREDENTIAL_PARAMETERS = frozenset({
    "token", "access_token", "refresh_token", "id_token", "auth", "authorization", "api_key",
    "apikey", "key", "password", "passwd", "pwd", "secret", "client_secret", "signature", "sig",
    "x_amz_signature", "x_amz_credential", "x_amz_security_token", "jwt", "session",
})
_CREDENTIAL_SUFFIXES = ("_token", "_secret", "_password", "_key", "_signature")
_PARAMETER = re.compile(r"([^&;=]*)=([^&;]*)")


def is_credential(name: str) -> bool:
    """Whether a query parameter of this name (percent-encoded or not) usually holds a secret."""
    name = unquote_plus(name).strip().lower().replace("-", "_")
    return name in CREDENTIAL_PARAMETERS or name.endswith(_CREDENTIAL_SUFFIXES)


def mask_credentials(target: str) -> str:
    """A request target (path and query) with the values of credential parameters masked."""
    path, mark, query = target.partition("?")
    if not mark:
        return target
    masked = _PARAMETER.sub(
        lambda pair: f"{pair[1]}={MASK}" if is_credential(pair[1]) else pair[0], query)
    return f"{path}?{masked}"


class CredentialFilter(logging.Filter):
    """Masks the request target of uvicorn's access log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn logs (client, method, path with query, http version, status) as the arguments.
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], mask_credentials(args[2]), *args[3:])
        return True


def logging_config() -> dict[str, Any]:
    """uvicorn's logging configuration, with CredentialFilter on its access logger."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["credentials"] = {"()": f"{__name__}.CredentialFilter"}
    config["loggers"]["uvicorn.access"]["filters"] = ["credentials"]
    return config
