"""The migrated schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from facematch.storage.db import Database, current_revision
from facematch.storage.models import Base


def test_schema_is_migrated_and_matches_the_models(database_url: str) -> None:
    assert current_revision(database_url) is not None
    db = Database(database_url)
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    db.dispose()
    assert diff == []
