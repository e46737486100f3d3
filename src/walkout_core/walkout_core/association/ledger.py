"""What the association believes each avatar carries, unit by unit, in the order it was taken.

Used for put-back priors (who holds the product) and handovers (the giver's most recently
picked unit that was not handed yet). The basket store stays the record of truth.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

__all__ = ['Unit', 'Ledger']


@dataclass
class Unit:
    product_id: str
    seq: int                 # order of arrival (larger = later)
    t: float                 # [s] stamp of the event that brought it
    picked: bool = True      # taken from a shelf (False: received in a handover)


class Ledger:
    def __init__(self) -> None:
        self._units: dict[int, list[Unit]] = {}
        self._seq = 0

    def holds(self, avatar_id: int, product_id: str) -> int:
        return sum(1 for u in self._units.get(avatar_id, ()) if u.product_id == product_id)

    def held(self, avatar_id: int) -> Counter[str]:
        """Product -> units the avatar holds."""
        return Counter(u.product_id for u in self._units.get(avatar_id, ()))

    def count(self, avatar_id: int) -> int:
        return len(self._units.get(avatar_id, ()))

    def add(self, avatar_id: int, product_id: str, quantity: int, t: float, picked: bool = True) -> None:
        lst = self._units.setdefault(avatar_id, [])
        for _ in range(max(0, quantity)):
            self._seq += 1
            lst.append(Unit(product_id, self._seq, t, picked))

    def remove(self, avatar_id: int, product_id: str, quantity: int) -> int:
        """Remove up to ``quantity`` units of the product, latest first; returns how many."""
        lst = self._units.get(avatar_id, [])
        n = 0
        for k in range(len(lst) - 1, -1, -1):
            if n >= quantity:
                break
            if lst[k].product_id == product_id:
                del lst[k]
                n += 1
        return n

    def apply(self, avatar_id: int, product_id: str, quantity: int, t: float, picked: bool = True) -> None:
        if quantity > 0:
            self.add(avatar_id, product_id, quantity, t, picked)
        elif quantity < 0:
            self.remove(avatar_id, product_id, -quantity)

    def handable(self, avatar_id: int) -> list[Unit]:
        """Units picked (not received in a handover), latest first."""
        return [u for u in reversed(self._units.get(avatar_id, [])) if u.picked]

    def last_handable(self, avatar_id: int) -> Unit | None:
        """The most recently picked unit that was not received in a handover."""
        units = self.handable(avatar_id)
        return units[0] if units else None

    def move(self, giver: int, receiver: int, unit: Unit, t: float) -> None:
        self._units[giver].remove(unit)
        self.add(receiver, unit.product_id, 1, t, picked=False)
