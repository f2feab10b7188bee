"""The gas-free offer relay: ``POST /api/relay`` (filled in by the relay's own work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
