"""Association core on constructed tracks and events: one test per hard case."""
from __future__ import annotations

import dataclasses
import json

import pytest

from walkout_core.association import AssociationConfig, Associator
from walkout_core.association.handover import chroma_distance
from walkout_core.association.history import AvatarFrame
from walkout_core.association.synthetic import Script, lane_xy, shelf_event
from walkout_core.basket.model import AlertKind, BasketChange, Cause, ShelfFlag
from walkout_core.config import validate
from walkout_core.layout import load_layout

LAYOUT = load_layout('small')
CFG = validate(AssociationConfig())
S1 = 'S1'   # back wall, lanes at x = 1.4, 1.8, 2.2, 2.6, front y = 5.6


def front(lane: int, shelf: str = S1, depth: float = 0.05) -> tuple[float, float]:
    """A hand just inside the lane front."""
    x, y = lane_xy(LAYOUT, shelf, lane)
    return x, y + depth


def run(script: Script, events, t0: float = 0.0, t1: float = 30.0, cfg: AssociationConfig = CFG):
    """Feed frames; each event is added when the stream reaches its decided stamp. All changes."""
    a = Associator(cfg, LAYOUT)
    pending = sorted(events, key=lambda e: e.decided_t)
    out = []
    for fr in script.frames(t0, t1):
        while pending and pending[0].decided_t <= fr.t:
            assert a.add_shelf_event(pending.pop(0))
        a.add_frame(fr)
        out.extend(a.advance())
    for e in pending:
        a.add_shelf_event(e)
    out.extend(a.flush())
    return a, out


def by_shelf_event(changes):
    return {c.shelf_event_id: c for c in changes if c.shelf_event_id}


def test_simple_pick_goes_to_the_reaching_avatar():
    s = Script().avatar(1, (0, (1.4, 5.0))).avatar(2, (0, (5.0, 2.0)))
    s.reach(1, 9.6, 10.6, front(0))
    _, ch = run(s, [shelf_event(LAYOUT, 'e1', 10.0, S1, 0)])
    c = by_shelf_event(ch)['e1']
    assert (c.avatar_id, c.cause, c.quantity, c.needs_review) == (1, Cause.PICK, 1, False)
    assert c.product_id == 'p001' and c.confidence > 0.95
    assert c.candidate_avatar_ids[0] == 1


def test_crossing_arms_reach_points_decide_not_bodies():
    # Avatar 1 stands in front of lane 0 and reaches lane 1; avatar 2 stands at lane 1 and reaches lane 0.
    s = Script().avatar(1, (0, (1.4, 5.05))).avatar(2, (0, (1.8, 5.05)))
    s.reach(1, 9.5, 10.7, front(1)).reach(2, 9.5, 10.7, front(0))
    _, ch = run(s, [shelf_event(LAYOUT, 'l0', 10.0, S1, 0), shelf_event(LAYOUT, 'l1', 10.1, S1, 1)])
    ev = by_shelf_event(ch)
    assert ev['l0'].avatar_id == 2 and not ev['l0'].needs_review
    assert ev['l1'].avatar_id == 1 and not ev['l1'].needs_review
    assert ev['l0'].confidence > 0.95 and ev['l1'].confidence > 0.95


SKIN = (0.84, 0.67, 0.55)


def _two_hands_at_lane_0(rgb_1_before, rgb_1_after, rgb_2_before, rgb_2_after):
    """Avatars 1 and 2 stand at lanes 0 and 1 and both reach lane 0 around a pick at 10 s: the hands
    alone cannot tell who took p001. Their hand colours before and after the pick as given."""
    s = Script().avatar(1, (0, (1.4, 5.0))).avatar(2, (0, (1.8, 5.0)))
    s.reach(1, 9.5, 10.0, front(0), rgb_1_before).reach(1, 10.05, 10.8, front(0), rgb_1_after)
    s.reach(2, 9.5, 10.0, front(0), rgb_2_before).reach(2, 10.05, 10.8, front(0), rgb_2_after)
    return by_shelf_event(run(s, [shelf_event(LAYOUT, 'e', 10.0, S1, 0)])[1])['e']


def test_pick_the_product_seen_coming_out_in_a_hand_decides():
    p001 = LAYOUT.catalogue['p001'].colour_rgb
    undecided = _two_hands_at_lane_0(SKIN, SKIN, SKIN, SKIN)
    assert undecided.needs_review                      # the reach points alone: a coin toss
    c = _two_hands_at_lane_0(SKIN, SKIN, SKIN, p001)   # p001 appears in 2's hand after the pick
    assert (c.avatar_id, c.needs_review) == (2, False) and c.confidence > 0.85


def test_review_evidence_says_whose_hand_showed_the_product():
    p001 = LAYOUT.catalogue['p001'].colour_rgb
    both = _two_hands_at_lane_0(SKIN, p001, SKIN, p001)    # both hands show it: no help, but staff see it
    assert both.needs_review
    shown = {d['avatar_id']: d['hand_showed_product'] for d in json.loads(both.review.evidence_json)['candidates']}
    assert shown == {1: True, 2: True}
    neither = _two_hands_at_lane_0(SKIN, SKIN, SKIN, SKIN)
    assert not any(d['hand_showed_product'] for d in json.loads(neither.review.evidence_json)['candidates'])


def test_a_hand_of_the_products_colour_all_along_is_no_evidence():
    # 1's sleeve happens to be p001's colour before and after: the product did not come out in that hand
    p001 = LAYOUT.catalogue['p001'].colour_rgb
    c = _two_hands_at_lane_0(p001, p001, SKIN, SKIN)
    assert c.needs_review


def _toward(rgb, other, d):
    """A colour at chromaticity distance ``d`` from ``rgb``, on the way to ``other``."""
    ca, cb = (tuple(v / sum(c) for v in c) for c in (rgb, other))
    t = d / chroma_distance(ca, cb)
    return tuple((1 - t) * a + t * b for a, b in zip(ca, cb))


def test_a_hand_nearly_of_the_products_colour_before_is_no_evidence_unless_it_gets_clearly_nearer():
    # a hand over shelf stock of about the product's colour: just outside carry_colour_match before the pick,
    # just inside after it; the product did not come out in it
    p001 = LAYOUT.catalogue['p001'].colour_rgb
    near, nearer = _toward(p001, SKIN, CFG.carry_colour_match + 0.005), _toward(p001, SKIN, CFG.carry_colour_match - 0.01)
    assert _two_hands_at_lane_0(near, nearer, SKIN, SKIN).needs_review
    # the product itself appears in that hand: it is
    c = _two_hands_at_lane_0(near, p001, SKIN, SKIN)
    assert (c.avatar_id, c.needs_review) == (1, False)


def test_handover_moves_the_givers_last_picked_item():
    s = Script().avatar(1, (0, (1.4, 5.0)), (12, (1.4, 5.0)), (14, (3.0, 4.6)))
    s.avatar(2, (0, (3.0, 4.0)))
    s.reach(1, 4.6, 5.5, front(0)).reach(1, 7.6, 8.5, front(1))
    # hands meet at (3.0, 4.3): 1.3 m from S1's front, 0.9 m from S5's front
    s.reach(1, 15.0, 16.5, (3.0, 4.32)).reach(2, 15.0, 16.5, (3.0, 4.28))
    evs = [shelf_event(LAYOUT, 'a', 5.0, S1, 0), shelf_event(LAYOUT, 'b', 8.0, S1, 1)]
    a, ch = run(s, evs)
    ho = [c for c in ch if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT)]
    assert len(ho) == 2
    out = next(c for c in ho if c.cause == Cause.HANDOVER_OUT)
    inn = next(c for c in ho if c.cause == Cause.HANDOVER_IN)
    assert (out.avatar_id, out.counterpart_avatar_id, out.quantity, out.product_id) == (1, 2, -1, 'p007')
    assert (inn.avatar_id, inn.counterpart_avatar_id, inn.quantity, inn.product_id) == (2, 1, 1, 'p007')
    assert a.ledger.holds(1, 'p001') == 1 and a.ledger.holds(1, 'p007') == 0 and a.ledger.holds(2, 'p007') == 1


def test_hands_meeting_at_a_shelf_is_no_handover():
    s = Script().avatar(1, (0, (1.4, 5.0))).avatar(2, (0, (1.8, 5.0)))
    s.reach(1, 4.6, 5.5, front(0))
    s.reach(1, 9.0, 11.0, front(0)).reach(2, 9.0, 11.0, (1.45, 5.65))
    _, ch = run(s, [shelf_event(LAYOUT, 'a', 5.0, S1, 0)])
    assert not [c for c in ch if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT)]


def _both_hold_meeting_unseen(cfg: AssociationConfig = CFG):
    """2 picks p019 (lane 3) at 4 s, 1 picks p001 (lane 0) at 10 s; their hands meet at 15 s, no colour seen."""
    s = Script().avatar(1, (0, (1.4, 5.0)), (12, (1.4, 5.0)), (14, (3.0, 4.6)))
    s.avatar(2, (0, (2.6, 5.0)), (12, (2.6, 5.0)), (13, (3.0, 4.0)))
    s.reach(2, 3.6, 4.5, front(3)).reach(1, 9.6, 10.5, front(0))
    s.reach(1, 15.0, 16.5, (3.0, 4.32)).reach(2, 15.0, 16.5, (3.0, 4.28))
    return run(s, [shelf_event(LAYOUT, 'x', 4.0, S1, 3), shelf_event(LAYOUT, 'y', 10.0, S1, 0)], cfg=cfg)


def test_handover_when_both_hold_items_and_nothing_shows_which_goes_to_review():
    a, ch = _both_hold_meeting_unseen()
    ho = [c for c in ch if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT)]
    assert len(ho) == 1
    r = ho[0]
    # proposed: the more recent picker (1) gives p001 to 2; staff name the receiver
    assert (r.cause, r.needs_review, r.avatar_id, r.counterpart_avatar_id, r.product_id, r.quantity) == \
        (Cause.HANDOVER_IN, True, 2, 1, 'p001', 1)
    assert r.candidate_avatar_ids == [2, 1] and r.confidence == pytest.approx(0.5)
    assert r.review is not None and r.review.kind == AlertKind.REVIEW_NEEDED
    assert r.review.avatar_ids == [2, 1] and r.review.product_ids[0] == 'p001'
    assert set(json.loads(r.review.evidence_json)['held']) == {'1', '2'}
    # nothing moves until staff decide
    assert a.ledger.holds(1, 'p001') == 1 and a.ledger.holds(2, 'p019') == 1 and a.ledger.holds(2, 'p001') == 0
    assert a.stats['handovers_review'] == 1


def test_handover_when_both_hold_items_without_review_takes_the_more_recent_picker_as_giver():
    a, ch = _both_hold_meeting_unseen(validate(dataclasses.replace(CFG, handover_review_unclear=False)))
    out = next(c for c in ch if c.cause == Cause.HANDOVER_OUT)
    assert out.avatar_id == 1 and out.product_id == 'p001' and not out.needs_review
    assert out.confidence == pytest.approx(0.5)     # a guess, and it says so
    assert a.ledger.holds(2, 'p001') == 1


def _both_hold_then_meet(rgb_1, rgb_2, cfg: AssociationConfig = CFG):
    """2 picks p019 (lane 3) at 4 s, 1 picks p001 (lane 0) at 10 s; their hands meet at 15 s showing
    the colours ``rgb_1`` / ``rgb_2``."""
    s = Script().avatar(1, (0, (1.4, 5.0)), (12, (1.4, 5.0)), (14, (3.0, 4.6)))
    s.avatar(2, (0, (2.6, 5.0)), (12, (2.6, 5.0)), (13, (3.0, 4.0)))
    s.reach(2, 3.6, 4.5, front(3)).reach(1, 9.6, 10.5, front(0))
    s.reach(1, 15.0, 16.5, (3.0, 4.32), rgb_1).reach(2, 15.0, 16.5, (3.0, 4.28), rgb_2)
    return run(s, [shelf_event(LAYOUT, 'x', 4.0, S1, 3), shelf_event(LAYOUT, 'y', 10.0, S1, 0)], cfg=cfg)


def test_handover_the_product_seen_at_the_hands_tells_who_gives():
    # the more recent picker (1) would be the guess; the hands show p019's packaging, which 2 holds
    p019 = LAYOUT.catalogue['p019'].colour_rgb
    assert p019 is not None and LAYOUT.catalogue['p001'].colour_rgb is not None
    a, ch = _both_hold_then_meet(p019, tuple(0.9 * v for v in p019))   # darker: the same chromaticity
    out = next(c for c in ch if c.cause == Cause.HANDOVER_OUT)
    assert (out.avatar_id, out.counterpart_avatar_id, out.product_id) == (2, 1, 'p019')
    assert out.confidence > 0.9
    assert a.ledger.holds(1, 'p019') == 1 and a.ledger.holds(1, 'p001') == 1 and a.ledger.holds(2, 'p019') == 0


def test_handover_colours_matching_no_held_product_tell_nothing_without_the_veto():
    # (with handover_colour_veto_n on, as many grey colours as here are no handover: the test below)
    grey = (0.5, 0.5, 0.5)      # skin-less grey hands: no product's packaging
    assert all(chroma_distance(grey, LAYOUT.catalogue[p].colour_rgb) > CFG.handover_colour_match
               for p in ('p001', 'p019'))
    _, ch = _both_hold_then_meet(grey, grey, validate(dataclasses.replace(CFG, handover_colour_veto_n=0)))
    r = next(c for c in ch if c.cause == Cause.HANDOVER_IN)
    assert r.needs_review and r.counterpart_avatar_id == 1 and r.product_id == 'p001'


def test_handover_product_held_by_a_third_shopper_next_to_one_of_the_two_is_given_by_that_shopper():
    # 3 picks p001 and stands 0.15 m from 2 (their bodies merge: the tracker gives 3's hand to 2); 2 holds
    # p019. 2's "hand" meets 1's, showing p001's packaging: 3 handed p001 to 1.
    p001 = LAYOUT.catalogue['p001'].colour_rgb
    s = Script().avatar(3, (0, (1.4, 5.0)), (12, (1.4, 5.0)), (14, (3.15, 4.0)), (30, (3.15, 4.0)))
    s.avatar(2, (0, (2.6, 5.0)), (12, (2.6, 5.0)), (13, (3.0, 4.0)), (30, (3.0, 4.0)))
    s.avatar(1, (0, (3.0, 2.0)), (13, (3.0, 2.0)), (14, (3.0, 4.6)), (30, (3.0, 4.6)))
    s.reach(3, 4.6, 5.5, front(0)).reach(2, 9.6, 10.5, front(3))
    s.reach(2, 15.0, 16.5, (3.0, 4.28), p001).reach(1, 15.0, 16.5, (3.0, 4.32), p001)
    a, ch = run(s, [shelf_event(LAYOUT, 'x', 5.0, S1, 0), shelf_event(LAYOUT, 'y', 10.0, S1, 3)])
    out = next(c for c in ch if c.cause == Cause.HANDOVER_OUT)
    inn = next(c for c in ch if c.cause == Cause.HANDOVER_IN)
    assert (out.avatar_id, out.product_id, inn.avatar_id) == (3, 'p001', 1) and not inn.needs_review
    assert a.ledger.holds(1, 'p001') == 1 and a.ledger.holds(3, 'p001') == 0 and a.ledger.holds(2, 'p019') == 1
    assert a.stats['handovers_third_holder'] == 1
    # off: no product of the two was seen, many colours -> the veto
    a, ch = run(s, [shelf_event(LAYOUT, 'x', 5.0, S1, 0), shelf_event(LAYOUT, 'y', 10.0, S1, 3)],
                cfg=validate(dataclasses.replace(CFG, handover_third_holder_m=0.0)))
    assert not [c for c in ch if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT)]


def _review_then_handover_to_3() -> Script:
    """1 and 2 stand side by side at lane 0, no hand seen (a pick at 5 s goes to review, 1 vs 2); at 15 s
    1's and 3's hands meet showing p001's packaging."""
    p001 = LAYOUT.catalogue['p001'].colour_rgb
    s = Script().avatar(1, (0, (1.45, 5.0)), (12, (1.45, 5.0)), (14, (3.0, 4.6)), (30, (3.0, 4.6)))
    s.avatar(2, (0, (1.75, 5.0)), (30, (1.75, 5.0)))
    s.avatar(3, (0, (3.0, 2.0)), (13, (3.0, 2.0)), (14, (3.0, 4.0)), (30, (3.0, 4.0)))
    return s.reach(1, 15.0, 16.5, (3.0, 4.32), p001).reach(3, 15.0, 16.5, (3.0, 4.28), p001)


def test_a_handover_showing_the_product_of_a_pick_under_review_resolves_it():
    # 1 and 2 stand side by side at lane 0, no hand seen: the pick of p001 goes to review (1 vs 2). Then 1's
    # and 3's hands meet showing p001's packaging: 1 picked it (2 never held anything out) and hands it to 3.
    s = _review_then_handover_to_3()
    a, ch = run(s, [shelf_event(LAYOUT, 'x', 5.0, S1, 0)])
    rev = next(c for c in ch if c.event_id == 'b:x')
    assert rev.needs_review and set(rev.candidate_avatar_ids) == {1, 2}
    res = next(c for c in ch if c.cause == Cause.REVIEW_RESOLVED)
    assert (res.event_id, res.avatar_id, res.product_id, res.quantity) == ('b:x:resolved', 1, 'p001', 1)
    out = next(c for c in ch if c.cause == Cause.HANDOVER_OUT)
    inn = next(c for c in ch if c.cause == Cause.HANDOVER_IN)
    assert (out.avatar_id, inn.avatar_id, inn.product_id) == (1, 3, 'p001')
    assert a.ledger.holds(3, 'p001') == 1 and a.ledger.holds(1, 'p001') == 0
    # the store echoes the resolution back: not applied twice
    a.apply_external(res)
    assert a.ledger.holds(1, 'p001') == 0 and a.stats['reviews_resolved_by_handover'] == 1
    # off: the review stays for staff, and the meeting is vetoed (p001 is held by neither)
    a, ch = run(s, [shelf_event(LAYOUT, 'x', 5.0, S1, 0)],
                cfg=validate(dataclasses.replace(CFG, review_hindsight_ratio=0.0)))
    assert not [c for c in ch if c.cause in (Cause.REVIEW_RESOLVED, Cause.HANDOVER_IN, Cause.HANDOVER_OUT)]


def test_a_review_staff_resolved_to_nobody_is_not_resolved_again_by_a_later_handover():
    s = _review_then_handover_to_3()
    a = Associator(CFG, LAYOUT)
    ev = shelf_event(LAYOUT, 'x', 5.0, S1, 0)
    out, added = [], False
    for fr in s.frames(0.0, 30.0):
        if fr.t >= ev.decided_t and not added:
            added = a.add_shelf_event(ev)
        a.add_frame(fr)
        out.extend(a.advance())
        if any(c.event_id == 'b:x' for c in out) and not any(c.cause == Cause.REVIEW_RESOLVED for c in out):
            # staff: nobody took it (the store announces it with avatar 0, quantity 0)
            nobody = BasketChange('b:x:resolved', 9.0, 0, 'p001', 0, Cause.REVIEW_RESOLVED)
            a.apply_external(nobody)
            out.append(nobody)
    out.extend(a.flush())
    assert next(c for c in out if c.event_id == 'b:x').needs_review
    assert a.stats['reviews_resolved_by_handover'] == 0
    assert not [c for c in out if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT)]   # p001 held by no one: veto


def test_a_handover_between_two_equally_likely_pickers_does_not_resolve_the_review():
    p001 = LAYOUT.catalogue['p001'].colour_rgb
    s = Script().avatar(1, (0, (1.45, 5.0)), (12, (1.45, 5.0)), (14, (3.0, 4.6)), (30, (3.0, 4.6)))
    s.avatar(2, (0, (1.75, 5.0)), (12, (1.75, 5.0)), (14, (3.0, 4.0)), (30, (3.0, 4.0)))
    s.reach(1, 15.0, 16.5, (3.0, 4.32), p001).reach(2, 15.0, 16.5, (3.0, 4.28), p001)
    a, ch = run(s, [shelf_event(LAYOUT, 'x', 5.0, S1, 0)])
    assert not [c for c in ch if c.cause in (Cause.REVIEW_RESOLVED, Cause.HANDOVER_IN, Cause.HANDOVER_OUT)]
    assert a.stats['reviews_resolved_by_handover'] == 0


def test_put_back_on_a_wrong_lane_removes_from_the_putter():
    # 1 picks p001 from lane 0, then puts it on lane 3 (p019's lane); 2 stands nearer lane 3 without reaching.
    s = Script().avatar(1, (0, (1.4, 5.0)), (8, (1.4, 5.0)), (10, (2.3, 5.0))).avatar(2, (0, (2.6, 5.1)))
    s.reach(1, 4.6, 5.5, front(0)).reach(1, 11.6, 12.6, front(3))
    evs = [shelf_event(LAYOUT, 'take', 5.0, S1, 0),
           shelf_event(LAYOUT, 'put', 12.0, S1, 3, quantity=-1, product_id='p001', flags=ShelfFlag.MISPLACED)]
    a, ch = run(s, evs)
    c = by_shelf_event(ch)['put']
    assert (c.avatar_id, c.cause, c.quantity, c.product_id, c.needs_review) == \
        (1, Cause.PUT_BACK_MISPLACED, -1, 'p001', False)
    assert a.ledger.holds(1, 'p001') == 0


def test_put_back_prefers_the_avatar_holding_the_product():
    # Both reach the lane about the same time; only avatar 2 holds p013.
    s = Script().avatar(1, (0, (2.2, 5.0))).avatar(2, (0, (2.3, 5.0)))
    s.reach(2, 2.6, 3.5, front(2))
    s.reach(1, 9.6, 10.5, front(2)).reach(2, 9.6, 10.5, front(2))
    a, ch = run(s, [shelf_event(LAYOUT, 'take', 3.0, S1, 2),
                    shelf_event(LAYOUT, 'put', 10.0, S1, 2, quantity=-1)])
    c = by_shelf_event(ch)['put']
    assert c.avatar_id == 2 and c.cause == Cause.PUT_BACK and not c.needs_review


def test_several_items_at_once():
    s = Script().avatar(1, (0, (2.6, 5.0)))
    s.reach(1, 9.6, 10.8, front(3))
    a, ch = run(s, [shelf_event(LAYOUT, 'grab', 10.0, S1, 3, quantity=3)])
    c = by_shelf_event(ch)['grab']
    assert (c.avatar_id, c.quantity, c.needs_review) == (1, 3, False)
    assert a.ledger.holds(1, 'p019') == 3


def test_two_shoppers_taking_from_one_lane_at_once_each_get_one_unit():
    # both reach lane 2 at the same moment and the shelf sees one event of 2 units: one each (a review of
    # "who took both" would be wrong whoever staff picked); with the split off, it goes to review
    s = Script().avatar(1, (0, (2.0, 5.0))).avatar(2, (0, (2.4, 5.0)))
    x, y = front(2)
    s.reach(1, 9.6, 10.5, (x - 0.03, y)).reach(2, 9.6, 10.5, (x + 0.03, y))
    product = LAYOUT.shelf(S1).lanes[2].product_id
    a, ch = run(s, [shelf_event(LAYOUT, 'two', 10.0, S1, 2, quantity=2)])
    parts = [c for c in ch if c.shelf_event_id == 'two']
    assert sorted((c.avatar_id, c.quantity, c.cause) for c in parts) == [(1, 1, Cause.PICK), (2, 1, Cause.PICK)]
    assert not any(c.needs_review for c in parts) and len({c.event_id for c in parts}) == 2
    assert all(c.confidence >= CFG.review_confidence for c in parts)
    assert a.ledger.holds(1, product) == 1 and a.ledger.holds(2, product) == 1
    _, ch = run(s, [shelf_event(LAYOUT, 'two', 10.0, S1, 2, quantity=2)],
                cfg=dataclasses.replace(CFG, split_min_share=0.0))
    (c,) = [c for c in ch if c.shelf_event_id == 'two']
    assert c.needs_review and c.quantity == 2


def test_product_comes_from_the_shelf_event_and_unknown_weight_goes_to_review():
    # Similar weights: the shelf pipeline names the product; the association never second-guesses it.
    s = Script().avatar(1, (0, (6.0, 5.0)))
    s.reach(1, 4.6, 5.5, front(1, 'S3')).reach(1, 9.6, 10.5, front(1, 'S3'))
    evs = [shelf_event(LAYOUT, 'sim', 5.0, 'S3', 1, product_id='p075'),
           shelf_event(LAYOUT, 'unk', 10.0, 'S3', 1, product_id='', flags=ShelfFlag.UNKNOWN)]
    _, ch = run(s, evs)
    ev = by_shelf_event(ch)
    assert ev['sim'].product_id == 'p075' and not ev['sim'].needs_review
    assert ev['unk'].needs_review and ev['unk'].avatar_id == 1 and ev['unk'].product_id == 'p076'
    assert ev['unk'].review is not None and 'not identified' in ev['unk'].review.message


def test_staff_restock_goes_to_no_basket():
    s = Script().avatar(9, (0, (4.4, 5.0)), staff=True)
    s.reach(9, 9.5, 11.0, front(0, 'S2'))
    a, ch = run(s, [shelf_event(LAYOUT, 'rs', 10.0, 'S2', 0, quantity=-6)])
    c = by_shelf_event(ch)['rs']
    assert c.cause == Cause.RESTOCK and c.avatar_id == 9 and not c.needs_review
    assert a.ledger.count(9) == 0


def test_nobody_near_goes_to_review():
    s = Script().avatar(1, (0, (6.0, 1.0)))
    _, ch = run(s, [shelf_event(LAYOUT, 'ghost', 10.0, S1, 2)])
    c = by_shelf_event(ch)['ghost']
    assert c.needs_review and c.cause == Cause.UNASSIGNED and c.avatar_id == 0
    assert c.review is not None and c.review.kind == AlertKind.REVIEW_NEEDED
    assert c.review.shelf_id == S1 and c.review.lane == 2


def test_two_equally_likely_candidates_go_to_review_with_evidence():
    s = Script().avatar(1, (0, (2.0, 5.0))).avatar(2, (0, (2.4, 5.0)))
    x, y = front(2)
    s.reach(1, 9.6, 10.5, (x - 0.03, y)).reach(2, 9.6, 10.5, (x + 0.03, y))
    _, ch = run(s, [shelf_event(LAYOUT, 'tie', 10.0, S1, 2)])
    c = by_shelf_event(ch)['tie']
    assert c.needs_review and c.cause == Cause.PICK
    assert sorted(c.candidate_avatar_ids[:2]) == [1, 2]
    assert c.candidate_scores[0] == pytest.approx(c.candidate_scores[1], abs=0.05)
    assert c.confidence < CFG.review_confidence
    ev = json.loads(c.review.evidence_json)
    assert {d['avatar_id'] for d in ev['candidates']} == {1, 2}
    assert all(d['reach_point'] is not None for d in ev['candidates'])
    assert c.review.evidence_start < 10.0 < c.review.evidence_end


def test_picks_in_quick_succession_on_one_lane_follow_the_time():
    s = Script().avatar(1, (0, (2.1, 5.0))).avatar(2, (0, (2.3, 5.0)))
    s.reach(1, 9.6, 10.4, front(2)).reach(2, 11.6, 12.4, front(2))
    _, ch = run(s, [shelf_event(LAYOUT, 'first', 10.0, S1, 2), shelf_event(LAYOUT, 'second', 12.0, S1, 2)])
    ev = by_shelf_event(ch)
    assert ev['first'].avatar_id == 1 and ev['second'].avatar_id == 2
    assert not ev['first'].needs_review and not ev['second'].needs_review


def test_sensor_fault_lowers_the_confidence():
    s = Script().avatar(1, (0, (1.4, 5.0)))
    s.reach(1, 9.6, 10.6, front(0))
    _, ch = run(s, [shelf_event(LAYOUT, 'f', 10.0, S1, 0, flags=ShelfFlag.SENSOR_FAULT)])
    c = by_shelf_event(ch)['f']
    assert c.avatar_id == 1 and c.confidence == pytest.approx(CFG.sensor_fault_factor, rel=0.05)


def test_events_wait_for_the_avatar_stream_and_out_of_order_frames_are_refused():
    s = Script().avatar(1, (0, (1.4, 5.0)))
    s.reach(1, 9.6, 10.6, front(0))
    a = Associator(CFG, LAYOUT)
    frames = s.frames(0, 20)
    for fr in frames:
        if fr.t <= 11.0:
            a.add_frame(fr)
    a.add_shelf_event(shelf_event(LAYOUT, 'w', 10.0, S1, 0))
    assert a.advance() == [] and a.pending == 1
    assert not a.add_frame(AvatarFrame(5.0, ()))
    assert a.stats['frames_out_of_order'] == 1
    assert not a.add_shelf_event(shelf_event(LAYOUT, 'w', 10.0, S1, 0))
    for fr in frames:
        if fr.t > 11.0:
            a.add_frame(fr)
            if fr.t < 10.0 + CFG.decision_margin_s - 1e-6:
                assert a.advance() == []
    out = a.advance()
    assert [c.avatar_id for c in out] == [1]


def test_a_stalled_avatar_stream_still_decides_after_max_wait():
    a = Associator(CFG, LAYOUT)
    a.add_frame(AvatarFrame(1.0, ()))
    a.add_shelf_event(shelf_event(LAYOUT, 'x', 2.0, S1, 0, delay_s=0.5))
    assert a.advance() == []
    a.add_shelf_event(shelf_event(LAYOUT, 'y', 20.0, S1, 0, delay_s=0.5))
    out = a.advance()
    assert [c.shelf_event_id for c in out] == ['x'] and out[0].needs_review


def test_handover_with_only_the_givers_hand_seen():
    # the detector misses the receiver's hand: the giver's hand reaching the receiver's body is enough
    s = Script().avatar(1, (0, (1.4, 5.0)), (12, (1.4, 5.0)), (14, (2.12, 4.67)))
    s.avatar(2, (0, (1.6, 4.2)))
    s.reach(1, 4.6, 5.5, front(0))
    for t0 in (16.5, 17.2, 17.8):        # flickering detections
        s.reach(1, t0, t0 + 0.45, (1.89, 4.47))
    a, ch = run(s, [shelf_event(LAYOUT, 'a', 5.0, S1, 0)])
    ho = sorted((c.cause, c.avatar_id, c.quantity) for c in ch if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT))
    assert ho == [(Cause.HANDOVER_IN, 2, 1), (Cause.HANDOVER_OUT, 1, -1)]


def test_a_hand_reaching_a_shelf_next_to_someone_is_no_handover():
    s = Script().avatar(1, (0, (1.4, 5.0))).avatar(2, (0, (1.8, 5.1)))
    s.reach(1, 4.6, 5.5, front(0))
    s.reach(2, 9.0, 11.0, front(1))       # 2 reaches the shelf right beside 1's body
    _, ch = run(s, [shelf_event(LAYOUT, 'a', 5.0, S1, 0), shelf_event(LAYOUT, 'b', 10.0, S1, 1)])
    assert not [c for c in ch if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT)]


def test_a_passer_by_reaching_towards_someone_is_no_handover():
    # avatar 1 stands; avatar 2 walks past with its (spurious) hand towards 1's body
    s = Script().avatar(1, (0, (3.0, 4.5))).avatar(2, (0, (1.5, 4.8)), (10, (1.5, 4.8)), (12, (4.5, 4.8)))
    s.reach(1, 2.6, 3.5, front(3))
    for t0 in (10.6, 11.0, 11.4):
        s.reach(2, t0, t0 + 0.15, (3.0 - (11.0 - t0), 4.6))
    _, ch = run(s, [shelf_event(LAYOUT, 'a', 3.0, S1, 3)])
    assert not [c for c in ch if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT)]


def test_a_hand_busy_on_another_lane_does_not_take_the_next_event():
    # 1 puts back on lane 0 while 2 (hand not seen by the detector) picks from lane 1 next to it
    s = Script().avatar(1, (0, (1.6, 5.05))).avatar(2, (0, (1.9, 5.0)))
    s.reach(1, 2.6, 3.5, front(0)).reach(1, 9.5, 10.6, front(0))
    evs = [shelf_event(LAYOUT, 'take', 3.0, S1, 0),
           shelf_event(LAYOUT, 'back', 10.0, S1, 0, quantity=-1),
           shelf_event(LAYOUT, 'pick', 10.1, S1, 1)]
    _, ch = run(s, evs)
    ev = by_shelf_event(ch)
    assert ev['back'].avatar_id == 1 and not ev['back'].needs_review
    assert ev['pick'].avatar_id == 2 and not ev['pick'].needs_review


def test_a_faulty_cells_pick_is_still_applied_before_a_later_put_back():
    s = Script().avatar(1, (0, (2.6, 5.0)))
    s.reach(1, 4.6, 5.6, front(3)).reach(1, 6.6, 7.6, front(3))
    a, ch = run(s, [shelf_event(LAYOUT, 'pick', 5.0, S1, 3, flags=ShelfFlag.SENSOR_FAULT),
                    shelf_event(LAYOUT, 'back', 7.0, S1, 3, quantity=-1)])
    assert [c.shelf_event_id for c in ch] == ['pick', 'back']
    assert not any(c.needs_review for c in ch) and a.ledger.count(1) == 0


def _weight_event(eid, t, shelf, lane, product, qty, weight_g, layout):
    from walkout_core.association.associator import ShelfEventIn
    pos = layout.shelf(shelf).lane_position(lane)
    return ShelfEventIn(event_id=eid, t=t, shelf_id=shelf, lane=lane, product_id=product, quantity=qty,
                        lane_xy=(float(pos[0]), float(pos[1])), lane_z=float(pos[2]),
                        planogram_product_id=layout.shelf(shelf).lanes[lane].product_id,
                        weight_change_g=weight_g)


def test_put_back_by_weight_uses_what_the_avatar_holds_and_the_lane_remembers_it():
    """1 x rice (1025 g) put on the pasta lane reads as 2 x pasta (515 g): the shopper holds rice, not
    pasta, so it is a misplaced rice; a later pick of that weight from the lane takes the rice back."""
    from walkout_core.association.associator import Associator
    from walkout_core.association.config import AssociationConfig
    from walkout_core.association.history import AvatarFrame, AvatarSample
    from walkout_core.basket.model import Cause
    from walkout_core.layout import load_layout
    lay = load_layout('small')
    s5 = lay.shelf('S5')
    assert s5.lanes[0].product_id == 'p147' and s5.lanes[1].product_id == 'p155'
    rice = lay.product('p155').unit_weight_g
    stand = s5.lane_position(0)[:2] + s5.front_normal * 0.45
    hand0 = s5.lane_position(0)[:2]
    hand1 = s5.lane_position(1)[:2]
    assoc = Associator(AssociationConfig(), lay)

    def frame(t, hand):
        reach = {} if hand is None else {'has_reach': True, 'reach_x': float(hand[0]), 'reach_y': float(hand[1])}
        return AvatarFrame(t=t, avatars=(AvatarSample(id=7, x=float(stand[0]), y=float(stand[1]), **reach),))
    events = [
        _weight_event('e1', 10.0, 'S5', 1, 'p155', 1, -rice, lay),            # takes rice from its lane
        _weight_event('e2', 20.0, 'S5', 0, 'p147', -2, rice + 3.0, lay),       # puts it on the pasta lane
        _weight_event('e3', 30.0, 'S5', 0, 'p147', 2, -(rice - 2.0), lay),     # takes it again
    ]
    changes = []
    t = 0.0
    while t < 40.0:
        hand = hand1 if abs(t - 10.0) < 0.6 else hand0 if abs(t - 20.0) < 0.6 or abs(t - 30.0) < 0.6 else None
        assoc.add_frame(frame(t, hand))
        for ev in events:
            if ev.t <= t < ev.t + 0.1 - 1e-9:
                assoc.add_shelf_event(ev)
        changes += assoc.advance()
        t = round(t + 0.1, 3)
    changes += assoc.flush()
    got = [(c.product_id, c.quantity, c.cause) for c in changes]
    assert got == [('p155', 1, Cause.PICK), ('p155', -1, Cause.PUT_BACK_MISPLACED), ('p155', 1, Cause.PICK)]


def _queue_pair(hand_times, t_end: float = 30.0) -> Script:
    """Avatar 1 holds an item; 2 stands 0.55 m beside it, away from the shelves, until t_end (a queue)."""
    s = Script(rate_hz=5.0).avatar(1, (0, (1.4, 5.0)), (12, (1.4, 5.0)), (14, (3.0, 4.3)), (t_end, (3.0, 4.3)))
    s.avatar(2, (0, (4.0, 3.0)), (13, (4.0, 3.0)), (15, (3.55, 4.3)), (t_end, (3.55, 4.3)))
    s.reach(1, 4.6, 5.5, front(0))
    for t0, t1 in hand_times:        # the "arm" the detector sees in the gap between the two shoulders
        s.reach(1, t0, t1, (3.27, 4.3)).reach(2, t0, t1, (3.28, 4.3))
    return s


def test_neighbours_standing_close_with_hands_seen_throughout_is_no_handover():
    # hands between the two seen for 10 s, in holds with short breaks: people standing close, not a handover
    s = _queue_pair([(16.0 + k * 1.6, 17.2 + k * 1.6) for k in range(6)])
    _, ch = run(s, [shelf_event(LAYOUT, 'a', 5.0, S1, 0)], t1=35.0)
    assert not [c for c in ch if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT)]
    s = _queue_pair([(16.0, 26.0)])
    _, ch = run(s, [shelf_event(LAYOUT, 'a', 5.0, S1, 0)], t1=35.0)
    assert not [c for c in ch if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT)]


def test_a_flickering_hand_that_never_holds_is_no_handover():
    # hands seen two frames at a time with a missed frame between: no hold of handover_min_hold_s
    s = _queue_pair([(16.0, 16.25), (16.6, 16.85), (17.2, 17.45)])
    _, ch = run(s, [shelf_event(LAYOUT, 'a', 5.0, S1, 0)], t1=35.0)
    assert not [c for c in ch if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT)]


def test_a_hold_between_the_same_two_people_is_a_handover_and_reported_when_it_ends():
    s = _queue_pair([(16.0, 17.4)])
    a, ch = run(s, [shelf_event(LAYOUT, 'a', 5.0, S1, 0)], t1=35.0)
    ho = sorted((c.cause, c.avatar_id) for c in ch if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT))
    assert ho == [(Cause.HANDOVER_IN, 2), (Cause.HANDOVER_OUT, 1)]
    assert a.ledger.holds(2, 'p001') == 1


@pytest.mark.parametrize('crowd_m, handed', [(0.7, False), (0.0, True)])
def test_a_third_person_beside_the_meeting_hands_follows_the_crowd_parameter(crowd_m, handed):
    # with handover_crowd_m on, whose hand met whom is unsure when a third body stands as near the hands
    # as the two; off (the default), the meeting is judged on the pair's hands alone
    s = _queue_pair([(16.0, 17.4)])
    s.avatar(3, (0, (3.3, 4.85)))
    cfg = validate(dataclasses.replace(CFG, handover_crowd_m=crowd_m))
    _, ch = run(s, [shelf_event(LAYOUT, 'a', 5.0, S1, 0)], t1=35.0, cfg=cfg)
    assert bool([c for c in ch if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT)]) == handed


def test_handover_inside_a_checkout_zone_follows_the_parameter():
    from walkout_core.association.history import STATE_AT_CHECKOUT

    s = _queue_pair([(16.0, 17.4)])
    frames = s.frames(0.0, 35.0)
    zoned = [AvatarFrame(f.t, tuple(dataclasses.replace(a, state=STATE_AT_CHECKOUT, checkout_zone_id='checkout_1')
                                    if f.t >= 15.0 else a for a in f.avatars)) for f in frames]

    def changes(cfg):
        a = Associator(cfg, LAYOUT)
        a.add_shelf_event(shelf_event(LAYOUT, 'a', 5.0, S1, 0))
        out = []
        for fr in zoned:
            a.add_frame(fr)
            out.extend(a.advance())
        return [c for c in out + a.flush() if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT)]

    assert len(changes(CFG)) == 2
    assert changes(dataclasses.replace(CFG, handover_in_checkout_zones=False)) == []


def test_a_hand_on_the_other_persons_body_is_no_handover():
    # the detector gives 1 a "hand" on 2's body (two people merged in one blob): not a hand held out
    s = Script(rate_hz=5.0).avatar(1, (0, (1.4, 5.0)), (12, (1.4, 5.0)), (14, (3.0, 4.3)), (30, (3.0, 4.3)))
    s.avatar(2, (0, (4.0, 3.0)), (13, (4.0, 3.0)), (15, (3.45, 4.3)), (30, (3.45, 4.3)))
    s.reach(1, 4.6, 5.5, front(0)).reach(1, 16.0, 17.6, (3.5, 4.3))
    _, ch = run(s, [shelf_event(LAYOUT, 'a', 5.0, S1, 0)], t1=35.0)
    assert not [c for c in ch if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT)]


def test_handover_veto_when_the_hands_never_show_a_held_product():
    # the hands meet, seen in colour many times (> handover_colour_veto_n), never in p001's or p019's
    # colour: what met was no held product, no handover
    grey = (0.5, 0.5, 0.5)
    a, ch = _both_hold_then_meet(grey, grey)
    assert CFG.handover_colour_veto_n > 0
    assert not [c for c in ch if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT)]
    assert a.stats['handovers_vetoed'] == 1 and a.ledger.holds(1, 'p001') == 1 and a.ledger.holds(2, 'p019') == 1


def _crossed_hands_meeting(cfg: AssociationConfig):
    """1 picks p001 at 5 s, then stands 0.7 m from 2; both arms reach into each other and the tracker puts
    each hand on the other person's body (their hand points swapped) for 1.2 s."""
    s = Script(rate_hz=5.0).avatar(1, (0, (1.4, 5.0)), (12, (1.4, 5.0)), (14, (3.0, 4.3)), (30, (3.0, 4.3)))
    s.avatar(2, (0, (4.0, 3.0)), (13, (4.0, 3.0)), (15, (3.7, 4.3)), (30, (3.7, 4.3)))
    s.reach(1, 4.6, 5.5, front(0)).reach(1, 16.0, 17.2, (3.66, 4.33)).reach(2, 16.0, 17.2, (3.05, 4.27))
    _, ch = run(s, [shelf_event(LAYOUT, 'a', 5.0, S1, 0)], t1=35.0, cfg=cfg)
    return sorted((c.cause, c.avatar_id, c.quantity) for c in ch if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT))


def test_crossed_hands_are_a_handover_when_enabled():
    # both hands seen, each on the other's body: two arms reaching into each other, not one merged blob
    on = validate(dataclasses.replace(CFG, handover_crossed_hands=True))
    assert _crossed_hands_meeting(on) == [(Cause.HANDOVER_IN, 2, 1), (Cause.HANDOVER_OUT, 1, -1)]
    assert _crossed_hands_meeting(dataclasses.replace(CFG, handover_crossed_hands=False)) == []


def test_crossed_hands_need_both_hands_on_the_way_to_the_other():
    # one hand on the other's body and the other hand held out sideways: no meeting
    on = validate(dataclasses.replace(CFG, handover_crossed_hands=True))
    s = Script(rate_hz=5.0).avatar(1, (0, (1.4, 5.0)), (12, (1.4, 5.0)), (14, (3.0, 4.3)), (30, (3.0, 4.3)))
    s.avatar(2, (0, (4.0, 3.0)), (13, (4.0, 3.0)), (15, (3.7, 4.3)), (30, (3.7, 4.3)))
    s.reach(1, 4.6, 5.5, front(0)).reach(1, 16.0, 17.2, (3.66, 4.33)).reach(2, 16.0, 17.2, (3.7, 3.8))
    _, ch = run(s, [shelf_event(LAYOUT, 'a', 5.0, S1, 0)], t1=35.0, cfg=on)
    assert not [c for c in ch if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT)]


def _short_hold(rgb):
    """1 picks p001 at 5 s; its hand meets 2 for 0.4 s only (between handover_short_hold_s and
    handover_min_hold_s), showing the colour ``rgb``."""
    s = Script(rate_hz=5.0).avatar(1, (0, (1.4, 5.0)), (12, (1.4, 5.0)), (14, (3.0, 4.6)), (30, (3.0, 4.6)))
    s.avatar(2, (0, (2.6, 5.0)), (12, (2.6, 5.0)), (13, (3.0, 4.0)), (30, (3.0, 4.0)))
    s.reach(1, 4.6, 5.5, front(0)).reach(1, 16.0, 16.4, (3.0, 4.32), rgb).reach(2, 16.0, 16.4, (3.0, 4.28), rgb)
    a, ch = run(s, [shelf_event(LAYOUT, 'a', 5.0, S1, 0)], t1=35.0)
    return a, sorted((c.cause, c.avatar_id, c.quantity) for c in ch if c.cause in (Cause.HANDOVER_IN, Cause.HANDOVER_OUT))


def test_a_short_hold_is_a_handover_only_when_the_hands_show_a_held_product():
    assert CFG.handover_short_hold_s <= 0.4 < CFG.handover_min_hold_s
    p001 = LAYOUT.catalogue['p001'].colour_rgb
    _, ho = _short_hold(p001)
    assert ho == [(Cause.HANDOVER_IN, 2, 1), (Cause.HANDOVER_OUT, 1, -1)]
    a, ho = _short_hold((0.5, 0.5, 0.5))                 # grey: no product either holds
    assert ho == [] and a.stats['handovers_short_unconfirmed'] == 1 and a.ledger.holds(1, 'p001') == 1
