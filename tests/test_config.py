from __future__ import annotations

import pytest

from siyu.app import create_app
from siyu.config import DEFAULT_SECRET, Settings


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValueError, match="SIYU_SECRET_KEY"):
        create_app(Settings(env="production", secret_key=DEFAULT_SECRET, _env_file=None))  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        Settings(env="production", secret_key="short", _env_file=None).check()  # type: ignore[call-arg]
    Settings(env="production", secret_key="x" * 40, _env_file=None).check()  # type: ignore[call-arg]


def test_settings_come_from_siyu_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIYU_DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("SIYU_PORT", "9000")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "postgresql+asyncpg://u@h/db" and settings.port == 9000
    assert settings.timezone == "Asia/Shanghai" and settings.host == "127.0.0.1"
    assert not settings.runs_embedded_worker
    assert Settings(database_url="sqlite+aiosqlite:///x.db", _env_file=None).runs_embedded_worker  # type: ignore[call-arg]
