"""Print "current" when the master database is at the newest migration, else "behind".

Installed by the Ansible master role and run with the OBSY venv's Python, so that
``obsy master migrate`` runs (and reports a change) only when there is something to do.
"""
import sys

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from common.config import load_config
from master.migrate import alembic_config

url = load_config("master", sys.argv[1]).database.resolved_url()
engine = create_engine(url)
try:
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
finally:
    engine.dispose()
heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
print("current" if current == heads else "behind")
