"""Serving the portal: gunicorn for ``obsy master web``, waitress inside ``obsy demo``.

Neither is Flask's development server. Gunicorn forks, so it cannot share an
in-process broker with the other roles; the demo uses waitress in a thread.
"""
from __future__ import annotations

import threading


def serve_gunicorn(config, bind: str, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    class PortalApplication(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 4)
            self.cfg.set("timeout", 120)
            self.cfg.set("accesslog", "-")

        def load(self):
            from .services import MasterServices
            from .web import create_app

            # Built in each worker after fork: no shared connections.
            services = MasterServices(config, migrate=False)
            if config.broker.kind == "embedded":
                start_in_process_worker(services)
            return create_app(services)

    # Migrate once in the arbiter, before any worker serves a request.
    from .migrate import upgrade
    upgrade(config.database.resolved_url())
    PortalApplication().run()


def start_in_process_worker(services, threads: int = 1):
    """Worker threads on the portal process's own in-memory broker (``[broker] kind = "embedded"``).

    Nothing outside this process can reach that broker, so without them the photometry runs,
    stacks and master rebuilds the portal queues would wait forever. Jobs queued in memory are lost
    if the process stops: production uses RabbitMQ and ``obsy master worker``."""
    from dramatiq import Worker

    from .worker import WORKER_QUEUES, build_broker

    worker = Worker(build_broker(services, broker=services.job_broker), queues=WORKER_QUEUES,
                    worker_threads=threads, worker_timeout=200)
    worker.start()
    return worker


class ThreadedServer:
    """waitress on a background thread, stoppable."""

    def __init__(self, app, host: str, port: int, threads: int = 8):
        from waitress.server import create_server

        self.server = create_server(app, host=host, port=port, threads=threads)
        self.port = self.server.effective_port
        self.thread = threading.Thread(target=self.server.run, name="obsy-web", daemon=True)

    def start(self) -> "ThreadedServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.close()
