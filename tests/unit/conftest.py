"""Fixtures shared by the portal's unit tests (test modules may override them)."""
import itertools

import pytest

from tests.unit import test_web_support
from tests.unit.test_web_support import add_user, login, make_app, make_services


@pytest.fixture(autouse=True)
def _frame_numbers_start_at_one():
    """Each test numbers its generated frames from 1 (their times and names follow the number), so a
    test sees the same frames whatever ran before it in the process."""
    test_web_support._numbers = itertools.count(1)


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
