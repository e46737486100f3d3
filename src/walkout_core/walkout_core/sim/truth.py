"""Ground truth messages (``/truth/persons``, ``/truth/events``, ``/truth/baskets``) from the world."""
from __future__ import annotations

from collections import Counter
from typing import Any

from walkout_core.sim.bagwriter import header, stamp
from walkout_core.sim.world import KIND_HANDOVER, KIND_PICK, KIND_PUT_BACK, KIND_PUT_MISPLACED, \
    TruthEventRec, World

__all__ = ['persons_msg', 'event_msg', 'baskets_msg', 'basket_from_events']


def _point(types: Any, xy: Any, z: float = 0.0) -> Any:
    return types['geometry_msgs/msg/Point'](x=float(xy[0]), y=float(xy[1]), z=float(z))


def persons_msg(types: Any, world: World, t: float) -> Any:
    persons = []
    for p in world.people.values():
        if not p.inside:
            continue
        persons.append(types['walkout_msgs/msg/TruthPerson'](
            person_id=p.id, is_staff=p.staff, inside=True, position=_point(types, p.pos),
            reaching=p.reaching,
            reach_point=_point(types, p.hand, p.hand_z) if p.hand is not None else _point(types, (0.0, 0.0)),
            hand_item_id=p.hand_item if p.hand is not None else ''))
    return types['walkout_msgs/msg/TruthPersonArray'](header=header(t), persons=persons)


def event_msg(types: Any, e: TruthEventRec) -> Any:
    return types['walkout_msgs/msg/TruthEvent'](
        header=header(e.stamp), event_id=e.event_id, kind=e.kind, person_id=e.person_id,
        counterpart_id=e.counterpart_id, shelf_id=e.shelf_id, lane=e.lane, product_id=e.product_id,
        quantity=e.quantity, weight_change_g=float(e.weight_change_g), settled_stamp=stamp(e.settled))


def basket_from_events(events: list[Any], person_id: int) -> Counter:
    """A person's basket implied by truth events (rosbags/rclpy messages or records): product -> count."""
    c: Counter = Counter()
    for e in events:
        if e.kind == KIND_PICK and e.person_id == person_id:
            c[e.product_id] += e.quantity
        elif e.kind in (KIND_PUT_BACK, KIND_PUT_MISPLACED) and e.person_id == person_id:
            c[e.product_id] -= e.quantity
        elif e.kind == KIND_HANDOVER:
            if e.person_id == person_id:
                c[e.product_id] -= e.quantity
            if e.counterpart_id == person_id:
                c[e.product_id] += e.quantity
    return Counter({k: v for k, v in c.items() if v != 0})


def baskets_msg(types: Any, world: World, t: float) -> Any:
    baskets = []
    for pid in sorted(world.people):
        p = world.people[pid]
        counts = Counter(i.product_id for i in p.basket)
        items = []
        for prod_id in sorted(counts):
            prod = world.layout.product(prod_id)
            q = counts[prod_id]
            items.append(types['walkout_msgs/msg/BasketItem'](
                product_id=prod_id, name=prod.name, quantity=q, unit_price=float(prod.price),
                line_total=q * float(prod.price), age_restricted=bool(prod.age_restricted)))
        baskets.append(types['walkout_msgs/msg/TruthBasket'](person_id=pid, is_staff=p.staff, paid=p.paid,
                                                             items=items))
    return types['walkout_msgs/msg/TruthBasketArray'](header=header(t), baskets=baskets)
