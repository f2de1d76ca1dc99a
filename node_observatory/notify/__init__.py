"""Notices on safety changes and roof alarms, by e-mail and webhook, from background threads."""
from .dispatch import ChannelWorker, Dispatcher
from .factory import Notifications, build_notifications, build_notifier
from .mail import EmailNotifier
from .notice import Notice
from .triggers import AlarmNotices, SafetyNotices
from .webhook import WebhookNotifier

__all__ = ["ChannelWorker", "Dispatcher", "Notifications", "build_notifications", "build_notifier",
           "EmailNotifier", "Notice", "AlarmNotices", "SafetyNotices", "WebhookNotifier"]
