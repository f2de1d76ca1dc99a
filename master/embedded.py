"""The master inside ``obsy demo``: worker threads on the in-process broker,
the portal on waitress, a demo admin so the user can log in at once."""
from __future__ import annotations

import logging
import secrets

from dramatiq import Worker
from sqlalchemy import select

from common.config import load_config
from common.embedded import DEMO_SITE
from .models import User
from .serve import ThreadedServer
from .services import MasterServices
from .live import start_live_publisher
from .worker import WORKER_QUEUES, build_broker, subscribe_events

log = logging.getLogger(__name__)
DEMO_USER = "admin"


def ensure_demo_admin(services, data_dir) -> str:
    """Create the demo admin once; its password is kept beside the demo data."""
    from .web.auth import create_user

    password_file = data_dir / "admin-password.txt"
    with services.sessions() as session:
        exists = session.scalar(select(User).where(User.username == DEMO_USER)) is not None
    if exists and password_file.exists():
        return password_file.read_text().strip()
    password = secrets.token_urlsafe(9)
    if exists:
        from werkzeug.security import generate_password_hash
        with services.sessions() as session:
            user = session.scalar(select(User).where(User.username == DEMO_USER))
            user.password_hash = generate_password_hash(password)
            session.commit()
    else:
        create_user(services.sessions, DEMO_USER, password, role="admin")
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    return password


def start(ctx) -> None:
    from .web import create_app

    mqtt = {"host": "127.0.0.1", "port": ctx.mqtt_port, "site": DEMO_SITE} if ctx.mqtt_port else {}
    config = load_config("master", None, database={"url": f"sqlite:///{ctx.data_dir / 'obsy.db'}"},
                         store={"kind": "local", "path": str(ctx.store.root)},
                         web={"port": ctx.web_port, "secret_key": ""}, mqtt=mqtt)
    services = MasterServices(config, store=ctx.store, bus=ctx.bus, broker=ctx.broker)
    build_broker(services, broker=ctx.broker)
    worker = Worker(ctx.broker, queues=WORKER_QUEUES, worker_threads=2, worker_timeout=200)
    worker.start()
    subscribe_events(services)
    publisher = start_live_publisher(services)  # None without the demo's broker
    server = ThreadedServer(create_app(services), "127.0.0.1", ctx.web_port).start()
    password = ensure_demo_admin(services, ctx.data_dir)
    ctx.announce(f"Portal: http://127.0.0.1:{server.port}/  (login: {DEMO_USER} / {password})")
    ctx.services = services
    ctx.web_port = server.port

    def stop():
        if publisher is not None:
            publisher.stop()
        server.stop()
        worker.stop(timeout=5000)
        services.engine.dispose()

    ctx.on_stop(stop)
