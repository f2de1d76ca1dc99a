"""Send a notice as a plain-text e-mail over SMTP (plain, STARTTLS or implicit TLS)."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from .notice import Notice


class EmailNotifier:
    def __init__(self, name: str, host: str, port: int, sender: str, recipients: list[str], *,
                 security: str = "starttls", username: str = "", password: str = "",
                 timeout_s: float = 10.0, ca_file: str = ""):
        if security not in ("plain", "starttls", "ssl"):
            raise ValueError(f"security must be plain, starttls or ssl, not {security!r}")
        if not recipients:
            raise ValueError("an e-mail notifier needs at least one recipient")
        self.name = name
        self.host, self.port = host, port
        self.sender, self.recipients = sender, list(recipients)
        self.security = security
        self.username, self.password = username, password
        self.timeout_s = timeout_s
        self.ca_file = ca_file

    def describe(self) -> str:
        return f"e-mail to {', '.join(self.recipients)} via {self.host}:{self.port} ({self.security})"

    def build(self, notice: Notice) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = notice.title
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        mail["Date"] = format_datetime(notice.time)
        mail["Message-ID"] = make_msgid(domain="obsy")
        if notice.priority in ("high", "urgent"):
            mail["X-Priority"] = "1"  # most mail clients flag this
        mail.set_content(f"{notice.message}\n\nnode: {notice.node}\ntime: {notice.time.isoformat()}\n")
        return mail

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file or None)

    def send(self, notice: Notice) -> None:
        """Raises on any failure (the dispatcher retries and logs)."""
        mail = self.build(notice)
        if self.security == "ssl":
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=self._context())
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        with client:
            if self.security == "starttls":
                client.starttls(context=self._context())
            if self.username:
                client.login(self.username, self.password)
            client.send_message(mail)
