"""Where the market index lives and how it is opened: ``--db``, then ``$P2PESCROW_DB``, then a SQLite
file in the config folder; opening runs the Alembic migrations (again: a no-op), with full-text
search made for each engine (SQLite FTS5 kept by triggers, a PostgreSQL GIN index).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from p2pescrow.config import HOME_ENV
from p2pescrow.market import schema
from p2pescrow.market.db import DB_ENV, open_database, resolve_url


def test_the_option_wins_then_the_environment_then_the_config_folder(monkeypatch, tmp_path: Path):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(DB_ENV, raising=False)
    assert resolve_url(None) == f"sqlite:///{tmp_path / 'home' / 'market.sqlite'}"
    monkeypatch.setenv(DB_ENV, "postgresql://u@db.example/market")
    assert resolve_url(None) == "postgresql+psycopg://u@db.example/market"
    assert resolve_url("postgres://u@other/m") == "postgresql+psycopg://u@other/m"
    assert resolve_url(str(tmp_path / "index.sqlite")) == f"sqlite:///{tmp_path / 'index.sqlite'}"
    assert resolve_url("sqlite:///x.db") == "sqlite:///x.db"


def test_opening_creates_every_table_once_and_opening_again_changes_nothing(db_url):
    engine = open_database(db_url)
    tables = set(inspect(engine).get_table_names())
    assert {model.__tablename__ for model in (*schema.DOMAIN_TABLES, schema.SyncState, schema.Block,
                                              schema.RelayedOffer)} <= tables
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["0003"]
    again = open_database(db_url)
    assert set(inspect(again).get_table_names()) == tables
    with again.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_the_sqlite_file_is_made_in_wal_mode_with_full_text_kept_by_triggers(tmp_path: Path):
    engine = open_database(f"sqlite:///{tmp_path / 'deep' / 'folder' / 'market.sqlite'}")
    with engine.begin() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        connection.execute(text(
            "INSERT INTO offers (chain_id, id, seller, buyer, token, arbiter, amount, buyer_deposit, seller_deposit, "
            "arbiter_fee_bps, platform_fee_bps, release_window, arbitration_window, flags, terms_hash, nonce, expiry, "
            "signature, document, title, description, category, tags, payment_method, fiat_price, status, source, "
            "published_block, published_at, tx_hash, log_index) VALUES (1, '0x01', 's', 'b', 't', 'a', '1', '0', '0', "
            "0, 0, 1, 1, 0, '0x', '1', 1, '0x', '{}', 'Vintage road bike', 'steel frame', '', '[]', '', '', 'open', "
            "'board', 1, 1, '0x', 0)"))
        match = ("SELECT offers.title FROM offers JOIN offers_fts ON offers_fts.rowid = offers.pk "
                 "WHERE offers_fts MATCH :q")
        assert connection.execute(text(match), {"q": "steel"}).scalars().all() == ["Vintage road bike"]
        connection.execute(text("UPDATE offers SET title = 'Kettle', description = 'white'"))
        assert connection.execute(text(match), {"q": "steel"}).scalars().all() == []
        assert connection.execute(text(match), {"q": "kettle"}).scalars().all() == ["Kettle"]
        connection.execute(text("DELETE FROM offers"))
        assert connection.execute(text(match), {"q": "kettle"}).scalars().all() == []


def test_postgresql_gets_the_full_text_index(postgres_url):
    engine = open_database(postgres_url)
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("offers")}
    assert "ix_offers_text" in indexes


@pytest.mark.parametrize("missing", ["sqlalchemy", "alembic"])
def test_without_the_market_extra_opening_names_the_install_command(monkeypatch, missing):
    import importlib.util

    from p2pescrow.errors import MissingExtra

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == missing else real(name, *a))
    with pytest.raises(MissingExtra, match=r"pip install 'p2pescrow\[market\]'"):
        open_database("sqlite://")
