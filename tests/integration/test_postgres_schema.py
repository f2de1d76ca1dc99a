from tests.unit.test_migrations import schema_differences

from master.migrate import upgrade


def test_postgres_migrations_match_models(postgres):
    url = postgres.create_database("schema")
    upgrade(url)
    assert schema_differences(url) == []
