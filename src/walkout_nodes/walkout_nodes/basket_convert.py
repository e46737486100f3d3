"""Conversions between walkout_msgs and the plain values of the association/basket/checkout cores,
and the parameter-update callback the three nodes share."""
from __future__ import annotations

import math
from typing import Any

from geometry_msgs.msg import Point

from walkout_core.association.associator import ShelfEventIn
from walkout_core.association.history import AvatarFrame, AvatarSample
from walkout_core.basket.model import AlertInfo, BasketChange
from walkout_core.basket.store import BasketView, ItemLine
from walkout_core.checkout.receipts import ReceiptRecord
from walkout_msgs.msg import (AvatarArray, Basket, BasketArray, BasketEvent, BasketItem, Receipt,
                              ShelfEvent, StoreAlert)

from .common import sec_to_stamp, stamp_to_sec

__all__ = ['frame_from_msg', 'shelf_event_from_msg', 'change_to_msg', 'change_from_msg', 'alert_to_msg',
           'alert_from_msg', 'basket_to_msg', 'basket_from_msg', 'baskets_to_msg', 'receipt_to_msg']


def _finite(*v: float) -> bool:
    return all(math.isfinite(float(x)) for x in v)


def frame_from_msg(msg: AvatarArray) -> tuple[AvatarFrame, int]:
    """An AvatarFrame and the number of avatars dropped as malformed (NaN position)."""
    out, bad = [], 0
    for a in msg.avatars:
        if not _finite(a.position.x, a.position.y):
            bad += 1
            continue
        cov = tuple(float(c) for c in a.position_covariance)
        if len(cov) != 4 or not _finite(*cov):
            cov = (0.01, 0.0, 0.0, 0.01)
        reach = bool(a.has_reach) and _finite(a.reach_point.x, a.reach_point.y)
        rgb = tuple(float(v) for v in a.hand_rgb)
        held = rgb if reach and len(rgb) == 3 and _finite(*rgb) and any(rgb) and all(0.0 <= v <= 1.0 for v in rgb) \
            else None
        out.append(AvatarSample(id=int(a.id), x=float(a.position.x), y=float(a.position.y), cov=cov,  # type: ignore[arg-type]
                                has_reach=reach, reach_x=float(a.reach_point.x) if reach else float(a.position.x),
                                reach_y=float(a.reach_point.y) if reach else float(a.position.y),
                                is_staff=bool(a.is_staff), state=int(a.state),
                                checkout_zone_id=str(a.checkout_zone_id), hand_rgb=held))  # type: ignore[arg-type]
    return AvatarFrame(stamp_to_sec(msg.header.stamp), tuple(out)), bad


def shelf_event_from_msg(msg: ShelfEvent, layout: Any) -> ShelfEventIn:
    """Raises ValueError naming what is wrong (unknown shelf or lane, NaN position, no id)."""
    if not msg.event_id:
        raise ValueError('shelf event without event_id')
    x, y, z = msg.lane_position.x, msg.lane_position.y, msg.lane_position.z
    if not _finite(x, y, z) or (x == 0.0 and y == 0.0):
        try:
            p = layout.shelf(msg.shelf_id).lane_position(int(msg.lane))
        except (KeyError, IndexError):
            raise ValueError(f'shelf event {msg.event_id}: unknown shelf/lane {msg.shelf_id!r}/{msg.lane} '
                             'and no lane_position') from None
        x, y, z = float(p[0]), float(p[1]), float(p[2])
    return ShelfEventIn(event_id=msg.event_id, t=stamp_to_sec(msg.header.stamp), shelf_id=msg.shelf_id,
                        lane=int(msg.lane), product_id=msg.product_id, quantity=int(msg.quantity),
                        lane_xy=(float(x), float(y)), flags=int(msg.flags),
                        planogram_product_id=msg.planogram_product_id,
                        confidence=float(msg.confidence) if _finite(msg.confidence) else 0.0,
                        decided_t=stamp_to_sec(msg.decided_stamp), lane_z=float(z),
                        weight_change_g=float(msg.weight_change_g))


def change_to_msg(ch: BasketChange) -> BasketEvent:
    m = BasketEvent()
    m.header.stamp = sec_to_stamp(ch.t)
    m.header.frame_id = 'map'
    m.event_id, m.shelf_event_id = ch.event_id, ch.shelf_event_id
    m.avatar_id, m.counterpart_avatar_id = int(ch.avatar_id), int(ch.counterpart_avatar_id)
    m.product_id, m.quantity = ch.product_id, int(ch.quantity)
    m.confidence, m.needs_review, m.cause = float(ch.confidence), bool(ch.needs_review), int(ch.cause)
    m.candidate_avatar_ids = [int(a) for a in ch.candidate_avatar_ids]
    m.candidate_scores = [float(s) for s in ch.candidate_scores]
    return m


def change_from_msg(m: BasketEvent) -> BasketChange:
    return BasketChange(event_id=m.event_id, t=stamp_to_sec(m.header.stamp), avatar_id=int(m.avatar_id),
                        product_id=m.product_id, quantity=int(m.quantity), cause=int(m.cause),
                        shelf_event_id=m.shelf_event_id, counterpart_avatar_id=int(m.counterpart_avatar_id),
                        confidence=float(m.confidence), needs_review=bool(m.needs_review),
                        candidate_avatar_ids=[int(a) for a in m.candidate_avatar_ids],
                        candidate_scores=[float(s) for s in m.candidate_scores])


def alert_to_msg(a: AlertInfo) -> StoreAlert:
    m = StoreAlert()
    m.header.stamp = sec_to_stamp(a.stamp)
    m.header.frame_id = 'map'
    m.alert_id, m.kind, m.state, m.message = a.alert_id, int(a.kind), int(a.state), a.message
    m.shelf_id, m.lane = a.shelf_id, int(a.lane)
    m.location = Point(x=float(a.location[0]), y=float(a.location[1]), z=float(a.location[2]))
    m.product_ids = list(a.product_ids)
    m.avatar_ids = [int(x) for x in a.avatar_ids]
    m.avatar_scores = [float(x) for x in a.avatar_scores]
    m.event_ids = list(a.event_ids)
    m.evidence_start, m.evidence_end = sec_to_stamp(a.evidence_start), sec_to_stamp(a.evidence_end)
    m.evidence_json = a.evidence_json
    return m


def alert_from_msg(m: StoreAlert) -> AlertInfo:
    return AlertInfo(alert_id=m.alert_id, kind=int(m.kind), state=int(m.state), message=m.message,
                     shelf_id=m.shelf_id, lane=int(m.lane), location=(m.location.x, m.location.y, m.location.z),
                     product_ids=list(m.product_ids), avatar_ids=[int(x) for x in m.avatar_ids],
                     avatar_scores=[float(x) for x in m.avatar_scores], event_ids=list(m.event_ids),
                     stamp=stamp_to_sec(m.header.stamp), evidence_start=stamp_to_sec(m.evidence_start),
                     evidence_end=stamp_to_sec(m.evidence_end), evidence_json=m.evidence_json or '{}')


def _items_to_msg(items: tuple[ItemLine, ...]) -> list[BasketItem]:
    return [BasketItem(product_id=i.product_id, name=i.name, quantity=int(i.quantity), unit_price=float(i.unit_price),
                       line_total=float(i.line_total), age_restricted=bool(i.age_restricted)) for i in items]


def basket_to_msg(b: BasketView) -> Basket:
    m = Basket()
    m.header.stamp = sec_to_stamp(b.stamp)
    m.header.frame_id = 'map'
    m.avatar_id, m.items, m.total, m.currency = int(b.avatar_id), _items_to_msg(b.items), float(b.total), b.currency
    m.state, m.pending_reviews = int(b.state), int(b.pending_reviews)
    m.age_check_required, m.age_approved = bool(b.age_check_required), bool(b.age_approved)
    return m


def basket_from_msg(m: Basket) -> BasketView:
    items = tuple(ItemLine(i.product_id, i.name, int(i.quantity), float(i.unit_price), float(i.line_total),
                           bool(i.age_restricted)) for i in m.items)
    return BasketView(avatar_id=int(m.avatar_id), items=items, total=float(m.total), currency=m.currency,
                      state=int(m.state), pending_reviews=int(m.pending_reviews),
                      age_check_required=bool(m.age_check_required), age_approved=bool(m.age_approved),
                      stamp=stamp_to_sec(m.header.stamp))


def baskets_to_msg(baskets: list[BasketView], stamp: float) -> BasketArray:
    m = BasketArray()
    m.header.stamp = sec_to_stamp(stamp)
    m.header.frame_id = 'map'
    m.baskets = [basket_to_msg(b) for b in baskets]
    return m


def receipt_to_msg(r: ReceiptRecord) -> Receipt:
    m = Receipt()
    m.header.stamp = sec_to_stamp(r.stamp)
    m.header.frame_id = 'map'
    m.receipt_id, m.avatar_id, m.checkout_zone_id = r.receipt_id, int(r.avatar_id), r.checkout_zone_id
    m.items, m.total, m.currency = _items_to_msg(r.items), float(r.total), r.currency
    m.payment_method, m.pin_used, m.qr_payload = int(r.payment_method), bool(r.pin_used), r.qr_payload
    return m

