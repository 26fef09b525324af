"""A test whose tool is missing is skipped on a laptop, and fails in CI (which installs it)."""

from __future__ import annotations

import pytest

from tests.servers import require


def test_a_missing_tool_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install x"):
        require(None, "x", "apt-get install x")


def test_a_missing_tool_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must not skip"):
        require(None, "x", "apt-get install x")
    require("/usr/bin/x", "x", "")
