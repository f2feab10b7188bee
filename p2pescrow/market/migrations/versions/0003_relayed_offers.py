"""Relayed offers (issue 14): the signed offers a market server's relay accepted, kept apart from
the chain's rows so that no reorg rewind loses them (``offers.source`` already says relayed or board).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "relayed_offers",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.String(length=66), nullable=False),
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("seller", sa.String(length=42), nullable=False),
        sa.Column("offer", sa.Text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("received_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "id"),
    )
    op.create_index("ix_relayed_offers_seller", "relayed_offers", ["seller"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_relayed_offers_seller", table_name="relayed_offers")
    op.drop_table("relayed_offers")
