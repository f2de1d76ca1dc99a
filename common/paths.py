"""Where OBSY keeps things on this machine when the config does not say."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def data_dir() -> Path:
    override = os.environ.get("OBSY_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir("obsy"))


def config_dir() -> Path:
    override = os.environ.get("OBSY_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("obsy"))


def default_config_path(role: str) -> Path:
    return config_dir() / f"{role}.toml"
