"""Configuration of the basket node."""
from __future__ import annotations

from dataclasses import dataclass

from walkout_core.config import param

__all__ = ['BasketConfig']


@dataclass(frozen=True)
class BasketConfig:
    layout: str = param('small', '-', 'store layout name or path (catalogue and currency)')
    reliable_sensors: bool = param(False, '-', 'reliable QoS on inputs (replay for scoring)')
    db_path: str = param('/tmp/walkout/baskets.sqlite', '-', 'SQLite file of the baskets (WAL mode); '
                         '":memory:" keeps nothing')
    review_block_min_score: float = param(0.05, '-', 'a pending review blocks the payment of every candidate '
                                          'with at least this posterior', min_value=0.0, max_value=1.0)
