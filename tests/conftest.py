"""Shared test setup: no test reads the user's real config or data directory."""
import pytest


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path_factory, monkeypatch):
    base = tmp_path_factory.mktemp("obsy-home")
    monkeypatch.setenv("OBSY_CONFIG_DIR", str(base / "config"))
    monkeypatch.setenv("OBSY_DATA_DIR", str(base / "data"))
    for name in list(__import__("os").environ):
        if name.startswith("OBSY_") and name not in ("OBSY_CONFIG_DIR", "OBSY_DATA_DIR"):
            monkeypatch.delenv(name)
