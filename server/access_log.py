"""The access log with credential-like query parameters masked (`?token=***`)."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from monitor.client.redaction import MASK, is_credential

_PARAMETER = re.compile(r"([^&;=]*)=([^&;]*)")


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
