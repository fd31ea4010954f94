"""Helpers every dataset simulator shares: one random stream per day, and a daily volume.

A simulated day depends only on its seed and date, so runs are reproducible and days can be
generated in any order.
"""

from __future__ import annotations

import hashlib
from datetime import date

import numpy as np


def day_rng(seed: int, day: date) -> np.random.Generator:
    """The random stream of one day: the same seed and day give the same rows, in any order."""
    digest = hashlib.sha256(f"{seed}:{day.isoformat()}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def daily_row_count(day: date, mean_rows: int, *, seed: int = 7) -> int:
    """Weekday/weekend volume with a little noise, so row counts look like real traffic."""
    weekend = day.weekday() >= 5
    jitter = day_rng(seed + 1, day).uniform(0.9, 1.1)
    return max(1, int(mean_rows * (0.75 if weekend else 1.0) * jitter))
