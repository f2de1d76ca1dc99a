"""Send a notice to an HTTP endpoint.

Formats:

* ``json``: a JSON object (``title``, ``message``, ``priority``, ``kind``, ``node``, ``time`` and the
  notice's details) plus the channel's ``fields``; a Home Assistant webhook trigger
  (``/api/webhook/<id>``) reads it as ``trigger.json``.
* ``ntfy``: the message as plain text, with ``Title``, ``Priority`` (1-5) and ``Tags`` headers, as
  an ntfy server takes it on ``POST /<topic>``.
* ``pushover``: a JSON object for Pushover's ``/1/messages.json`` (``message``, ``title``,
  ``priority`` on Pushover's -2..2 scale); put ``token`` and ``user`` in ``fields``.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from .notice import Notice

NTFY_PRIORITY = {"low": "2", "default": "3", "high": "4", "urgent": "5"}
# Pushover's 2 (emergency) needs retry/expire parameters and repeats until acknowledged: not used
PUSHOVER_PRIORITY = {"low": -1, "default": 0, "high": 1, "urgent": 1}
NTFY_TAGS = {"safety": "cloud", "alarm": "rotating_light"}


class WebhookError(Exception):
    pass


class WebhookNotifier:
    def __init__(self, name: str, url: str, *, method: str = "POST", format: str = "json",
                 headers: dict[str, str] | None = None, fields: dict | None = None, timeout_s: float = 10.0):
        if format not in ("json", "ntfy", "pushover"):
            raise ValueError(f"format must be json, ntfy or pushover, not {format!r}")
        self.name = name
        self.url = url
        self.method = method.upper()
        self.format = format
        self.headers = dict(headers or {})
        self.fields = dict(fields or {})
        self.timeout_s = timeout_s

    def describe(self) -> str:
        return f"webhook {self.method} {self.url} ({self.format})"

    def request(self, notice: Notice) -> urllib.request.Request:
        headers = dict(self.headers)
        if self.format == "ntfy":
            body = notice.message.encode("utf-8")
            # HTTP headers are latin-1: keep the title plain so any server reads it
            headers.setdefault("Title", notice.title.encode("latin-1", "replace").decode("latin-1"))
            headers.setdefault("Priority", NTFY_PRIORITY[notice.priority])
            headers.setdefault("Tags", NTFY_TAGS.get(notice.kind, "telescope"))
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            if self.format == "pushover":
                payload = {"title": notice.title, "message": notice.message,
                           "priority": PUSHOVER_PRIORITY[notice.priority]}
            else:
                payload = notice.to_dict()
            payload.update(self.fields)
            body = json.dumps(payload).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        return urllib.request.Request(self.url, data=body, headers=headers, method=self.method)

    def send(self, notice: Notice) -> None:
        """Raises on a failure or a non-2xx answer (the dispatcher retries and logs)."""
        try:
            with urllib.request.urlopen(self.request(notice), timeout=self.timeout_s) as answer:
                answer.read(65536)
        except urllib.error.HTTPError as exc:
            text = exc.read(300).decode("utf-8", "replace").strip()
            raise WebhookError(f"HTTP {exc.code} from {self.url}{': ' + text if text else ''}") from None
