"""Real servers for the integration tests (see tests/servers.py).

Session-scoped: ``rabbitmq``, ``postgres``, ``s3``, ``mosquitto``, ``indiserver`` (started on first use, stopped
at the end of the session). Function-scoped: ``pg_url`` (SQLAlchemy URL of a fresh database)
and ``s3_bucket`` (name of a fresh, empty bucket).

A missing binary makes the fixture ERROR (not skip): CI must run these tests. Install the
system packages with scripts/install-system.sh.

Every test under tests/integration gets the ``integration`` marker automatically.
"""
from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parent.parent
if str(_ROOT) not in sys.path:  # so that "tests.servers" imports however pytest is invoked
    sys.path.insert(0, str(_ROOT))

from tests.servers import IndiServer, MosquittoServer, PostgresServer, RabbitMQServer, S3Server  # noqa: E402

# Session servers started so far; after each test any of them that a test left stopped or
# killed is started again, so one test's outage cannot break the next test.
_session_servers: list = []


def pytest_collection_modifyitems(config, items):
    # This hook sees every collected item of the session, not only this directory's.
    for item in items:
        try:
            path = Path(str(item.path)).resolve()
        except Exception:
            continue
        if path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)


def _session_server(server):
    server.start()
    _session_servers.append(server)
    try:
        yield server
    finally:
        _session_servers.remove(server)
        server.stop()


@pytest.fixture(scope="session")
def rabbitmq():
    """A private RabbitMQ node: ``.url``, ``.port``, ``.restart()``, ``.queue_depth(name)``."""
    yield from _session_server(RabbitMQServer())


@pytest.fixture(scope="session")
def postgres():
    """A private PostgreSQL cluster: ``.url`` (SQLAlchemy), ``.dsn``, ``.create_database()``."""
    yield from _session_server(PostgresServer())


@pytest.fixture(scope="session")
def s3():
    """moto_server: ``.endpoint``, ``.access_key``, ``.secret_key``, ``.client()``. In memory:
    a restart loses every bucket and object."""
    yield from _session_server(S3Server())


@pytest.fixture(scope="session")
def mosquitto():
    """A private Mosquitto broker: ``.host``, ``.port``."""
    yield from _session_server(MosquittoServer())


@pytest.fixture(autouse=True)
def _session_servers_running():
    yield
    for server in list(_session_servers):
        if not server.running:
            server.start()


@pytest.fixture
def pg_url(postgres):
    """SQLAlchemy URL of a fresh database, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = postgres.create_database(name)
    yield url
    try:
        if postgres.running:
            postgres.drop_database(name)
    except Exception:
        pass


@pytest.fixture
def s3_bucket(s3):
    """Name of a fresh, empty bucket on ``s3``, removed after the test."""
    name = s3.make_bucket(f"test-{uuid.uuid4().hex[:12]}")
    yield name
    try:
        if s3.running:
            s3.remove_bucket(name)
    except Exception:
        pass


@pytest.fixture(scope="session")
def indiserver():
    """A private indiserver with the telescope, CCD, filter wheel and focuser simulators:
    ``.port``, ``.getprop(spec)``, ``.setprop(spec)``, ``.stop_driver(name)``. Drivers keep state
    (park position, parked or not) for the whole session."""
    yield from _session_server(IndiServer())


@pytest.fixture(scope="session")
def kstars_desktop():
    """An Xvfb display and a private D-Bus session bus for KStars: ``.display``, ``.bus_address``,
    ``.kstars_home`` (kept for the session, so KStars creates its user database once),
    ``.kstars_processes()``, ``.kill_kstars()``."""
    from tests.kstars_desktop import KStarsDesktop

    yield from _session_server(KStarsDesktop())


@pytest.fixture(scope="module")
def ekos_indiserver():
    """An indiserver of its own for the EKOS tests (telescope, CCD, wheel, focuser simulators):
    Ekos configures the devices it connects to (upload mode, site), which other tests should not see."""
    server = IndiServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
