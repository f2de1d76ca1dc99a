"""Fixtures shared by the portal's unit tests (test modules may override them)."""
import pytest

from tests.unit.test_web_support import add_user, login, make_app, make_services


@pytest.fixture
def services(tmp_path, monkeypatch):
    services = make_services(tmp_path, monkeypatch)
    add_user(services)
    yield services
    services.close()


@pytest.fixture
def client(services):
    client = make_app(services).test_client()
    login(client)
    return client
