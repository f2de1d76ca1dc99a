"""Build the notifications a config asks for (``[notify]`` in observatory.toml)."""
from __future__ import annotations

import logging

from common.config import ObservatoryConfig
from common.config_observatory import NotifyChannelConfig

from .dispatch import Dispatcher
from .mail import EmailNotifier
from .triggers import AlarmNotices, SafetyNotices
from .webhook import WebhookNotifier

log = logging.getLogger(__name__)


def build_notifier(spec: NotifyChannelConfig):
    if spec.kind == "email":
        return EmailNotifier(spec.name, spec.smtp_host, spec.smtp_port, spec.sender, spec.to, security=spec.security,
                             username=spec.username, password=spec.password, timeout_s=spec.timeout_s,
                             ca_file=spec.ca_file)
    return WebhookNotifier(spec.name, spec.url, method=spec.method, format=spec.format, headers=spec.headers,
                           fields=spec.fields, timeout_s=spec.timeout_s)


class Notifications:
    """What the node loop and the roof controller call; returns at once and never raises."""

    def __init__(self, dispatcher: Dispatcher, safety: SafetyNotices | None, alarms: AlarmNotices | None):
        self.dispatcher = dispatcher
        self.safety = safety
        self.alarms = alarms

    def on_status(self, status) -> None:
        if self.safety is None:
            return
        try:
            self.safety(status)
        except Exception:
            log.exception("safety notice failed")

    def on_alarm(self, alarm) -> None:
        if self.alarms is None:
            return
        try:
            self.alarms(alarm)
        except Exception:
            log.exception("alarm notice failed")

    def describe(self) -> str:
        return self.dispatcher.describe()

    def close(self) -> None:
        self.dispatcher.close()


def build_notifications(config: ObservatoryConfig) -> Notifications:
    nc = config.notify
    if not nc.enabled:
        return Notifications(Dispatcher([]), None, None)
    dispatcher = Dispatcher([build_notifier(spec) for spec in nc.channels], nc.attempts, nc.retry_s)
    node = config.node.name
    return Notifications(dispatcher,
                         SafetyNotices(node, dispatcher.submit, nc.min_interval_s) if nc.on_safety else None,
                         AlarmNotices(node, dispatcher.submit, nc.min_interval_s) if nc.on_alarms else None)
