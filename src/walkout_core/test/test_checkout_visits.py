"""CheckoutVisits: visit state, simulated terminal/staff decisions and left-without-paying (no ROS)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from walkout_core.basket.model import AlertKind, BasketState
from walkout_core.basket.store import BasketView, ItemLine
from walkout_core.checkout import (AgeApprovalRequest, CardDropped, CheckoutAvatar, CheckoutVisits,
                                   LeftWithoutPaying, PayRequest, StampOutOfOrder, UnknownZone)
from walkout_core.checkout.config import CheckoutConfig
from walkout_core.checkout.visits import STATE_AT_CHECKOUT, STATE_EXITED
from walkout_core.layout import load_layout

STATE_SHOPPING = 1
IN_ZONE = (4.5, 1.0)       # inside checkout_1 of the small layout
AISLE = (1.0, 3.0)


@pytest.fixture(scope='module')
def layout():
    return load_layout('small')


def cfg(**kw) -> CheckoutConfig:
    base = dict(payment_trigger='dwell', simulated_dwell_to_pay_s=1.0, payment_retry_s=0.2, left_check_delay_s=3.0,
                simulated_staff_age_check_s=0.0, replay_staff_age_check_s=0.0, reliable_sensors=False)
    base.update(kw)
    return replace(CheckoutConfig(), **base)


def basket(aid: int, total: float = 10.0, age: bool = False, approved: bool = False, empty: bool = False,
           state: int = BasketState.OPEN) -> BasketView:
    items = () if empty else (ItemLine('p1', 'thing', 1, total, total, age),)
    return BasketView(avatar_id=aid, items=items, total=0.0 if empty else total, currency='EUR', state=state,
                      pending_reviews=0, age_check_required=age, age_approved=approved, stamp=0.0)


def at_zone(aid: int, staff: bool = False) -> CheckoutAvatar:
    return CheckoutAvatar(aid, STATE_AT_CHECKOUT, staff, IN_ZONE, '')


def exited(aid: int, staff: bool = False) -> CheckoutAvatar:
    return CheckoutAvatar(aid, STATE_EXITED, staff, AISLE, '')


def no_receipt(_aid: int) -> bool:
    return False


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def test_dwell_before_paying(layout):
    v = CheckoutVisits(cfg(), layout)
    b = {1: basket(1)}
    assert of(v.update(10.0, [at_zone(1)], b, no_receipt), PayRequest) == []
    assert v.occupant('checkout_1') == 1
    assert of(v.update(10.9, [at_zone(1)], b, no_receipt), PayRequest) == []
    pays = of(v.update(11.0, [at_zone(1)], b, no_receipt), PayRequest)
    assert pays == [PayRequest(1, 'checkout_1', '', 'sim:1')]


def test_explicit_zone_id_and_unknown_zone(layout):
    v = CheckoutVisits(cfg(), layout)
    acts = v.update(1.0, [CheckoutAvatar(1, STATE_SHOPPING, False, AISLE, 'checkout_2'),
                          CheckoutAvatar(2, STATE_SHOPPING, False, AISLE, 'nowhere')], {}, no_receipt)
    assert acts == [UnknownZone(2, 'nowhere')]
    assert v.occupant('checkout_2') == 1
    assert v.visits[2].zone == ''


def test_pin_above_contactless_limit(layout):
    v = CheckoutVisits(cfg(simulated_pin='4321'), layout)
    limit = layout.contactless_limit
    b = {1: basket(1, total=limit), 2: basket(2, total=limit + 0.01)}
    v.update(0.0, [at_zone(1), at_zone(2)], b, no_receipt)
    pays = of(v.update(1.0, [at_zone(1), at_zone(2)], b, no_receipt), PayRequest)
    assert {p.avatar_id: p.pin for p in pays} == {1: '', 2: '4321'}


def test_retry_period(layout):
    v = CheckoutVisits(cfg(payment_retry_s=0.5), layout)
    b = {1: basket(1)}
    v.update(0.0, [at_zone(1)], b, no_receipt)
    times = [1.0, 1.2, 1.4, 1.5, 1.7, 2.0]
    got = [t for t in times if of(v.update(t, [at_zone(1)], b, no_receipt), PayRequest)]
    assert got == [1.0, 1.5, 2.0]
    # once a receipt exists no more attempts
    assert of(v.update(3.0, [at_zone(1)], b, lambda aid: True), PayRequest) == []


def test_age_approval_requested_once(layout):
    v = CheckoutVisits(cfg(simulated_staff_age_check_s=0.5), layout)
    b = {1: basket(1, age=True)}
    v.update(0.0, [at_zone(1)], b, no_receipt)
    assert of(v.update(0.4, [at_zone(1)], b, no_receipt), AgeApprovalRequest) == []
    reqs = [of(v.update(t, [at_zone(1)], b, no_receipt), AgeApprovalRequest) for t in (0.5, 0.6, 0.8, 1.0)]
    assert reqs == [[AgeApprovalRequest(1)], [], [], []]
    # a request that could not be sent is asked again, once
    v.age_request_failed(1)
    assert of(v.update(1.1, [at_zone(1)], b, no_receipt), AgeApprovalRequest) == [AgeApprovalRequest(1)]
    assert of(v.update(1.2, [at_zone(1)], b, no_receipt), AgeApprovalRequest) == []


def test_age_check_replay_default(layout):
    c = cfg(replay_staff_age_check_s=0.5)
    b = {1: basket(1, age=True)}
    off = CheckoutVisits(replace(c, reliable_sensors=False), layout)
    on = CheckoutVisits(replace(c, reliable_sensors=True), layout)
    for t in (0.0, 1.0):
        a_off = off.update(t, [at_zone(1)], b, no_receipt)
        a_on = on.update(t, [at_zone(1)], b, no_receipt)
    assert of(a_off, AgeApprovalRequest) == [] and of(a_on, AgeApprovalRequest) == [AgeApprovalRequest(1)]


def test_staff_never_paid_nor_alerted(layout):
    v = CheckoutVisits(cfg(simulated_staff_age_check_s=0.1), layout)
    b = {7: basket(7, age=True)}
    acts = []
    for t in (0.0, 1.0, 2.0):
        acts += v.update(t, [at_zone(7, staff=True)], b, no_receipt)
    assert v.occupant('checkout_1') is None
    for t in (3.0, 10.0):
        acts += v.update(t, [exited(7, staff=True)], b, no_receipt)
    assert acts == []


def test_left_without_paying_once_after_delay(layout):
    v = CheckoutVisits(cfg(left_check_delay_s=3.0), layout)
    b = {1: basket(1, total=12.5)}
    assert v.update(0.0, [CheckoutAvatar(1, STATE_SHOPPING, False, AISLE)], b, no_receipt) == []
    assert v.update(5.0, [exited(1)], b, no_receipt) == []
    assert v.update(7.9, [exited(1)], b, no_receipt) == []
    acts = v.update(8.0, [], b, no_receipt)
    assert len(acts) == 1 and isinstance(acts[0], LeftWithoutPaying)
    al = acts[0].alert
    assert al.kind == AlertKind.LEFT_WITHOUT_PAYING and al.avatar_ids == [1] and al.product_ids == ['p1']
    assert (al.stamp, al.evidence_start, al.evidence_end) == (5.0, 5.0, 8.0)
    assert al.location == (AISLE[0], AISLE[1], 0.0)
    assert v.update(9.0, [exited(1)], b, no_receipt) == []
    assert v.update(20.0, [exited(1)], b, no_receipt) == []


@pytest.mark.parametrize('case', ['paid', 'empty', 'no_basket', 'basket_paid'])
def test_no_left_alert_when_paid_or_empty(layout, case):
    v = CheckoutVisits(cfg(), layout)
    b = {'paid': {1: basket(1)}, 'empty': {1: basket(1, empty=True)}, 'no_basket': {},
         'basket_paid': {1: basket(1, state=BasketState.PAID)}}[case]
    has = (lambda aid: True) if case == 'paid' else no_receipt
    acts = v.update(0.0, [exited(1)], b, has) + v.update(10.0, [], b, has)
    assert acts == []
    assert 1 in v.left_alerted


def test_items_taken_after_paying_raise_the_left_alert_for_them(layout):
    # 1 paid for one p1 (receipt), then took a second p1 and a p2 and walked out: staff are alerted for
    # those two, once; 2 paid for all it holds: no alert; staff 3 is never alerted
    v = CheckoutVisits(cfg(left_check_delay_s=3.0), layout)
    more = (ItemLine('p1', 'thing', 2, 10.0, 20.0, False), ItemLine('p2', 'other', 1, 3.0, 3.0, False))
    b = {1: replace(basket(1), items=more, total=23.0, state=BasketState.PAID),
         2: basket(2, state=BasketState.PAID), 3: replace(basket(3), items=more, state=BasketState.PAID)}
    receipts = {1: {'p1': 1}, 2: {'p1': 1}, 3: {'p1': 1}}
    v.update(0.0, [exited(1), exited(2), exited(3, staff=True)], b, lambda aid: True, receipts.get)
    acts = of(v.update(3.0, [], b, lambda aid: True, receipts.get), LeftWithoutPaying)
    assert len(acts) == 1
    al = acts[0].alert
    assert al.avatar_ids == [1] and al.product_ids == ['p1', 'p2'] and 'after paying' in al.message
    assert '1 x p1' in al.message and '1 x p2' in al.message
    assert of(v.update(9.0, [exited(1)], b, lambda aid: True, receipts.get), LeftWithoutPaying) == []
    # without the receipt lookup (older callers) a paid avatar is never alerted, as before
    w = CheckoutVisits(cfg(left_check_delay_s=3.0), layout)
    assert w.update(0.0, [exited(1)], b, lambda aid: True) + w.update(3.0, [], b, lambda aid: True) == []


def test_exited_forgotten_after_check(layout):
    v = CheckoutVisits(cfg(left_check_delay_s=3.0), layout)
    b = {1: basket(1), 2: basket(2)}
    v.update(0.0, [exited(1), at_zone(2)], b, no_receipt)
    v.update(2.9, [], b, no_receipt)
    assert 1 in v.visits
    v.update(3.0, [], b, no_receipt)
    assert 1 not in v.visits and 2 in v.visits
    # a late update for the forgotten id does not bring it back to a second alert
    acts = v.update(4.0, [exited(1)], b, no_receipt) + v.update(10.0, [], b, no_receipt)
    assert of(acts, LeftWithoutPaying) == [] and 1 not in v.visits


def test_out_of_order_rejected_before_any_change(layout):
    v = CheckoutVisits(cfg(), layout)
    b = {1: basket(1)}
    v.update(5.0, [CheckoutAvatar(1, STATE_SHOPPING, False, AISLE)], b, no_receipt)
    before = (dict((k, replace(x)) for k, x in v.visits.items()), set(v.left_alerted), v.t)
    acts = v.update(4.0, [at_zone(1), exited(2)], b, no_receipt)
    assert acts == [StampOutOfOrder(4.0, 5.0)]
    assert (v.visits, v.left_alerted, v.t) == before
    assert v.occupant('checkout_1') is None and 2 not in v.visits



# ---------------------------------------------------------------------------- cards presented at the terminal
def card_cfg(**kw) -> CheckoutConfig:
    return cfg(payment_trigger='card', card_hold_s=5.0, **kw)


def run(v, times, avatars, b, has=no_receipt):
    """Updates at each time; the actions of all of them."""
    acts = []
    for t in times:
        acts += v.update(t, avatars, b, has)
    return acts


def test_card_pays_the_cart_of_the_avatar_in_the_zone_and_nothing_pays_without_one(layout):
    v = CheckoutVisits(card_cfg(), layout)
    b = {1: basket(1)}
    assert of(run(v, [10.0, 11.0, 11.9], [at_zone(1)], b), PayRequest) == []   # standing is not paying
    assert v.card_presented(12.0, 'checkout_1')
    assert of(v.update(11.95, [at_zone(1)], b, no_receipt), PayRequest) == []  # the avatar stream is not there yet
    pays = of(v.update(12.0, [at_zone(1)], b, no_receipt), PayRequest)
    assert pays == [PayRequest(1, 'checkout_1', '', 'card:checkout_1:12000')]
    assert of(v.update(12.1, [at_zone(1)], b, no_receipt), PayRequest) == []   # payment_retry_s
    assert of(v.update(12.2, [at_zone(1)], b, no_receipt), PayRequest) == pays  # the same request: one receipt
    assert run(v, [12.4, 13.0], [at_zone(1)], b, lambda aid: True) == [] and v.cards == {}


def test_card_goes_to_the_unpaid_avatar_nearest_the_terminal_with_pin_above_the_limit(layout):
    v = CheckoutVisits(card_cfg(simulated_pin='4321'), layout)
    b = {1: basket(1, total=layout.contactless_limit + 0.01), 2: basket(2), 3: basket(3)}
    edge = CheckoutAvatar(2, STATE_AT_CHECKOUT, False, (4.1, 1.3), '')   # inside the zone, by its corner
    v.update(10.0, [edge], b, no_receipt)                                # 2 has waited there longest
    v.update(11.5, [edge, at_zone(1)], b, no_receipt)                    # 1 steps up to the terminal
    assert v.occupant('checkout_1') == 1                                 # the tablet shows 1's cart
    v.card_presented(12.0, 'checkout_1')
    pays = of(v.update(12.0, [edge, at_zone(1)], b, no_receipt), PayRequest)
    assert [(p.avatar_id, p.pin) for p in pays] == [(1, '4321')]
    # 3, who has paid and still stands at the terminal, is not charged for the next shopper's card
    w = CheckoutVisits(card_cfg(), layout)
    w.update(0.0, [at_zone(3), edge], b, no_receipt)
    w.card_presented(1.0, 'checkout_1')
    pays = of(w.update(1.0, [at_zone(3), edge], b, lambda aid: aid == 3), PayRequest)
    assert [p.avatar_id for p in pays] == [2]


def test_card_waits_for_a_blocked_or_empty_cart_then_is_dropped_after_the_hold(layout):
    v = CheckoutVisits(card_cfg(), layout)
    b = {1: basket(1, empty=True)}
    v.card_presented(0.0, 'checkout_1')
    assert of(run(v, [0.0, 1.0], [at_zone(1)], b), PayRequest) == []           # empty: nothing to charge yet
    b = {1: basket(1, age=True)}                                                 # a late event fills the cart
    assert len(of(v.update(2.0, [at_zone(1)], b, no_receipt), PayRequest)) == 1  # refused by the checkout rules
    assert len(of(v.update(4.0, [at_zone(1)], b, no_receipt), PayRequest)) == 1  # tried again
    drops = of(v.update(5.1, [at_zone(1)], b, no_receipt), CardDropped)
    assert [(d.zone, d.presented_t, d.avatar_id) for d in drops] == [('checkout_1', 0.0, 1)]
    assert 'not payable' in drops[0].reason and v.cards == {}
    assert of(v.update(6.0, [at_zone(1)], b, no_receipt), PayRequest) == []


def test_card_dropped_when_its_avatar_leaves_the_zone(layout):
    v = CheckoutVisits(card_cfg(), layout)
    b = {1: basket(1, empty=True), 2: basket(2)}
    v.card_presented(1.0, 'checkout_1')
    v.update(1.0, [at_zone(1)], b, no_receipt)
    acts = v.update(2.0, [CheckoutAvatar(1, STATE_SHOPPING, False, AISLE), at_zone(2)], b, no_receipt)
    assert of(acts, PayRequest) == []                      # 2, who stepped in after, is not charged for 1's card
    drops = of(acts, CardDropped)
    assert len(drops) == 1 and drops[0].avatar_id == 1 and 'left the zone' in drops[0].reason


def test_card_with_nobody_in_the_zone_waits_for_someone_then_is_dropped(layout):
    v = CheckoutVisits(card_cfg(), layout)
    b = {2: basket(2)}
    v.card_presented(0.0, 'checkout_2')
    assert run(v, [0.0, 1.0], [at_zone(2)], b) == []                 # 2 stands in checkout_1, not checkout_2
    drops = of(v.update(5.5, [at_zone(2)], b, no_receipt), CardDropped)
    assert [(d.avatar_id, d.reason) for d in drops] == [(None, 'nobody stood in the zone')]
    w = CheckoutVisits(card_cfg(), layout)
    w.card_presented(0.0, 'checkout_1')
    w.update(0.0, [], b, no_receipt)
    assert of(w.update(1.0, [at_zone(2)], b, no_receipt), PayRequest)[0].avatar_id == 2


def test_card_at_unknown_zone_is_not_kept(layout):
    v = CheckoutVisits(card_cfg(), layout)
    assert not v.card_presented(1.0, 'nowhere')
    assert v.update(1.0, [at_zone(1)], {1: basket(1)}, no_receipt) == [] and v.cards == {}


def test_dwell_trigger_ignores_nothing_and_card_trigger_never_pays_by_dwell(layout):
    b = {1: basket(1)}
    card = CheckoutVisits(card_cfg(), layout)
    dwell = CheckoutVisits(cfg(), layout)
    assert of(run(card, [0.0, 1.0, 2.0, 5.0], [at_zone(1)], b), PayRequest) == []
    assert len(of(run(dwell, [0.0, 1.0], [at_zone(1)], b), PayRequest)) == 1
