"""Start the exports a config asks for (``[boltwood_export]``, ``[alpaca]``) and feed them each verdict."""
from __future__ import annotations

import logging
import zoneinfo

from common.config import ObservatoryConfig

from ..safety.monitor import SafetyStatus
from .alpaca_api import AlpacaSafetyMonitor, Verdicts
from .alpaca_server import AlpacaServer
from .boltwood import BoltwoodFileWriter

log = logging.getLogger(__name__)


class Exports:
    """What the node loop calls on every verdict; never raises into it."""

    def __init__(self, boltwood: BoltwoodFileWriter | None, verdicts: Verdicts | None, server: AlpacaServer | None):
        self.boltwood = boltwood
        self.verdicts = verdicts
        self.server = server

    def __call__(self, status: SafetyStatus) -> None:
        if self.verdicts is not None:
            self.verdicts.update(status.state, status.time)
        if self.boltwood is not None:
            self.boltwood(status)

    def describe(self) -> str:
        parts = []
        if self.boltwood is not None:
            parts.append(f"Boltwood file {self.boltwood.path}")
        if self.server is not None:
            where = f"http://{self.server.host}:{self.server.port}/api/v1/safetymonitor/0"
            parts.append(f"Alpaca SafetyMonitor {where}"
                         + (f" (discovery on UDP {self.server.discovery_port})" if self.server.discovery_port else ""))
        return "; ".join(parts) or "no exports"

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def start_exports(config: ObservatoryConfig) -> Exports:
    """A port already in use is reported and the node runs without the Alpaca device."""
    bw = config.boltwood_export
    boltwood = None
    if bw.path:
        boltwood = BoltwoodFileWriter(bw.path, zoneinfo.ZoneInfo(bw.timezone) if bw.timezone else None)
    verdicts = server = None
    ac = config.alpaca
    if ac.enabled:
        verdicts = Verdicts()
        device = AlpacaSafetyMonitor(config.node.name, verdicts, ac.verdict_max_age_s, ac.location)
        try:
            server = AlpacaServer(device, ac.host, ac.port, ac.discovery_port if ac.discovery else None).start()
        except OSError as exc:
            log.error("Alpaca SafetyMonitor not started on %s:%d: %s", ac.host, ac.port, exc.strerror or exc)
            verdicts = None
    return Exports(boltwood, verdicts, server)
