"""Basket store: prices and totals, reviews, age checks, alert registry, idempotency, WAL."""
from __future__ import annotations

import pytest

from walkout_core.basket import AlertInfo, AlertKind, AlertState, BasketChange, BasketState, BasketStore, Cause
from walkout_core.basket.model import age_alert_id, review_alert_id
from walkout_core.layout import load_layout

LAYOUT = load_layout('small')
BEER = next(p for p in LAYOUT.catalogue.values() if p.age_restricted)
WATER = LAYOUT.catalogue['p001']


@pytest.fixture
def store(tmp_path):
    s = BasketStore(tmp_path / 'b.sqlite', LAYOUT.catalogue, 'EUR')
    yield s
    s.close()


def pick(eid, avatar, product, q=1, t=1.0, **kw):
    return BasketChange(event_id=eid, t=t, avatar_id=avatar, product_id=product, quantity=q, cause=Cause.PICK, **kw)


def test_wal_mode_and_prices(store):
    assert store.journal_mode == 'wal'
    store.apply_change(pick('a', 1, 'p001', 2))
    store.apply_change(pick('b', 1, 'p007', 1))
    b = store.basket(1)
    assert [(i.product_id, i.quantity) for i in b.items] == [('p001', 2), ('p007', 1)]
    assert b.items[0].unit_price == WATER.price and b.items[0].line_total == pytest.approx(2 * WATER.price)
    assert b.total == pytest.approx(2 * WATER.price + LAYOUT.catalogue['p007'].price)
    assert b.currency == 'EUR' and b.state == BasketState.OPEN


def test_same_event_applied_once_and_never_below_zero(store):
    assert store.apply_change(pick('a', 1, 'p001')).avatars == {1}
    assert store.apply_change(pick('a', 1, 'p001')).avatars == set()
    store.apply_change(BasketChange('r', 2.0, 1, 'p001', -3, Cause.PUT_BACK))
    assert store.basket(1).is_empty


def test_restock_and_unassigned_touch_no_basket(store):
    store.apply_change(BasketChange('r', 1.0, 9, 'p001', -6, Cause.RESTOCK))
    assert store.baskets() == []


def test_review_blocks_candidates_until_resolved(store):
    alert = AlertInfo(alert_id=review_alert_id('e'), kind=AlertKind.REVIEW_NEEDED, avatar_ids=[1, 2])
    ch = pick('e', 1, 'p001', needs_review=True, candidate_avatar_ids=[1, 2, 3],
              candidate_scores=[0.5, 0.48, 0.01], review=alert)
    res = store.apply_change(ch)
    assert res.avatars == {1, 2}
    assert store.basket(1).pending_reviews == 1 and store.basket(2).pending_reviews == 1
    assert store.basket(3) is None and store.basket(1).is_empty
    assert store.basket(1).blocked_reason
    assert store.pending_reviews() == [review_alert_id('e')]
    res = store.resolve_review(review_alert_id('e'), 2, 'badge-7')
    assert res.ok and [c.cause for c in res.changes] == [Cause.REVIEW_RESOLVED]
    assert store.basket(2).items[0].product_id == 'p001' and store.basket(2).pending_reviews == 0
    assert store.basket(1).pending_reviews == 0 and store.basket(1).is_empty
    assert store.alert(review_alert_id('e')).state == AlertState.RESOLVED
    assert not store.resolve_review(review_alert_id('e'), 2, 'badge-7').ok
    assert not store.resolve_review('review:nope', 2, 'x').ok


def test_review_resolved_to_nobody(store):
    store.apply_change(BasketChange('g', 1.0, 0, 'p001', 1, Cause.UNASSIGNED, needs_review=True,
                                    candidate_avatar_ids=[4], candidate_scores=[0.1]))
    assert store.basket(4).pending_reviews == 1
    assert store.resolve_review(review_alert_id('g'), 0, 'b').ok
    assert store.basket(4).pending_reviews == 0 and store.basket(4).is_empty


def handover_review(eid, receiver, giver, product):
    return BasketChange(eid, 5.0, receiver, product, 1, Cause.HANDOVER_IN, counterpart_avatar_id=giver,
                        confidence=0.5, needs_review=True, candidate_avatar_ids=[receiver, giver],
                        candidate_scores=[0.5, 0.5])


@pytest.mark.parametrize('named, gets, loses', [(2, 2, 1), (1, 1, 2)])
def test_handover_review_moves_the_product_to_the_avatar_named(store, named, gets, loses):
    # proposed: 1 gives p001 to 2; staff name who received it, the other one gave it
    store.apply_change(pick('a', 1, 'p001'))
    store.apply_change(pick('b', 2, 'p001'))
    store.apply_change(handover_review('h', 2, 1, 'p001'))
    assert store.basket(1).pending_reviews == 1 and store.basket(2).pending_reviews == 1
    assert [(i.product_id, i.quantity) for i in store.basket(2).items] == [('p001', 1)]   # nothing moved yet
    res = store.resolve_review(review_alert_id('h'), named, 'badge-3')
    assert res.ok and sorted((c.avatar_id, c.quantity) for c in res.changes) == sorted([(gets, 1), (loses, -1)])
    assert all(c.cause == Cause.REVIEW_RESOLVED for c in res.changes)
    assert [(i.product_id, i.quantity) for i in store.basket(gets).items] == [('p001', 2)]
    assert store.basket(loses).is_empty
    assert store.basket(1).pending_reviews == 0 and store.basket(2).pending_reviews == 0


def test_handover_review_resolved_to_nobody_moves_nothing(store):
    store.apply_change(pick('a', 1, 'p001'))
    store.apply_change(handover_review('h', 2, 1, 'p001'))
    res = store.resolve_review(review_alert_id('h'), 0, 'badge-3')
    assert res.ok and [(c.event_id, c.avatar_id, c.quantity, c.cause) for c in res.changes] == \
        [('h:resolved', 0, 0, Cause.REVIEW_RESOLVED)]      # announced, so the association closes it too
    assert [(i.product_id, i.quantity) for i in store.basket(1).items] == [('p001', 1)]
    assert store.basket(2).is_empty and store.basket(2).pending_reviews == 0


def test_association_resolves_its_own_review_with_a_resolved_event(store):
    # a pick under review; later evidence names the picker: '<review event>:resolved' closes the review
    store.apply_change(pick('e', 1, 'p001', needs_review=True, candidate_avatar_ids=[1, 2],
                            candidate_scores=[0.4, 0.35]))
    assert store.basket(1).pending_reviews == 1 and store.basket(2).pending_reviews == 1
    res = store.apply_change(BasketChange('e:resolved', 9.0, 2, 'p001', 1, Cause.REVIEW_RESOLVED))
    assert res.avatars >= {1, 2}
    assert [(i.product_id, i.quantity) for i in store.basket(2).items] == [('p001', 1)] and store.basket(1).is_empty
    assert store.basket(1).pending_reviews == 0 and store.basket(2).pending_reviews == 0
    assert store.alert(review_alert_id('e')).state == AlertState.RESOLVED
    assert [a.alert_id for a in res.alerts] == [review_alert_id('e')]
    assert not store.resolve_review(review_alert_id('e'), 1, 'badge-7').ok     # staff find it resolved
    assert not store.apply_change(BasketChange('e:resolved', 9.0, 2, 'p001', 1, Cause.REVIEW_RESOLVED)).avatars


def test_a_late_association_resolution_of_a_review_staff_resolved_is_not_applied(store):
    store.apply_change(pick('f', 1, 'p007', needs_review=True, candidate_avatar_ids=[1, 2],
                            candidate_scores=[0.4, 0.35]))
    assert store.resolve_review(review_alert_id('f'), 0, 'badge-7').ok      # staff: nobody took it
    res = store.apply_change(BasketChange('f:resolved', 9.0, 2, 'p007', 1, Cause.REVIEW_RESOLVED))
    assert not res.avatars and res.message == 'already applied'     # the store announced 'f:resolved' itself
    assert store.basket(2).is_empty and store.alert(review_alert_id('f')).state == AlertState.RESOLVED


def test_age_restricted_item_raises_one_alert_and_approval_resolves_it(store):
    res = store.apply_change(pick('a', 1, BEER.id))
    assert [a.kind for a in res.alerts] == [AlertKind.AGE_CHECK]
    assert res.alerts[0].alert_id == age_alert_id(1)
    assert store.apply_change(pick('b', 1, BEER.id)).alerts == []   # each alert once
    b = store.basket(1)
    assert b.age_check_required and not b.age_approved and 'age' in b.blocked_reason
    res = store.approve_age(1, True, 'badge-1')
    assert res.ok and res.alerts[0].state == AlertState.RESOLVED
    b = store.basket(1)
    assert b.age_approved and b.blocked_reason == ''
    assert store.apply_change(pick('c', 1, BEER.id)).alerts == []


def test_age_refused_removes_the_restricted_items(store):
    store.apply_change(pick('a', 1, BEER.id))
    store.apply_change(pick('b', 1, 'p001'))
    assert store.approve_age(1, False, 'badge-1').ok
    assert [i.product_id for i in store.basket(1).items] == ['p001']
    assert not store.approve_age(77, True, 'x').ok


def test_alert_registry_states_only_move_forward(store):
    a = AlertInfo(alert_id='mis:1', kind=AlertKind.MISPLACED_PRODUCT, shelf_id='S1', lane=3)
    assert store.observe_alert(a).ok
    assert not store.observe_alert(a).ok                      # seen already
    assert store.update_alert('mis:1', AlertState.ACKNOWLEDGED, 'b').ok
    assert not store.update_alert('mis:1', AlertState.ACKNOWLEDGED, 'b').ok
    assert store.update_alert('mis:1', AlertState.RESOLVED, 'b').ok
    assert not store.update_alert('mis:1', AlertState.ACKNOWLEDGED, 'b').ok
    assert not store.update_alert('nope', AlertState.RESOLVED, 'b').ok
    # its own republished state is not news
    assert not store.observe_alert(store.alert('mis:1')).ok


def test_left_without_paying_abandons_and_paid_marks(store):
    store.apply_change(pick('a', 1, 'p001'))
    store.apply_change(pick('b', 2, 'p001'))
    store.observe_alert(AlertInfo(alert_id='left:1', kind=AlertKind.LEFT_WITHOUT_PAYING, avatar_ids=[1]))
    assert store.basket(1).state == BasketState.ABANDONED
    assert store.mark_paid(2, 'r-2', 5.0).ok and store.basket(2).state == BasketState.PAID
    assert not store.mark_paid(2, 'r-2', 5.0).ok


def test_reopened_store_has_everything(tmp_path):
    s = BasketStore(tmp_path / 'x.sqlite', LAYOUT.catalogue)
    s.apply_change(pick('a', 1, 'p001', 2))
    s.apply_change(pick('b', 1, BEER.id))
    before = s.baskets()
    s.close()
    s2 = BasketStore(tmp_path / 'x.sqlite', LAYOUT.catalogue)
    assert s2.baskets() == before
    assert s2.alert(age_alert_id(1)) is not None
    assert s2.apply_change(pick('a', 1, 'p001', 2)).avatars == set()
