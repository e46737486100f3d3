"""Plain values shared by association, basket and checkout (mirrors of the message constants)."""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ['Cause', 'AlertKind', 'AlertState', 'BasketState', 'ShelfFlag', 'BasketChange', 'AlertInfo',
           'review_alert_id', 'age_alert_id', 'left_alert_id', 'RESOLVED_SUFFIX', 'AUTO_RESOLVE_BADGE']

#: A REVIEW_RESOLVED basket event's id is its review's basket event id + this (+ ':in' / ':out' for handovers).
RESOLVED_SUFFIX = ':resolved'
#: The badge recorded when the association resolves its own review with later evidence.
AUTO_RESOLVE_BADGE = 'association'


class Cause:
    """``BasketEvent.CAUSE_*``."""
    PICK = 0
    PUT_BACK = 1
    PUT_BACK_MISPLACED = 2
    HANDOVER_IN = 3
    HANDOVER_OUT = 4
    REVIEW_RESOLVED = 5
    RESTOCK = 6
    UNASSIGNED = 7


class AlertKind:
    """``StoreAlert.KIND_*``."""
    AGE_CHECK = 0
    MISPLACED_PRODUCT = 1
    REVIEW_NEEDED = 2
    UNKNOWN_WEIGHT_CHANGE = 3
    SENSOR_FAULT = 4
    LEFT_WITHOUT_PAYING = 5


class AlertState:
    """``StoreAlert.STATE_*``: only moves forward (open -> acknowledged -> resolved)."""
    OPEN = 0
    ACKNOWLEDGED = 1
    RESOLVED = 2


class BasketState:
    """``Basket.STATE_*``."""
    OPEN = 0
    PAID = 1
    ABANDONED = 2


class ShelfFlag:
    """``ShelfEvent.FLAG_*`` bits."""
    NONE = 0
    SENSOR_FAULT = 1
    MISPLACED = 2
    UNKNOWN = 4
    MULTI_LANE = 8


@dataclass
class AlertInfo:
    """A ``StoreAlert`` without ROS types; stamps in seconds."""
    alert_id: str
    kind: int
    state: int = AlertState.OPEN
    message: str = ''
    shelf_id: str = ''
    lane: int = -1
    location: tuple[float, float, float] = (0.0, 0.0, 0.0)
    product_ids: list[str] = field(default_factory=list)
    avatar_ids: list[int] = field(default_factory=list)
    avatar_scores: list[float] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    stamp: float = 0.0
    evidence_start: float = 0.0
    evidence_end: float = 0.0
    evidence_json: str = '{}'


@dataclass
class BasketChange:
    """A ``BasketEvent`` without ROS types; ``t`` is the hand time [s]."""
    event_id: str
    t: float
    avatar_id: int
    product_id: str
    quantity: int
    cause: int
    shelf_event_id: str = ''
    counterpart_avatar_id: int = 0
    confidence: float = 1.0
    needs_review: bool = False
    candidate_avatar_ids: list[int] = field(default_factory=list)
    candidate_scores: list[float] = field(default_factory=list)
    review: AlertInfo | None = None  # the REVIEW_NEEDED alert when needs_review


def review_alert_id(basket_event_id: str) -> str:
    return f'review:{basket_event_id}'


def age_alert_id(avatar_id: int) -> str:
    return f'age:{avatar_id}'


def left_alert_id(avatar_id: int) -> str:
    return f'left:{avatar_id}'
