"""Checkout visits (no ROS): which avatar stands in which checkout zone, the terminal's presented cards,
simulated staff decisions (age-check request), payment attempts with retry and PIN, and the
left-without-paying check.

A card presented at a zone's terminal (:meth:`CheckoutVisits.card_presented`, ``payment_trigger: card``)
pays the cart of the avatar standing in that zone (the one its tablet shows), retried while the cart is
blocked (age check, reviews) for up to ``card_hold_s``. With ``payment_trigger: dwell`` (a bag without a
terminal stream) the card is presented by itself once an avatar has stood ``simulated_dwell_to_pay_s`` in a
zone. The caller feeds avatar updates (stamps from the avatar stream) with the current baskets and a receipt
lookup, and performs the returned actions (payment, age-approval request, alert) in order.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence, Union

from walkout_core.association.history import STATE_AT_CHECKOUT, STATE_EXITED
from walkout_core.basket.model import AlertInfo, AlertKind, left_alert_id
from walkout_core.basket.store import BasketView
from walkout_core.layout import Layout

from .checkout import should_alert_left_without_paying, unpaid_after_receipt
from .config import CheckoutConfig
from .terminal import to_cents

__all__ = ['CheckoutAvatar', 'Visit', 'Card', 'PayRequest', 'AgeApprovalRequest', 'LeftWithoutPaying',
           'StampOutOfOrder', 'UnknownZone', 'CardDropped', 'VisitAction', 'CheckoutVisits', 'STATE_AT_CHECKOUT',
           'STATE_EXITED']

#: [s] stamps closer than this are equal (sums of float stamps, e.g. 12.2 - 12.0 < 0.2)
STAMP_EPS_S = 1e-6


@dataclass(frozen=True)
class CheckoutAvatar:
    """One avatar of an update (``walkout_msgs/Avatar`` without ROS types)."""
    id: int
    state: int
    is_staff: bool = False
    position: tuple[float, float] = (0.0, 0.0)
    checkout_zone_id: str = ''


@dataclass
class Visit:
    zone: str = ''
    entered_t: float = 0.0          # [s] stamp the avatar entered its current zone
    last_attempt_t: float = -1e18   # [s] last simulated payment attempt
    age_requested: bool = False
    exited_t: float | None = None
    is_staff: bool = False
    position: tuple[float, float] = (0.0, 0.0)


@dataclass
class Card:
    """A card presented at ``zone``'s terminal, waiting to pay the cart of the avatar standing there."""
    zone: str
    t: float                         # [s] stamp it was presented
    avatar_id: int | None = None     # [-] whose cart it pays: the unpaid avatar nearest the terminal when the card
    #                                  is first handled
    last_attempt_t: float = -1e18    # [s] last payment attempt

    @property
    def request_id(self) -> str:
        """One payment request per card: a retried attempt gets the same single receipt."""
        return f'card:{self.zone}:{int(round(self.t * 1000))}'


@dataclass(frozen=True)
class PayRequest:
    """Card presented: charge ``avatar_id`` at ``zone`` with ``pin`` ('' = contactless)."""
    avatar_id: int
    zone: str
    pin: str
    request_id: str


@dataclass(frozen=True)
class AgeApprovalRequest:
    """Simulated staff approve the avatar's pending age check (report failure with ``age_request_failed``)."""
    avatar_id: int


@dataclass(frozen=True)
class LeftWithoutPaying:
    alert: AlertInfo


@dataclass(frozen=True)
class StampOutOfOrder:
    """The update was older than the last one and was ignored (no state changed)."""
    t: float
    last_t: float


@dataclass(frozen=True)
class UnknownZone:
    avatar_id: int
    zone: str


@dataclass(frozen=True)
class CardDropped:
    """A presented card paid for nothing: ``reason`` says why (nobody in the zone, the avatar left, ...)."""
    zone: str
    presented_t: float               # [s]
    avatar_id: int | None
    reason: str


def _cart_state(b: BasketView | None) -> str:
    """Why a cart did not pay, for a dropped card's reason."""
    if b is None or b.is_empty:
        return 'empty'
    return f'not payable ({b.blocked_reason})' if b.blocked_reason else 'refused by the terminal'


VisitAction = Union[PayRequest, AgeApprovalRequest, LeftWithoutPaying, StampOutOfOrder, UnknownZone, CardDropped]


class CheckoutVisits:
    """Per-avatar visit state of the checkout, driven by avatar-stream stamps only."""

    def __init__(self, cfg: CheckoutConfig, layout: Layout):
        self.cfg = cfg
        self.layout = layout
        self.zone_ids = frozenset(z.id for z in layout.checkout_zones)
        # the zone's terminal and tablet stand at its centre: the shopper paying stands by them
        self.terminal_xy = {z.id: tuple(map(float, z.polygon.centroid)) for z in layout.checkout_zones}
        self.visits: dict[int, Visit] = {}
        self.left_alerted: set[int] = set()
        self.cards: dict[str, Card] = {}                  # zone -> the card waiting at its terminal
        self._cards_due: list[tuple[float, str]] = []     # presented, not yet reached by the avatar stream
        self.t = 0.0

    # ------------------------------------------------------------------ zones
    def zone_of(self, a: CheckoutAvatar) -> str:
        if a.checkout_zone_id:
            return str(a.checkout_zone_id)
        if a.state == STATE_AT_CHECKOUT:
            z = self.layout.checkout_zone_at(a.position)
            return z.id if z else ''
        return ''

    def occupant(self, zone: str, skip: Callable[[int], bool] | None = None) -> int | None:
        """The non-staff avatar in ``zone`` standing nearest its terminal (ties: the earliest arrival), not
        one for which ``skip`` is true; None if nobody. Others in the zone are waiting or passing through."""
        tx, ty = self.terminal_xy.get(zone, (0.0, 0.0))
        here = [(round(math.hypot(v.position[0] - tx, v.position[1] - ty), 6), v.entered_t, aid)
                for aid, v in self.visits.items()
                if v.zone == zone and not v.is_staff and v.exited_t is None and not (skip and skip(aid))]
        return min(here)[2] if here else None

    # ------------------------------------------------------------------ cards
    def card_presented(self, t: float, zone: str) -> bool:
        """A card was presented at ``zone``'s terminal at ``t`` [s]. It is handled with the first avatar
        update stamped at or after ``t`` (so the outcome does not depend on which stream arrives first).
        False, and nothing kept, for an unknown zone."""
        if zone not in self.zone_ids:
            return False
        bisect.insort(self._cards_due, (float(t), zone))
        return True

    # ------------------------------------------------------------------ update
    def update(self, t: float, avatars: Sequence[CheckoutAvatar], baskets: Mapping[int, BasketView],
               has_receipt: Callable[[int], bool],
               paid_items: Callable[[int], Mapping[str, int] | None] | None = None) -> list[VisitAction]:
        """Apply one avatar update stamped ``t`` [s]; returns the actions to perform, in order.

        ``paid_items`` (product -> units on the avatar's receipt, None without one) lets the exit check see
        items taken after paying."""
        if t < self.t:
            return [StampOutOfOrder(t, self.t)]
        self.t = t
        actions: list[VisitAction] = []
        for a in avatars:
            v = self.visits.setdefault(int(a.id), Visit())
            v.is_staff = bool(a.is_staff)
            v.position = (float(a.position[0]), float(a.position[1]))
            zone = '' if a.state == STATE_EXITED else self.zone_of(a)
            if zone not in self.zone_ids:
                if zone:
                    actions.append(UnknownZone(int(a.id), zone))
                zone = ''
            if zone != v.zone:
                v.zone, v.entered_t = zone, t
            if a.state == STATE_EXITED and v.exited_t is None:
                v.exited_t = t
        while self._cards_due and self._cards_due[0][0] <= t:
            ct, zone = self._cards_due.pop(0)
            self.cards[zone] = Card(zone, ct)          # a newer card at the same terminal replaces a waiting one
        actions += self._simulate(t, baskets, has_receipt)
        actions += self._card_payments(t, baskets, has_receipt)
        actions += self._check_left(t, baskets, has_receipt, paid_items)
        for aid in [k for k in self.left_alerted if k in self.visits]:
            del self.visits[aid]               # exited and checked: the tracker never reuses an id
        return actions

    def age_request_failed(self, avatar_id: int) -> None:
        """The age-approval request could not be sent: ask again on a later update."""
        v = self.visits.get(avatar_id)
        if v is not None:
            v.age_requested = False

    # ------------------------------------------------------------------ simulated terminal and staff
    def _needs_pin(self, amount: float) -> bool:
        return to_cents(amount) > to_cents(self.layout.contactless_limit)

    def _pin(self, b: BasketView) -> str:
        return self.cfg.simulated_pin if self._needs_pin(b.total) else ''

    def _simulate(self, t: float, baskets: Mapping[int, BasketView],
                  has_receipt: Callable[[int], bool]) -> list[VisitAction]:
        """Simulated staff (age checks) and, with ``payment_trigger: dwell``, the simulated shopper's card."""
        cfg = self.cfg
        if cfg.terminal != 'simulated':
            return []
        actions: list[VisitAction] = []
        age_s = cfg.simulated_staff_age_check_s or (cfg.replay_staff_age_check_s if cfg.reliable_sensors else 0.0)
        for aid, v in self.visits.items():
            if not v.zone or v.is_staff or v.exited_t is not None:
                continue
            b = baskets.get(aid)
            if b is None or b.is_empty or has_receipt(aid):
                continue
            dwell = t - v.entered_t
            if (age_s > 0 and dwell >= age_s
                    and b.age_check_required and not b.age_approved and not v.age_requested):
                v.age_requested = True
                actions.append(AgeApprovalRequest(aid))
            if (cfg.payment_trigger == 'dwell' and dwell >= cfg.simulated_dwell_to_pay_s - STAMP_EPS_S
                    and t - v.last_attempt_t >= cfg.payment_retry_s - STAMP_EPS_S):
                v.last_attempt_t = t
                actions.append(PayRequest(aid, v.zone, self._pin(b), f'sim:{aid}'))
        return actions

    def _card_payments(self, t: float, baskets: Mapping[int, BasketView],
                       has_receipt: Callable[[int], bool]) -> list[VisitAction]:
        """Each waiting card pays the cart of the unpaid avatar nearest its zone's terminal: retried while the
        cart is blocked or still empty, dropped (with the reason) when that avatar leaves the zone or after
        ``card_hold_s``; consumed once the avatar has a receipt."""
        cfg = self.cfg
        actions: list[VisitAction] = []
        for zone, c in list(self.cards.items()):
            if c.avatar_id is None:
                c.avatar_id = self.occupant(zone, skip=has_receipt)   # not one who has paid and not left yet
            aid = c.avatar_id
            if aid is not None and has_receipt(aid):
                del self.cards[zone]
                continue
            v = self.visits.get(aid) if aid is not None else None
            b = baskets.get(aid) if aid is not None else None
            reason = ''
            if aid is not None and (v is None or v.zone != zone or v.exited_t is not None):
                reason = f'avatar {aid} left the zone before paying (its cart: {_cart_state(b)})'
            elif t - c.t > cfg.card_hold_s + STAMP_EPS_S:
                reason = ('nobody stood in the zone' if aid is None else
                          f"avatar {aid}'s cart was {_cart_state(b)} for card_hold_s {cfg.card_hold_s:g} s")
            if reason:
                del self.cards[zone]
                actions.append(CardDropped(zone, c.t, aid, reason))
                continue
            if aid is None or b is None or b.is_empty or t - c.last_attempt_t < cfg.payment_retry_s - STAMP_EPS_S:
                continue                           # wait: someone may step in, late events may fill the cart
            c.last_attempt_t = t
            actions.append(PayRequest(aid, zone, self._pin(b), c.request_id))
        return actions

    # ------------------------------------------------------------------ left without paying
    def _check_left(self, t: float, baskets: Mapping[int, BasketView], has_receipt: Callable[[int], bool],
                    paid_items: Callable[[int], Mapping[str, int] | None] | None) -> list[VisitAction]:
        """Exited ``left_check_delay_s`` ago: alert once if the avatar left with an unpaid basket, or with
        items taken after paying (beyond its receipt; staff never)."""
        actions: list[VisitAction] = []
        for aid, v in self.visits.items():
            if v.exited_t is None or aid in self.left_alerted or t - v.exited_t < self.cfg.left_check_delay_s:
                continue
            self.left_alerted.add(aid)
            b = baskets.get(aid)
            paid = has_receipt(aid)
            if should_alert_left_without_paying(b, v.is_staff, paid):
                assert b is not None
                actions.append(self._left_alert(aid, v, t, f'avatar {aid} left with an unpaid basket of '
                                                f'{b.total:.2f} {b.currency}', [i.product_id for i in b.items]))
            elif paid and not v.is_staff and paid_items is not None and \
                    (extra := unpaid_after_receipt(b, paid_items(aid))):
                lines = ', '.join(f'{n} x {pid}' for pid, n in extra.items())
                actions.append(self._left_alert(aid, v, t, f'avatar {aid} left with items taken after paying '
                                                f'(beyond its receipt): {lines}', list(extra)))
        return actions

    @staticmethod
    def _left_alert(aid: int, v: Visit, t: float, message: str, product_ids: list[str]) -> LeftWithoutPaying:
        assert v.exited_t is not None
        return LeftWithoutPaying(AlertInfo(
            alert_id=left_alert_id(aid), kind=AlertKind.LEFT_WITHOUT_PAYING, message=message,
            location=(v.position[0], v.position[1], 0.0), product_ids=product_ids, avatar_ids=[aid],
            avatar_scores=[1.0], stamp=v.exited_t, evidence_start=v.exited_t, evidence_end=t))
