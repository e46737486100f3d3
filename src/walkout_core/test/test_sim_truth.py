"""Ground truth of simulator bags: baskets = sum of events, handovers, paths around shelves."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from walkout_core.bagio import typestore
from walkout_core.sim.engine import simulate
from walkout_core.sim.scenario import load_scenario
from walkout_core.sim.truth import basket_from_events
from walkout_core.sim.world import (KIND_CHECKOUT, KIND_EXIT, KIND_HANDOVER, KIND_PICK, KIND_PUT_BACK,
                                    KIND_PUT_MISPLACED, KIND_RESTOCK)


def _sec(st) -> float:
    return st.sec + st.nanosec * 1e-9


def _truth(bag):
    ts = typestore()
    events, persons, baskets = [], [], None
    with Reader(bag) as r:
        conns = [c for c in r.connections if c.topic.startswith('/truth/')]
        for c, _, raw in r.messages(connections=conns):
            m = ts.deserialize_cdr(raw, c.msgtype)
            if c.topic == '/truth/events':
                events.append(m)
            elif c.topic == '/truth/persons':
                persons.append(m)
            else:
                baskets = m
    return events, persons, baskets


@pytest.fixture(scope='module')
def bags(tmp_path_factory):
    root = tmp_path_factory.mktemp('simtruth')
    out = {}
    for name in ('demo', 'put_back_wrong_lane', 'staff_restock', 'skip_checkout', 'crossing_arms'):
        out[name] = root / name
        simulate(load_scenario(name), out[name], cameras=False)   # truth does not depend on rendering
    return out


@pytest.mark.parametrize('name', ['demo', 'put_back_wrong_lane', 'staff_restock', 'skip_checkout'])
def test_baskets_equal_sum_of_events(bags, name):
    events, _, baskets = _truth(bags[name])
    assert baskets is not None and baskets.baskets
    for b in baskets.baskets:
        got = Counter({i.product_id: i.quantity for i in b.items})
        assert basket_from_events(events, b.person_id) == got, b.person_id
        for i in b.items:
            assert i.line_total == pytest.approx(i.quantity * i.unit_price)
    ids = [e.event_id for e in events]
    assert len(ids) == len(set(ids))
    stamps = [_sec(e.header.stamp) for e in events]
    assert stamps == sorted(stamps)


def test_demo_behaviour(bags):
    events, _, baskets = _truth(bags['demo'])
    kinds = Counter(e.kind for e in events)
    assert kinds[KIND_PUT_BACK] == 1 and kinds[KIND_HANDOVER] == 1 and kinds[KIND_PICK] >= 6
    # everyone pays and leaves within the scenario
    assert kinds[KIND_CHECKOUT] == kinds[KIND_EXIT] == len(baskets.baskets) == 4
    assert all(b.paid for b in baskets.baskets)
    assert any(i.age_restricted for b in baskets.baskets for i in b.items)
    for e in events:
        if e.kind == KIND_PICK:
            assert e.weight_change_g < 0 and e.quantity >= 1
            assert _sec(e.settled_stamp) > _sec(e.header.stamp)


def test_handover_geometry(bags):
    """Hands meet >= 0.8 m from any shelf front, reach points within 0.25 m, for >= 1 s."""
    events, persons, _ = _truth(bags['demo'])
    layout = load_scenario('demo').layout
    ho = next(e for e in events if e.kind == KIND_HANDOVER)
    both = []
    for pa in persons:
        by = {p.person_id: p for p in pa.persons}
        g, r = by.get(ho.person_id), by.get(ho.counterpart_id)
        if g and r and g.reaching and r.reaching:
            gp, rp = np.array([g.reach_point.x, g.reach_point.y]), np.array([r.reach_point.x, r.reach_point.y])
            if np.linalg.norm(gp - rp) <= 0.25:
                both.append((_sec(pa.header.stamp), gp))
    assert both[-1][0] - both[0][0] >= 1.0
    _, fronts = layout.all_lane_positions()
    for _, gp in both:
        for s in layout.shelves:
            assert not s.footprint.contains(gp)
        assert np.min(np.linalg.norm(fronts[:, :2] - gp, axis=1)) >= 0.8


def test_nobody_walks_through_shelves(bags):
    layout = load_scenario('demo').layout
    feet = {s.footprint.points: s.footprint for s in layout.shelves}.values()
    for name in ('demo', 'crossing_arms'):
        _, persons, _ = _truth(bags[name])
        pts = np.array([[p.position.x, p.position.y] for pa in persons for p in pa.persons])
        assert len(pts)
        for f in feet:
            assert not np.any(f.contains(pts)), name


def _cards(bag):
    ts = typestore()
    with Reader(bag) as r:
        conns = [c for c in r.connections if c.topic == '/checkout/card_presented']
        return [ts.deserialize_cdr(raw, c.msgtype) for c, _, raw in r.messages(connections=conns)]


@pytest.mark.parametrize('name', ['demo', 'skip_checkout'])
def test_card_presented_by_each_paying_shopper_in_its_zone(bags, name):
    """The terminals' card stream: one card per paying shopper with products, card_tap_after_s after it
    reached the checkout, at the zone where it stands; nobody who skips the checkout presents one."""
    scn = load_scenario(name)
    events, persons, baskets = _truth(bags[name])
    cards = _cards(bags[name])
    paying = {b.person_id for b in baskets.baskets if b.paid and b.items}
    checkout = {e.person_id: _sec(e.header.stamp) for e in events if e.kind == KIND_CHECKOUT}
    assert len(cards) == len(paying) and paying <= set(checkout)
    for c in cards:
        t = _sec(c.header.stamp)
        pid = min(paying, key=lambda p: abs(checkout[p] + scn.card_tap_after_s - t))
        assert t - checkout[pid] == pytest.approx(scn.card_tap_after_s, abs=0.06)
        arr = min(persons, key=lambda a: abs(_sec(a.header.stamp) - t))
        pos = next(p.position for p in arr.persons if p.person_id == pid)
        assert scn.layout.checkout_zone_at((pos.x, pos.y)).id == c.checkout_zone_id


def test_misplacement_restock_skip_checkout(bags):
    ev, _, _ = _truth(bags['put_back_wrong_lane'])
    mis = [e for e in ev if e.kind == KIND_PUT_MISPLACED]
    assert len(mis) == 1 and mis[0].shelf_id == 'S6' and mis[0].product_id == 'p159' and mis[0].weight_change_g > 0
    ev, _, baskets = _truth(bags['staff_restock'])
    re = [e for e in ev if e.kind == KIND_RESTOCK]
    assert len(re) == 2 and all(e.quantity >= 5 and e.weight_change_g > 0 for e in re)
    staff = [b for b in baskets.baskets if b.is_staff]
    assert len(staff) == 1 and not staff[0].items and staff[0].person_id == re[0].person_id
    ev, _, baskets = _truth(bags['skip_checkout'])
    unpaid = [b for b in baskets.baskets if not b.paid]
    assert [b.person_id for b in unpaid] == [1] and unpaid[0].items
    assert not any(e.kind == KIND_CHECKOUT and e.person_id == 1 for e in ev)
    assert any(e.kind == KIND_EXIT and e.person_id == 1 for e in ev)


def test_crossing_arms_reach_simultaneously(bags):
    """Both shoppers reach at once, each to the lane in front of the other (the arms cross)."""
    ev, persons, _ = _truth(bags['crossing_arms'])
    picks = [e for e in ev if e.kind == KIND_PICK]
    first = {}
    for e in picks:
        first.setdefault(e.person_id, e)
    assert abs(_sec(first[1].header.stamp) - _sec(first[2].header.stamp)) < 0.3
    layout = load_scenario('crossing_arms').layout
    crossed = 0
    for pa in persons:
        by = {p.person_id: p for p in pa.persons}
        if 1 in by and 2 in by and by[1].reaching and by[2].reaching:
            p1, p2 = (np.array([by[k].position.x, by[k].position.y]) for k in (1, 2))
            h1, h2 = (np.array([by[k].reach_point.x, by[k].reach_point.y]) for k in (1, 2))
            axis = layout.shelf('S4').axis
            # along the shelf the bodies and the hands are in opposite order: segments cross
            if np.sign((p2 - p1) @ axis) == -np.sign((h2 - h1) @ axis):
                crossed += 1
    assert crossed >= 5
