"""A stand-in for CDS Sesame on a free loopback port, answering with recorded responses (holds no tests).

``answers`` maps a name (as the client quoted it into the query string,
unquoted again here) to an ``Answer``: wait ``delay_s`` before answering, then
``drip_s`` between bytes of the body, and hang up after ``cut_at`` bytes while
announcing the whole length. Unknown names get the recorded "nothing found"
answer. Every request's path is kept in ``paths``.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

FIXTURES = Path(__file__).parent / "fixtures" / "sesame"


def recorded(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class Answer:
    status: int
    body: bytes
    delay_s: float = 0.0
    drip_s: float = 0.0
    cut_at: int | None = None


class FakeSesame:
    def __init__(self):
        self.answers: dict[str, Answer] = {}
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.paths.append(self.path)
                name = unquote(urlsplit(self.path).query)
                answer = owner.answers.get(name) or Answer(200, recorded("nothing.xml"))
                body = answer.body
                time.sleep(answer.delay_s)
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "text/xml" if body.lstrip().startswith(b"<?xml") else "text/html")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    sent = body[:answer.cut_at]
                    step = 1 if answer.drip_s else len(sent) or 1
                    for start in range(0, len(sent), step):
                        self.wfile.write(sent[start:start + step])
                        self.wfile.flush()
                        time.sleep(answer.drip_s)
                    self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first, as a timeout test wants

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False  # a sleeping handler must not hold up stop()
        self.url = f"http://127.0.0.1:{self._server.server_port}/cgi-bin/nph-sesame"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-sesame", daemon=True)
        self._thread.start()

    def answer(self, name: str, fixture: str | bytes, status: int = 200, **how) -> None:
        body = fixture if isinstance(fixture, bytes) else recorded(fixture)
        self.answers[name] = Answer(status, body, **how)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
