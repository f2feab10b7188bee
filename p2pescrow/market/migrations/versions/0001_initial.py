"""The market index's first schema: every table of p2pescrow.market.schema, and full-text search
over offers' titles and descriptions (SQLite: an FTS5 external-content table kept by triggers;
PostgreSQL: a GIN index on ``to_tsvector('simple', title || ' ' || description)``).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: schema.UInt's storage: 78 zero-padded decimal digits (the type's Python side is not frozen here).
UINT = sa.String(length=78)

#: The PostgreSQL full-text expression; queries must use the same text for the index to apply.
PG_TEXT = "to_tsvector('simple', title || ' ' || description)"

SQLITE_FTS = (
    "CREATE VIRTUAL TABLE offers_fts USING fts5(title, description, content='offers', content_rowid='pk')",
    "CREATE TRIGGER offers_fts_insert AFTER INSERT ON offers BEGIN "
    "INSERT INTO offers_fts(rowid, title, description) VALUES (new.pk, new.title, new.description); END",
    "CREATE TRIGGER offers_fts_delete AFTER DELETE ON offers BEGIN "
    "INSERT INTO offers_fts(offers_fts, rowid, title, description) "
    "VALUES ('delete', old.pk, old.title, old.description); END",
    "CREATE TRIGGER offers_fts_update AFTER UPDATE OF title, description ON offers BEGIN "
    "INSERT INTO offers_fts(offers_fts, rowid, title, description) "
    "VALUES ('delete', old.pk, old.title, old.description); "
    "INSERT INTO offers_fts(rowid, title, description) VALUES (new.pk, new.title, new.description); END",
)


def upgrade() -> None:
    op.create_table(
        "blocks",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("parent_hash", sa.String(length=66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "number"),
    )
    op.create_table(
        "bonds",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("seller", sa.String(length=42), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("free", UINT, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "seller", "token"),
    )
    op.create_table(
        "events",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("trade_id", sa.String(length=66), nullable=True),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "block_number", "log_index"),
    )
    op.create_index(op.f("ix_events_name"), "events", ["name"], unique=False)
    op.create_index("ix_events_trade", "events", ["trade_id", "block_number", "log_index"], unique=False)
    op.create_table(
        "listings",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.Column("min_amount", UINT, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "token"),
    )
    op.create_table(
        "offers",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.String(length=66), nullable=False),
        sa.Column("seller", sa.String(length=42), nullable=False),
        sa.Column("buyer", sa.String(length=42), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("arbiter", sa.String(length=42), nullable=False),
        sa.Column("amount", UINT, nullable=False),
        sa.Column("buyer_deposit", UINT, nullable=False),
        sa.Column("seller_deposit", UINT, nullable=False),
        sa.Column("arbiter_fee_bps", sa.Integer(), nullable=False),
        sa.Column("platform_fee_bps", sa.Integer(), nullable=False),
        sa.Column("release_window", sa.BigInteger(), nullable=False),
        sa.Column("arbitration_window", sa.BigInteger(), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("terms_hash", sa.String(length=66), nullable=False),
        sa.Column("nonce", UINT, nullable=False),
        sa.Column("expiry", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("payment_method", sa.String(length=64), nullable=False),
        sa.Column("fiat_price", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("trade_id", sa.String(length=66), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("published_block", sa.BigInteger(), nullable=False),
        sa.Column("published_at", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index("ix_offers_seller_nonce", "offers", ["seller", "nonce"], unique=False)
    op.create_index("ix_offers_status", "offers", ["status"], unique=False)
    op.create_index("ux_offers_id", "offers", ["chain_id", "id"], unique=True)
    op.create_table(
        "ratings",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("trade_id", sa.String(length=66), nullable=False),
        sa.Column("rater", sa.String(length=42), nullable=False),
        sa.Column("ratee", sa.String(length=42), nullable=False),
        sa.Column("role", sa.Integer(), nullable=False),
        sa.Column("asset", sa.String(length=42), nullable=False),
        sa.Column("amount", UINT, nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment_hash", sa.String(length=66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "trade_id", "rater"),
    )
    op.create_index("ix_ratings_ratee", "ratings", ["ratee", "asset", "role"], unique=False)
    op.create_table(
        "rejected_posts",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "block_number", "log_index"),
    )
    op.create_table(
        "sync_state",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("reputation", sa.String(length=42), nullable=False),
        sa.Column("genesis", sa.String(length=66), nullable=False),
        sa.Column("start_block", sa.BigInteger(), nullable=False),
        sa.Column("last_block", sa.BigInteger(), nullable=False),
        sa.Column("platform_fee_bps", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "escrow"),
    )
    op.create_table(
        "trades",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.String(length=66), nullable=False),
        sa.Column("buyer", sa.String(length=42), nullable=False),
        sa.Column("seller", sa.String(length=42), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("arbiter", sa.String(length=42), nullable=False),
        sa.Column("amount", UINT, nullable=False),
        sa.Column("buyer_deposit", UINT, nullable=False),
        sa.Column("seller_deposit", UINT, nullable=False),
        sa.Column("arbiter_fee_bps", sa.Integer(), nullable=False),
        sa.Column("platform_fee_bps", sa.Integer(), nullable=False),
        sa.Column("funding_window", sa.BigInteger(), nullable=False),
        sa.Column("release_window", sa.BigInteger(), nullable=False),
        sa.Column("arbitration_window", sa.BigInteger(), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("terms_hash", sa.String(length=66), nullable=False),
        sa.Column("salt", UINT, nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.Column("held", UINT, nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("seller_acted", sa.Boolean(), nullable=False),
        sa.Column("seller_deposited", sa.Boolean(), nullable=False),
        sa.Column("records", sa.Boolean(), nullable=False),
        sa.Column("created_block", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("live_at", sa.BigInteger(), nullable=True),
        sa.Column("disputed_at", sa.BigInteger(), nullable=True),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("buyer_bps", sa.Integer(), nullable=True),
        sa.Column("arbiter_fee", UINT, nullable=False),
        sa.Column("platform_fee", UINT, nullable=False),
        sa.Column("offer_id", sa.String(length=66), nullable=True),
        sa.PrimaryKeyConstraint("chain_id", "id"),
    )
    op.create_index("ix_trades_arbiter", "trades", ["arbiter"], unique=False)
    op.create_index("ix_trades_buyer", "trades", ["buyer"], unique=False)
    op.create_index("ix_trades_seller", "trades", ["seller"], unique=False)
    op.create_index("ix_trades_state", "trades", ["state"], unique=False)

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute(f"CREATE INDEX ix_offers_text ON offers USING GIN ({PG_TEXT})")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("offers_fts_update", "offers_fts_delete", "offers_fts_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS offers_fts")
    for table in (
        "trades",
        "sync_state",
        "rejected_posts",
        "ratings",
        "offers",
        "listings",
        "events",
        "bonds",
        "blocks",
    ):
        op.drop_table(table)
