"""Alembic's environment for the market index: programmatic only (no alembic.ini).

:func:`p2pescrow.market.db.open_database` runs ``upgrade head`` with the connection it opened in
``config.attributes["connection"]``; the migrations run inside that connection's transaction.
"""

from __future__ import annotations

from alembic import context

from p2pescrow.market.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached by a hand-run `alembic` without our config
    raise RuntimeError("the market migrations run through p2pescrow.market.db.open_database")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
