"""API tokens come from settings: JSON in the environment and/or a YAML file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from api.auth import Caller, TokenRegistry
from api.roles import Role
from touchlog.bootstrap import api_tokens
from touchlog.settings import Settings


def test_tokens_from_the_environment_and_a_yaml_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(
        "TOUCHLOG_API_TOKENS", '{"t-1": {"role": "agent", "name": "Ann (call centre)"}}'
    )
    tokens_file = tmp_path / "tokens.yaml"
    tokens_file.write_text("t-2:\n  role: manager\n  name: Max\n")
    monkeypatch.setenv("TOUCHLOG_API_TOKENS_FILE", str(tokens_file))
    assert api_tokens(Settings()) == {
        "t-1": Caller("Ann (call centre)", Role.AGENT),
        "t-2": Caller("Max", Role.MANAGER),
    }


def test_an_unknown_role_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHLOG_API_TOKENS", '{"t-1": {"role": "admin", "name": "Eve"}}')
    with pytest.raises(ValidationError, match="role"):
        Settings()


def test_no_tokens_is_said_in_the_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOUCHLOG_API_TOKENS", raising=False)
    with capture_logs() as logs:
        assert api_tokens(Settings()) == {}
    assert [e["event"] for e in logs] == ["api_tokens_missing"]


def test_a_token_may_be_configured_by_its_digest() -> None:
    digest = "sha256:" + "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
    registry = TokenRegistry(
        {digest: Caller("Mia", Role.MARKETING), "plain": Caller("A", Role.AGENT)}
    )
    assert registry.caller("secret") == Caller("Mia", Role.MARKETING)
    assert registry.caller("plain") == Caller("A", Role.AGENT)
    assert registry.caller("sha256:" + digest) is None
    assert registry.caller("guess") is None
