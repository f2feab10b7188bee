"""Shared test support: the embedded chain, deployment, trade terms and revert decoding."""
