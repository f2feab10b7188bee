"""Search's speed. Indexes for its sort orders, so a page is read in order and the read stops after
it. And the screening kept by the sync, so that search neither aggregates every rating to filter and sort
by the seller's score (``scores``: every rated account's score, copied onto its offers as
``offers.seller_score``, indexed with the order) nor every trade of
the sellers on a page to screen them (``trade_records``: per account, asset and role, the recorded
trades' figures). An index made before this revision gets both filled from its rows.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scores",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "account"),
    )
    op.create_index("ix_scores_score", "scores", ["chain_id", "score"], unique=False)
    op.create_table(
        "trade_records",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("role", sa.Integer(), nullable=False),
        sa.Column("volume", sa.String(length=78), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("refunded", sa.Integer(), nullable=False),
        sa.Column("settled", sa.Integer(), nullable=False),
        sa.Column("disputes_won", sa.Integer(), nullable=False),
        sa.Column("disputes_lost", sa.Integer(), nullable=False),
        sa.Column("disputes_split", sa.Integer(), nullable=False),
        sa.Column("disputed", sa.Integer(), nullable=False),
        sa.Column("first_trade_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "account", "token", "role"),
    )
    # The sort orders of search after its status = 'open': newest first (read backwards), amount up
    # then newest, amount down then newest (read backwards), expiry then newest; and its category
    # filter with its amount range.
    newest = [sa.text("published_block DESC"), sa.text("log_index DESC"), sa.text("pk DESC")]
    op.create_index("ix_offers_open_newest", "offers", ["status", "published_block", "log_index", "pk"])
    op.create_index("ix_offers_open_amount", "offers", ["status", "amount", "published_block", "log_index", "pk"])
    op.create_index("ix_offers_open_amount_newest", "offers", ["status", "amount", *newest])
    op.create_index("ix_offers_open_expiry", "offers", ["status", "expiry", *newest])
    op.create_index("ix_offers_open_category", "offers",
                    ["status", sa.text("lower(category)"), "amount", "published_block", "log_index", "pk"])
    # The seller's score on each offer (the prior, 3.00, until the scores are filled), and its order.
    # (ALTER TABLE, not a batch copy: a copy of offers would drop its full-text triggers on SQLite.)
    op.add_column("offers", sa.Column("seller_score", sa.Integer(), nullable=False, server_default="300"))
    op.create_index("ix_offers_open_score", "offers", ["status", "seller_score", "published_block", "log_index", "pk"])
    bind = op.get_bind()
    _fill_scores(bind)
    bind.execute(sa.text(
        "UPDATE offers SET seller_score = (SELECT scores.score FROM scores WHERE scores.chain_id = offers.chain_id "
        "AND scores.account = offers.seller) WHERE EXISTS (SELECT 1 FROM scores WHERE scores.chain_id = "
        "offers.chain_id AND scores.account = offers.seller)"))
    _fill_records(bind)


def _fill_scores(bind: sa.Connection) -> None:
    """The scores of the accounts rated so far, as :meth:`ReputationRecord.score` gives them (the
    ratings in the listed assets, summed exactly here), in hundredths."""
    from p2pescrow.models import AssetRecord, ReputationRecord, ReputationRole

    chains = [row[0] for row in bind.execute(sa.text("SELECT DISTINCT chain_id FROM listings"))]
    for chain_id in chains:
        minimums = {token: int(minimum) for token, minimum in bind.execute(
            sa.text("SELECT token, min_amount FROM listings WHERE chain_id = :c AND listed"), {"c": chain_id})}
        if not minimums:
            continue
        sums: dict[tuple[str, str], list[int]] = {}
        for ratee, asset, amount, score in bind.execute(
                sa.text("SELECT ratee, asset, amount, score FROM ratings WHERE chain_id = :c"), {"c": chain_id}):
            if asset in minimums:
                entry = sums.setdefault((ratee, asset), [0, 0])
                entry[0] += int(amount)
                entry[1] += int(amount) * int(score)
        records: dict[str, list[AssetRecord]] = {}
        for (ratee, asset), (rated, weighted) in sums.items():
            records.setdefault(ratee, []).append(
                AssetRecord(asset, ReputationRole.SELLER, rated_volume=rated, weighted_score=weighted))
        rows = [{"c": chain_id, "a": account, "s": int(ReputationRecord(account, tuple(recs), minimums).score() * 100)}
                for account, recs in records.items()]
        if rows:
            bind.execute(sa.text("INSERT INTO scores (chain_id, account, score) VALUES (:c, :a, :s)"), rows)


def _fill_records(bind: sa.Connection) -> None:
    """The recorded trades' figures per (account, asset, role) as ``queries._trade_figures`` counts
    them: trades asked to record in a listed asset (``records``), the seller having acted, ended by a
    payout; a ruling won when the share went all to the account's side."""
    from p2pescrow.models import ReputationRole
    from p2pescrow.states import TradeState

    completed, refunded, settled, resolved = (int(TradeState.COMPLETED), int(TradeState.REFUNDED),
                                              int(TradeState.SETTLED), int(TradeState.RESOLVED))
    figures: dict[tuple[int, str, str, int], dict[str, int]] = {}
    rows = bind.execute(sa.text(
        "SELECT chain_id, buyer, seller, token, state, buyer_bps, disputed_at, created_at, amount FROM trades "
        "WHERE records AND seller_acted AND state IN (:a, :b, :c, :d)"),
        {"a": completed, "b": refunded, "c": settled, "d": resolved})
    for chain_id, buyer, seller, token, state, bps, disputed_at, created_at, amount in rows:
        for role, account in ((ReputationRole.BUYER, buyer), (ReputationRole.SELLER, seller)):
            entry = figures.setdefault((chain_id, account, token, int(role)), {
                "volume": 0, "completed": 0, "refunded": 0, "settled": 0, "disputes_won": 0, "disputes_lost": 0,
                "disputes_split": 0, "disputed": 0, "first_trade_at": int(created_at)})
            entry["volume"] += int(amount)
            entry["completed"] += state == completed
            entry["refunded"] += state == refunded
            entry["settled"] += state == settled
            if state == resolved and bps is not None:
                mine = 10_000 if role is ReputationRole.BUYER else 0
                if bps == mine:
                    entry["disputes_won"] += 1
                elif bps == 10_000 - mine:
                    entry["disputes_lost"] += 1
                else:
                    entry["disputes_split"] += 1
            entry["disputed"] += disputed_at is not None
            entry["first_trade_at"] = min(entry["first_trade_at"], int(created_at))
    rows_out = [{"chain_id": c, "account": a, "token": t, "role": r, **{k: int(v) for k, v in e.items()},
                 "volume": f"{e['volume']:078d}"} for (c, a, t, r), e in sorted(figures.items())]
    if rows_out:
        columns = list(rows_out[0])
        bind.execute(sa.text(f"INSERT INTO trade_records ({', '.join(columns)}) "
                             f"VALUES ({', '.join(':' + c for c in columns)})"), rows_out)


def downgrade() -> None:
    for name in ("ix_offers_open_category", "ix_offers_open_score", "ix_offers_open_expiry",
                 "ix_offers_open_amount_newest", "ix_offers_open_amount", "ix_offers_open_newest"):
        op.drop_index(name, table_name="offers")
    op.drop_column("offers", "seller_score")
    op.drop_table("trade_records")
    op.drop_index("ix_scores_score", table_name="scores")
    op.drop_table("scores")
