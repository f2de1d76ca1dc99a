"""Subscribes to ``<prefix>/<site>/#`` and keeps :class:`LiveState` up to date.

paho's network thread connects in the background and reconnects with back-off; while the broker
is away the state keeps its last values and says since when the connection is lost.
"""
from __future__ import annotations

import logging
import socket

from common import live
from .state import LiveState, handle_message

log = logging.getLogger(__name__)


class LiveSubscriber:
    def __init__(self, config, state: LiveState, client_id: str | None = None):
        self.config = config
        self.state = state
        self.filter = live.site_filter(config.topic_prefix, config.site)
        client_id = client_id or f"obsy-remote-{config.site}-{socket.gethostname()}"[:64]
        self.client = live.make_mqtt_client(config, client_id)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self._running = False

    def start(self) -> "LiveSubscriber":
        self.client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        self.client.loop_start()
        self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self._running = False
            self.client.disconnect()
            self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("MQTT broker refused the remote node: %s", reason_code)
            return
        client.subscribe(self.filter, qos=1)
        self.state.set_connected(True)
        log.info("remote node subscribed to %s on %s:%s", self.filter, self.config.host, self.config.port)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.state.set_connected(False)
        if self._running:
            log.warning("remote node lost MQTT %s:%s (%s); reconnecting", self.config.host, self.config.port,
                        reason_code)

    def _on_message(self, client, userdata, message) -> None:
        try:
            handle_message(self.state, self.config.topic_prefix, message.topic, message.payload, message.retain)
        except Exception:
            log.exception("remote node could not apply %s", message.topic)
