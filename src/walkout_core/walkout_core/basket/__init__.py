"""Baskets: durable per-avatar state, alert registry, reviews and age checks (no ROS)."""
from .model import AlertInfo, AlertKind, AlertState, BasketChange, BasketState, Cause, ShelfFlag
from .store import BasketStore, BasketView, ItemLine, StoreResult

__all__ = ['AlertInfo', 'AlertKind', 'AlertState', 'BasketChange', 'BasketState', 'Cause', 'ShelfFlag',
           'BasketStore', 'BasketView', 'ItemLine', 'StoreResult']
