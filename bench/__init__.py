"""``python -m bench``: Almanac's benchmark (``make bench``), not a test.

Every server and every load generator runs in its own subprocess, so no
two of them share a GIL, and the bench process itself only orchestrates.
Scenarios register themselves in `bench.scenarios`; ``--only NAME`` runs one.
"""
