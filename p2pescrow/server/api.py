"""The JSON API under ``/api``: what a dApp reads instead of running its own index.

Every route reads the index (never the node, except a trade's current slot): the background sync
keeps it current. Every input is validated before any query (ids and addresses by pattern, numbers
within bounds, strings bounded); errors are JSON ``{"error": ..., "hint": ...}``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from .state import ERROR_RESPONSES, ServedMarket, get_served

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["market"], responses=ERROR_RESPONSES)

Served = Annotated[ServedMarket, Depends(get_served)]


class Health(BaseModel):
    """The server's view of its index."""

    chain_id: int = Field(description="The chain the index follows.")
    escrow: str = Field(description="The escrow contract indexed (checksummed).")
    head_indexed: int | None = Field(description="The last block the index holds (null before the first sync).")
    last_sync: float | None = Field(description="When the last sync succeeded (unix seconds), null before.")
    sync_error: str | None = Field(description="The last sync's error, null when it succeeded.")


@router.get("/health", response_model=Health, summary="The index's state")
def health(served: Served) -> Health:
    """Which chain and escrow the server indexes, the last block indexed, when the last sync succeeded,
    and the last sync's error (null when none)."""
    return Health(**served.health())
