"""Notifications: real SMTP (aiosmtpd) and HTTP servers on loopback, triggers, and a loop that never waits."""
import json
import logging
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from common.config import ConfigError, load_config
from common.config_example import example
from node_observatory.cli import run_loop, status_handler
from node_observatory.notify import (AlarmNotices, ChannelWorker, EmailNotifier, Notice, SafetyNotices,
                                     WebhookNotifier, build_notifications)
from node_observatory.roof.controller import Alarm
from node_observatory.roof.factory import build_roof_controller
from node_observatory.safety import Reading, SafetyMonitor, SafetySource, SourcePolicy, SourceSlot, Verdict
from node_observatory.safety.monitor import SafetyStatus
from tests.servers import free_port

T0 = datetime(2026, 12, 1, 22, 0, tzinfo=timezone.utc)


def notice(title="roof1: safety unsafe", priority="high", kind="safety") -> Notice:
    return Notice(kind, title, "Safety state safe -> unsafe.\n- rain reported", priority, T0, "roof1",
                  {"state": "unsafe"})


def status(state: str, at: datetime, reasons=("rain: rain reported",)) -> SafetyStatus:
    verdict = Verdict(state)
    return SafetyStatus(at, verdict, verdict, tuple(reasons) if state != "safe" else (), (), None)


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


# --- SMTP ---------------------------------------------------------------------------------

class Inbox:
    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content),
                           session.authenticated))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"obs" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)  # let aiosmtpd answer 235 or 535


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    base = tmp_path_factory.mktemp("tls")
    cert, key = base / "cert.pem", base / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def smtp_server(inbox, **kwargs):
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator, **kwargs)
    controller.start()
    return controller


def test_email_plain_with_login_reaches_every_recipient():
    inbox = Inbox()
    server = smtp_server(inbox, auth_require_tls=False)
    try:
        mailer = EmailNotifier("mail", "127.0.0.1", server.port, "obsy@example.org", ["a@example.org", "b@example.org"],
                               security="plain", username="obs", password="s3cret", timeout_s=5)
        mailer.send(notice())
    finally:
        server.stop()
    [(sender, rcpts, mail, authenticated)] = inbox.mails
    assert sender == "obsy@example.org" and rcpts == ["a@example.org", "b@example.org"] and authenticated
    assert mail["Subject"] == "roof1: safety unsafe" and mail["X-Priority"] == "1"
    assert "rain reported" in mail.get_payload()


def test_email_wrong_password_raises():
    server = smtp_server(Inbox(), auth_require_tls=False)
    try:
        mailer = EmailNotifier("mail", "127.0.0.1", server.port, "obsy@example.org", ["a@example.org"],
                               security="plain", username="obs", password="wrong", timeout_s=5)
        with pytest.raises(Exception, match="535|uthentication"):
            mailer.send(notice())
    finally:
        server.stop()


def test_email_starttls_and_ssl_with_a_private_ca(certificate):
    import ssl

    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    starttls = smtp_server(inbox, tls_context=context, require_starttls=True)
    # aiosmtpd cannot tell that an implicit-TLS session is encrypted, so it must be told to allow AUTH
    implicit = smtp_server(inbox, ssl_context=context, auth_require_tls=False)
    try:
        for server, security in ((starttls, "starttls"), (implicit, "ssl")):
            EmailNotifier("mail", "127.0.0.1", server.port, "obsy@example.org", ["a@example.org"], security=security,
                          username="obs", password="s3cret", timeout_s=5, ca_file=str(cert)).send(notice())
        # without the private CA the certificate is refused: the check is real
        with pytest.raises(ssl.SSLError):
            EmailNotifier("mail", "127.0.0.1", starttls.port, "obsy@example.org", ["a@example.org"],
                          security="starttls", timeout_s=5).send(notice())
    finally:
        starttls.stop()
        implicit.stop()
    assert len(inbox.mails) == 2 and all(m[3] for m in inbox.mails)


# --- HTTP ---------------------------------------------------------------------------------

class Hook:
    """A loopback HTTP server that records requests; ``delay_s`` and ``status`` make it misbehave."""

    def __init__(self, status=200, delay_s=0.0):
        self.requests = []
        self.status, self.delay_s = status, delay_s
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.requests.append((self.command, self.path, dict(self.headers), body))
                time.sleep(hook.delay_s)
                try:
                    self.send_response(hook.status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the client gave up waiting (the slow-server test)
                    pass

            do_POST = do_PUT = _any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    server = Hook()
    yield server
    server.close()


def test_webhook_json_for_home_assistant(hook):
    WebhookNotifier("ha", hook.url + "/api/webhook/obsy-roof1", fields={"site": "home"}).send(notice())
    [(method, path, headers, body)] = hook.requests
    payload = json.loads(body)
    assert method == "POST" and path == "/api/webhook/obsy-roof1" and headers["Content-Type"] == "application/json"
    assert payload["state"] == "unsafe" and payload["title"] == "roof1: safety unsafe" and payload["site"] == "home"
    assert payload["time"] == T0.isoformat() and payload["node"] == "roof1"


def test_webhook_ntfy_plain_text_with_headers(hook):
    WebhookNotifier("phone", hook.url + "/obsy-topic", method="PUT", format="ntfy",
                    headers={"Authorization": "Bearer tk_x"}).send(notice(priority="urgent", kind="alarm"))
    [(method, path, headers, body)] = hook.requests
    assert method == "PUT" and path == "/obsy-topic" and body.decode().startswith("Safety state safe -> unsafe.")
    assert headers["Title"] == "roof1: safety unsafe" and headers["Priority"] == "5"
    assert headers["Tags"] == "rotating_light" and headers["Authorization"] == "Bearer tk_x"


def test_webhook_pushover_body(hook):
    WebhookNotifier("po", hook.url + "/1/messages.json", format="pushover",
                    fields={"token": "APP", "user": "USER"}).send(notice(priority="low"))
    payload = json.loads(hook.requests[0][3])
    assert payload == {"title": "roof1: safety unsafe", "message": notice().message, "priority": -1,
                       "token": "APP", "user": "USER"}


def test_http_error_is_retried_a_bounded_number_of_times_and_logged(caplog):
    server = Hook(status=500)
    worker = ChannelWorker(WebhookNotifier("ha", server.url + "/x", timeout_s=2), attempts=3, retry_s=0.01).start()
    try:
        with caplog.at_level(logging.INFO, logger="node_observatory.notify"):
            worker.submit(notice())
            assert wait_for(lambda: worker.failed == 1)
    finally:
        worker.close()
        server.close()
    assert len(server.requests) == 3 and worker.sent == 0
    assert "not sent after 3 attempt(s)" in caplog.text and "HTTP 500" in caplog.text


def test_server_down_is_logged_and_the_next_notice_is_still_tried(caplog):
    port = free_port()  # nothing listens there
    worker = ChannelWorker(WebhookNotifier("ha", f"http://127.0.0.1:{port}/x", timeout_s=2), attempts=2,
                           retry_s=0.01).start()
    try:
        with caplog.at_level(logging.WARNING, logger="node_observatory.notify"):
            worker.submit(notice("first"))
            worker.submit(notice("second"))
            assert wait_for(lambda: worker.failed == 2)
    finally:
        worker.close()
    assert "'first' not sent" in caplog.text and "'second' not sent" in caplog.text
    assert "refused" in caplog.text.lower()


def test_a_full_backlog_drops_the_oldest_and_submit_never_blocks():
    gate, busy = threading.Event(), threading.Event()
    seen = []

    class Stuck:
        name = "stuck"

        def send(self, n):
            busy.set()
            gate.wait(10)
            seen.append(n.title)

        def describe(self):
            return "stuck"

    worker = ChannelWorker(Stuck(), attempts=1, backlog=3).start()
    worker.submit(notice("n0"))
    assert busy.wait(5)  # the worker holds n0 in a send that does not return
    started = time.monotonic()
    for i in range(1, 10):
        worker.submit(notice(f"n{i}"))
    elapsed = time.monotonic() - started
    gate.set()
    assert wait_for(lambda: len(seen) == 4)
    worker.close()
    assert elapsed < 0.5
    assert seen == ["n0", "n7", "n8", "n9"] and worker.dropped == 6


class Flapping(SafetySource):
    """A source that is wet on every other reading."""

    def __init__(self):
        super().__init__("rain")
        self.n = 0

    def measure(self, now):
        self.n += 1
        return Reading(self.name, now, {"rain": self.n % 2 == 0})


def observatory_config(tmp_path, channels: str, extra: str = ""):
    path = tmp_path / "observatory.toml"
    path.write_text(f"[roof]\nkind = \"simulator\"\nstate_file = \"{tmp_path / 'roof.json'}\"\n"
                    f"[notify]\nenabled = true\nmin_interval_s = 0\nattempts = 2\nretry_s = 0.2\n{extra}\n{channels}")
    return load_config("observatory", path)


def test_a_slow_webhook_never_delays_the_monitor_loop(tmp_path, caplog):
    server = Hook(delay_s=3.0)  # answers long after the channel's timeout
    config = observatory_config(tmp_path, f"""[[notify.channels]]
name = "slow"
kind = "webhook"
url = "{server.url}/hook"
timeout_s = 1
""")
    notifications = build_notifications(config)
    from node_observatory.safety import FlagRule

    monitor = SafetyMonitor([SourceSlot(Flapping(), SourcePolicy(0.001, 60.0, True, [FlagRule("rain")]))],
                            min_safe_s=0, hold_at_start=False)
    stop = threading.Event()
    states = []

    def count(st):
        states.append(st.state)
        if len(states) >= 40:
            stop.set()

    handle = status_handler(lambda st: None, None, None, notify=notifications.on_status)
    started = time.monotonic()
    try:
        with caplog.at_level(logging.WARNING, logger="node_observatory.notify"):
            run_loop(monitor, 0.005, stop, lambda line: None, on_status=lambda st: (handle(st), count(st)))
            elapsed = time.monotonic() - started
            worker = notifications.dispatcher.workers[0]
            assert wait_for(lambda: worker.failed >= 1, timeout=15)
    finally:
        notifications.close()
        server.close()
    # 39 changes of state, each one a notice to a server that takes 3 s: the loop did not wait for any
    assert states.count(Verdict.UNSAFE) == 20 and states.count(Verdict.SAFE) == 20
    assert elapsed < 2.0, elapsed
    assert len(server.requests) >= 1 and "timed out" in caplog.text


# --- triggers -----------------------------------------------------------------------------

def test_safety_changes_are_sent_and_a_flap_within_the_interval_is_not():
    sent = []
    notices = SafetyNotices("roof1", sent.append, min_interval_s=300)
    assert notices(status("unsafe", T0)) is None  # the state at start is no news
    assert notices(status("safe", T0 + timedelta(seconds=10))).title == "roof1: safe again"
    # flapping: unsafe, safe, unsafe within the interval -> nothing yet
    for i, state in enumerate(["unsafe", "safe", "unsafe", "safe"]):
        assert notices(status(state, T0 + timedelta(seconds=20 + i))) is None
    # the interval passes while safe: the last word sent (safe) is still true, nothing to send
    assert notices(status("safe", T0 + timedelta(seconds=400))) is None
    assert notices(status("unknown", T0 + timedelta(seconds=401))).title == "roof1: safety unknown"
    assert notices(status("unsafe", T0 + timedelta(seconds=402))) is None
    late = notices(status("unsafe", T0 + timedelta(seconds=701)))
    assert [n.title for n in sent] == ["roof1: safe again", "roof1: safety unknown", "roof1: safety unsafe"]
    assert late.details["previous"] == "unknown" and late.priority == "high"
    assert "changed 1 times" not in late.message and "- rain: rain reported" in late.message
    assert "changed 5 times" in sent[1].message


def test_alarms_are_sent_once_per_interval_each():
    sent = []
    alarms = AlarmNotices("roof1", sent.append, min_interval_s=60)
    park = Alarm("critical", "mount not confirmed parked after 180 s", T0)
    assert alarms(park).priority == "urgent"
    assert alarms(Alarm("critical", park.message, T0 + timedelta(seconds=30))) is None
    assert alarms(Alarm("warning", "open refused: sky is unsafe", T0 + timedelta(seconds=31))).priority == "high"
    assert alarms(Alarm("critical", park.message, T0 + timedelta(seconds=61))) is not None
    assert [n.title for n in sent] == ["roof1: roof critical", "roof1: roof warning", "roof1: roof critical"]


def test_a_failing_hand_over_does_not_reach_the_caller(caplog):
    def broken(n):
        raise RuntimeError("queue gone")

    notices = SafetyNotices("roof1", broken, 0)
    notices(status("safe", T0))
    with caplog.at_level(logging.ERROR):
        assert notices(status("unsafe", T0 + timedelta(seconds=1))) is not None
    assert "not handed to the notifiers" in caplog.text


def test_roof_alarms_reach_the_webhook_through_the_node_wiring(tmp_path, hook):
    config = observatory_config(tmp_path, f"""[[notify.channels]]
name = "ha"
kind = "webhook"
url = "{hook.url}/api/webhook/roof"
""")
    notifications = build_notifications(config)
    try:
        roof = build_roof_controller(config, bus=None, on_alarm=notifications.on_alarm)
        assert not roof.command("open").accepted  # the sky is not known safe: refused, with an alarm
        assert wait_for(lambda: len(hook.requests) == 1)
    finally:
        notifications.close()
    payload = json.loads(hook.requests[0][3])
    assert payload["kind"] == "alarm" and payload["level"] == "warning" and "open refused" in payload["message"]


def test_notify_is_off_by_default_and_the_node_says_what_it_uses(tmp_path):
    off = build_notifications(load_config("observatory"))
    assert off.describe() == "no notifications" and off.safety is None
    off.on_status(status("unsafe", T0))
    off.on_alarm(Alarm("critical", "x", T0))
    on = build_notifications(observatory_config(tmp_path, """[[notify.channels]]
name = "mail"
kind = "email"
smtp_host = "smtp.example.org"
sender = "o@example.org"
to = ["me@example.org"]
""", "on_alarms = false"))
    try:
        assert on.alarms is None and on.safety is not None
        assert on.describe() == "notifications: e-mail to me@example.org via smtp.example.org:587 (starttls)"
    finally:
        on.close()


# --- config -------------------------------------------------------------------------------

@pytest.mark.parametrize("body, message", [
    ("[notify]\nenabled = true", "enabled but has no"),
    ('[[notify.channels]]\nname = "m"\nkind = "email"\nsmtp_host = "h"\nsender = "a@b"', "to must list"),
    ('[[notify.channels]]\nname = "m"\nkind = "email"\nsmtp_host = "h"\nsender = "nobody"\nto = ["a@b"]',
     "is not an e-mail address"),
    ('[[notify.channels]]\nname = "m"\nkind = "email"\nsender = "a@b"\nto = ["a@b"]', "needs smtp_host"),
    ('[[notify.channels]]\nname = "w"\nkind = "webhook"\nurl = "ftp://x"', "is not an http"),
    ('[[notify.channels]]\nname = "w"\nkind = "webhook"\nurl = "http://x"\nformat = "xml"', "notify.channels.0.format"),
    ('[[notify.channels]]\nname = "w"\nkind = "webhook"\nurl = "http://x"\n'
     '[[notify.channels]]\nname = "w"\nkind = "webhook"\nurl = "http://y"', "repeated: w"),
])
def test_bad_notify_config_names_the_problem(tmp_path, body, message):
    path = tmp_path / "observatory.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_config("observatory", path)


def test_example_lists_notify_and_its_commented_channels_load(tmp_path):
    lines = example("observatory").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# channels:")) + 1
    end = lines.index("channels = []")
    uncommented = lines[:start] + [line[2:] for line in lines[start:end]] + lines[end + 1:]
    path = tmp_path / "observatory.toml"
    path.write_text("\n".join(uncommented).replace("enabled = false\n# on_safety", "enabled = true\n# on_safety"))
    config = load_config("observatory", path)
    assert config.notify.enabled and not config.alpaca.enabled
    assert [(c.kind, c.format) for c in config.notify.channels] == [
        ("email", "json"), ("webhook", "ntfy"), ("webhook", "pushover"), ("webhook", "json")]
    assert config.notify.channels[2].fields == {"token": "APP_TOKEN", "user": "USER_KEY"}
