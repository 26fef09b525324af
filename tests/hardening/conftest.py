from __future__ import annotations

from collections import Counter
from typing import Any

FIGURES: Counter[str] = Counter()  # what the hardening tests held, printed at the end (README)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("hardening figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")
