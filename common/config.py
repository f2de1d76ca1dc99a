"""Configuration: one TOML file per role, ``OBSY_*`` environment overrides.

Validated at start-up: a wrong value stops the process with a message that
names the key, the value and what is allowed. Nested keys are overridden with
a double underscore, e.g. ``OBSY_STORE__KIND=s3``.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from . import paths
from .contracts import NODE_NAME_PATTERN


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key and why."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseConfig(Section):
    url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in the data directory")

    def resolved_url(self) -> str:
        return self.url or f"sqlite:///{paths.data_dir() / 'obsy.db'}"


class StoreConfig(Section):
    kind: Literal["local", "s3"] = "local"
    path: str = Field(default="", description="local: repository directory; empty means the data directory")
    endpoint: str = Field(default="", description="s3: host:port of the S3 server")
    access_key: str = ""
    secret_key: str = ""
    bucket: str = "obsy"
    secure: bool = True
    region: str = ""

    @model_validator(mode="after")
    def _s3_needs_endpoint(self):
        if self.kind == "s3" and not self.endpoint:
            raise ValueError("store.kind is 's3' but store.endpoint is empty: give host:port of the S3 server")
        return self

    def resolved_path(self) -> Path:
        return Path(self.path) if self.path else paths.data_dir() / "repository"


class BrokerConfig(Section):
    kind: Literal["embedded", "rabbitmq"] = "embedded"
    url: str = Field(default="amqp://guest:guest@127.0.0.1:5672/%2F", description="rabbitmq: AMQP URL")


class WebConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=2, ge=1, le=64)
    secret_key: str = Field(default="", description="Flask secret key; empty means one generated and kept in the data directory")
    public_url: str = ""


class WorkerConfig(Section):
    processes: int = Field(default=2, ge=1, le=64)
    threads: int = Field(default=2, ge=1, le=64)


class NodesConfig(Section):
    offline_after_s: float = Field(default=120.0, gt=0, description="a node silent this long is shown offline")


class NodeIdentity(Section):
    name: str = Field(default="scope1", pattern=NODE_NAME_PATTERN)
    site: str = "home"


class SpoolConfig(Section):
    path: str = Field(default="", description="empty means <data dir>/spool/<node name>")
    resend_after_s: float = Field(default=60.0, gt=0, description="re-claim a frame the master has not confirmed after this long")
    retry_max_s: float = Field(default=30.0, gt=0, description="longest back-off between upload attempts")


class SimulatorConfig(Section):
    enabled: bool = True
    frame_interval_s: float = Field(default=5.0, gt=0, description="wall-clock seconds between simulated frames")
    exposure_s: float = Field(default=120.0, gt=0, description="exposure written in the simulated header")
    max_frames: int = Field(default=0, ge=0, description="stop after this many frames; 0 means never")
    width: int = Field(default=1280, ge=64, le=16384)
    height: int = Field(default=1024, ge=64, le=16384)
    targets: list[str] = Field(default_factory=lambda: ["M31", "M42", "NGC 7000"])
    filters: list[str] = Field(default_factory=lambda: ["L", "R", "G", "B"])


class RoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OBSY_", env_nested_delimiter="__", extra="forbid")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init (tests) > environment > TOML file
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


class MasterConfig(RoleSettings):
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    nodes: NodesConfig = Field(default_factory=NodesConfig)


class TelescopeConfig(RoleSettings):
    node: NodeIdentity = Field(default_factory=NodeIdentity)
    store: StoreConfig = Field(default_factory=StoreConfig)
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    spool: SpoolConfig = Field(default_factory=SpoolConfig)
    simulator: SimulatorConfig = Field(default_factory=SimulatorConfig)
    heartbeat_s: float = Field(default=15.0, gt=0)


ROLE_CONFIGS: dict[str, type[RoleSettings]] = {
    "master": MasterConfig,
    "telescope": TelescopeConfig,
}


def _format_errors(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(file)"
        if item["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key (value {item['input']!r}); check its spelling")
        elif item["type"] == "missing":
            lines.append(f"  {key}: required key is missing")
        else:
            lines.append(f"  {key} = {item['input']!r}: {item['msg']}")
    return "\n".join(lines)


def load_config(role: str, path: str | Path | None = None, **overrides) -> RoleSettings:
    """Read the role's TOML file (if it exists, or if given) plus OBSY_* overrides."""
    try:
        cls = ROLE_CONFIGS[role]
    except KeyError:
        raise ConfigError(f"unknown role {role!r}; allowed: {', '.join(sorted(ROLE_CONFIGS))}") from None
    explicit = path is not None
    path = Path(path) if explicit else paths.default_config_path(role)
    if explicit and not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    if path.is_file():
        try:
            with path.open("rb") as handle:
                tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        bound = type(cls.__name__, (cls,), {"model_config": {**cls.model_config, "toml_file": path}})
    else:
        bound = type(cls.__name__, (cls,), {"model_config": {**cls.model_config, "toml_file": None}})
    try:
        return bound(**overrides)
    except ValidationError as exc:
        where = f"config file {path}" if path.is_file() else "configuration"
        raise ConfigError(f"{where} (with OBSY_* environment overrides) has invalid values:\n{_format_errors(exc)}") from None
