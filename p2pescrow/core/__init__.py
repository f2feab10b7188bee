"""The I/O-free core: trade ids, what each party may do next, split arithmetic, offer hashing.

Nothing here talks to a node, so the sync and async clients share every line of it.
"""
