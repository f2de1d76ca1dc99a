"""Serve :class:`~.alpaca_api.AlpacaSafetyMonitor` over HTTP, and answer Alpaca discovery on UDP.

Both run on daemon threads of their own (the stdlib servers), so neither ever blocks the
monitor loop; a broken request is answered or dropped, never raised into the node.
"""
from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .alpaca_api import AlpacaSafetyMonitor, Reply

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
DISCOVERY_MESSAGE = b"alpacadiscovery1"


def _handler(device: AlpacaSafetyMonitor):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: clients poll issafe every few seconds
        timeout = 120  # an idle kept-alive connection frees its thread after this long

        def _answer(self, method: str, params: dict[str, str]) -> None:
            try:
                reply = device.handle(method, urlsplit(self.path).path, params)
            except Exception as exc:  # a bug answers 500 and leaves the server up
                log.exception("alpaca request %s %s failed", method, self.path)
                reply = Reply(500, f"internal error: {type(exc).__name__}")
            if isinstance(reply.body, dict):
                data, kind = json.dumps(reply.body).encode(), "application/json"
            else:
                data, kind = reply.body.encode(), "text/plain; charset=utf-8"
            self.send_response(reply.status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - http.server's naming
            self._answer("GET", dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True)))

        def do_PUT(self):  # noqa: N802
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY_BYTES:
                self.send_error(400, "Content-Length missing, invalid or too large")
                return
            body = self.rfile.read(length).decode("utf-8", "replace")
            self._answer("PUT", dict(parse_qsl(body, keep_blank_values=True)))

        def log_message(self, fmt, *args):
            log.debug("alpaca %s: " + fmt, self.client_address[0], *args)

    return Handler


class AlpacaServer:
    """The HTTP server and, with ``discovery_port``, the UDP discovery responder, on ``host``."""

    def __init__(self, device: AlpacaSafetyMonitor, host: str = "127.0.0.1", port: int = 11111,
                 discovery_port: int | None = None):
        self.device = device
        self.host = host
        self._httpd = ThreadingHTTPServer((host, port), _handler(device))
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._udp: socket.socket | None = None
        if discovery_port is not None:
            self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._udp.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            self._udp.bind((host, discovery_port))
            self._udp.settimeout(0.5)  # so that stop() is noticed
        self.discovery_port = self._udp.getsockname()[1] if self._udp else None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> AlpacaServer:
        self._threads.append(threading.Thread(target=self._httpd.serve_forever, name="alpaca-http", daemon=True))
        if self._udp is not None:
            self._threads.append(threading.Thread(target=self._discovery, name="alpaca-discovery", daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def _discovery(self) -> None:
        answer = json.dumps({"AlpacaPort": self.port}).encode()
        while not self._stop.is_set():
            try:
                data, sender = self._udp.recvfrom(1024)
            except socket.timeout:
                continue
            except OSError:
                return  # closed by stop()
            if data.startswith(DISCOVERY_MESSAGE):
                try:
                    self._udp.sendto(answer, sender)
                except OSError as exc:
                    log.debug("discovery answer to %s failed: %s", sender, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._threads:  # shutdown() waits for serve_forever, which must have started
            self._httpd.shutdown()
        self._httpd.server_close()
        if self._udp is not None:
            self._udp.close()
        for thread in self._threads:
            thread.join(2.0)
