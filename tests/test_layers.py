"""The layers of docs/architecture.md, checked on every import (lazy ones included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A module may import only from its own tier and the tiers before it.
MONITOR_TIERS = (
    ("monitor.client",),  # bytes to typed items; the stream process
    ("monitor.recording",),  # recordings, playback, feeds
    ("monitor.tui",),  # Textual
    ("monitor.cli", "monitor.plain", "monitor.web", "monitor.web_server",
     "monitor.__main__"),  # the front doors
)
SERVER_TIERS = (
    ("server.wire", "server.errors", "server.auth", "server.settings", "server.connections",
     "server.access_log", "server.open_files"),
    ("server.backends",),
    ("server.broker", "server.streaming", "server.limits", "server.metrics"),
    ("server.simulators", "server.replay"),
    ("server.app", "server.api_docs"),
    ("server.serving", "server.security_flags"),
    ("server.cli", "server.embedded", "server.__main__"),
)
SERVER_MAY_USE = ("monitor.client", "monitor.recording")  # to read recordings: one direction only


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module `path` imports, `from a import b` counted as a and as a.b."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def tier_of(name: str, tiers: tuple[tuple[str, ...], ...]) -> int | None:
    return next((i for i, prefixes in enumerate(tiers) if within(name, prefixes)), None)


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize(("package", "tiers"), [("monitor", MONITOR_TIERS),
                                                ("server", SERVER_TIERS)])
def test_every_module_has_a_tier_and_imports_only_from_below(
    package: str, tiers: tuple[tuple[str, ...], ...]
) -> None:
    wrong = []
    for path in sources(package):
        name = module_name(path)
        if name == package:
            continue
        own = tier_of(name, tiers)
        assert own is not None, f"{name} belongs to no tier: add it to tests/test_layers.py"
        for imported in imports(path):
            tier = tier_of(imported, tiers)
            if tier is not None and tier > own:
                wrong.append(f"{name} imports {imported}")
    assert not wrong, wrong


def test_textual_only_under_monitor_tui() -> None:
    wrong = [f"{module_name(path)} imports {imported}"
             for path in sources("monitor") if not within(module_name(path), ("monitor.tui",))
             for imported in imports(path) if within(imported, ("textual", "rich"))]
    assert not wrong, wrong


def test_the_server_and_the_monitor_import_each_other_one_way_only() -> None:
    wrong = [f"{module_name(path)} imports {imported}"
             for path in sources("monitor") for imported in imports(path)
             if within(imported, ("server",))]
    wrong += [f"{module_name(path)} imports {imported}"
              for path in sources("server") for imported in imports(path)
              if within(imported, ("monitor",)) and not within(imported, SERVER_MAY_USE)]
    assert not wrong, wrong
