"""One remote node: the live state, its MQTT subscriber and the site on waitress (in a thread)."""
from __future__ import annotations

import threading

from .gallery import Gallery
from .state import LiveState
from .subscriber import LiveSubscriber
from .web import create_app


class RemoteNode:
    def __init__(self, config, *, client_id: str | None = None, keepalive_s: float | None = None):
        self.config = config
        self.state = LiveState(config.mqtt.site, broker=f"{config.mqtt.host}:{config.mqtt.port}")
        self.subscriber = LiveSubscriber(config.mqtt, self.state, client_id=client_id)
        g = config.gallery
        self.gallery = Gallery(g.master_api_url or config.web.master_url, token=g.token, timeout_s=g.timeout_s,
                               refresh_s=g.refresh_s, max_items=g.max_items,
                               viewer_base=config.web.master_url)
        extra = {"keepalive_s": keepalive_s} if keepalive_s is not None else {}
        self.app = create_app(self.state, title=config.web.title, master_url=config.web.master_url,
                              max_streams=config.web.max_streams, gallery=self.gallery, **extra)
        self._map: dict = {}  # waitress's socket map, kept to close every channel at stop
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.effective_port

    @property
    def url(self) -> str:
        return f"http://{self.config.web.host}:{self.port}"

    def start(self) -> "RemoteNode":
        from waitress.server import create_server

        self.subscriber.start()
        self.gallery.start()
        # Each open live page holds a thread; keep some for ordinary requests.
        threads = max(self.config.web.threads, self.config.web.max_streams + 2)
        self._server = create_server(self.app, map=self._map, host=self.config.web.host,
                                     port=self.config.web.port, threads=threads, channel_timeout=120)
        self._thread = threading.Thread(target=self._server.run, name="obsy-remote-web", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.state.close()  # end the SSE streams so their threads return
        if self._server is not None:
            from waitress import wasyncore

            # Threads first, while the loop still runs: a finishing stream still wakes the loop.
            self._server.task_dispatcher.shutdown(timeout=5)
            # Close every socket from inside the loop's own thread (closing them from here
            # races with its select()); with the map empty the loop returns. The loop runs
            # thunks under trigger.lock, so ours cannot close the trigger before we have
            # written the wake-up byte (pull_trigger(thunk) would leave that window open).
            trigger = self._server.trigger
            with trigger.lock:
                trigger.thunks.append(lambda: wasyncore.close_all(self._map))
                trigger.pull_trigger()
            self._thread.join(timeout=5)
        self.subscriber.stop()
        self.gallery.stop()
