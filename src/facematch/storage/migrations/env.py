"""Alembic environment: the URL (or an open connection) comes from the caller
(``facematch.storage.db.migrate``)."""

from __future__ import annotations

from alembic import context

from facematch.storage.db import make_engine
from facematch.storage.models import Base

given = context.config.attributes.get("connection")
if given is not None:
    context.configure(connection=given, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    given.commit()
else:
    url = context.config.attributes.get("url") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the migration")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        engine.dispose()
