"""OpenAPI descriptions of what routes parse by hand, so the schema (and schemathesis) know them."""

from __future__ import annotations

from typing import Any

from server import wire

EVENT_PATTERN = "[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}"
_REASONS = {400: "Bad request", 401: "Missing or wrong bearer token", 404: "Unknown topic",
            409: "Every topic is in use, or the topic is one the server publishes itself",
            413: "Body too large", 422: "Not an event object",
            429: "Too many publish requests (see Retry-After)", 503: "Unavailable"}
_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries: each status answered with `{"error": "..."}`."""
    return {status: {"description": _REASONS[status],
                     "content": {"application/json": {"schema": _ERROR}}}
            for status in statuses}


PUBLISHED = {201: {"description": "Published", "content": {"application/json": {"schema": {
    "type": "object", "required": ["id", "topic"],
    "properties": {"id": {"type": "string"}, "topic": {"type": "string"}}}}}}}

TOPIC_PARAMETERS = [{"name": "topic", "in": "path", "required": True, "schema": {
    "type": "string", "pattern": f"^{wire.TOPIC_PATTERN.pattern}$"}}]

DELETE_OPERATION: dict[str, Any] = {"parameters": TOPIC_PARAMETERS}

PUBLISH_OPERATION: dict[str, Any] = {
    "parameters": TOPIC_PARAMETERS,
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["event"], "additionalProperties": False,
        "properties": {"event": {"type": "string", "pattern": f"^{EVENT_PATTERN}$",
                                 "not": {"enum": sorted(wire.RESERVED_EVENTS)}},
                       "data": {}}}}}},
}
