"""JSON from a server or a file, parsed so that no nesting can crash whoever walks it.

`json.loads` raises RecursionError past the interpreter's recursion limit, and values nested a few
hundred deep still break recursive code downstream (pretty-printing, marshal), so depth is capped.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # arrays and objects inside each other; real payloads stay far below


def loads(text: str | bytes) -> Any:
    """`json.loads(text)`; ValueError when it is not JSON or is nested deeper than MAX_DEPTH."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    if _openings(text) > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
    return value


def _openings(text: str | bytes) -> int:
    """An upper bound of the nesting depth, counted in C: most texts need no walk."""
    if isinstance(text, str):
        return text.count("[") + text.count("{")
    return text.count(b"[") + text.count(b"{")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` deep (walked without recursion)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
