"""Project tooling that is never shipped: benchmarks, contract coverage, the Slither gate and README's
assurance figures. Run from a checkout (``python -m tools.bench``, ``make bench``).
"""
