"""basket_metrics on hand-made message-like objects."""
from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from walkout_core.eval.basket_metrics import basket_metrics

T0 = 1_780_000_000


def st(t):
    return NS(sec=int(t), nanosec=int(round((t - int(t)) * 1e9)))


def hdr(t):
    return NS(header=NS(stamp=st(t)))


def item(p, q):
    return NS(product_id=p, quantity=q)


def frames():
    """Persons 1, 2 (shoppers), 9 (staff) and avatars 11, 12, 19 standing on them for 3 s."""
    truth, avs = [], []
    for k in range(30):
        t = T0 + k * 0.1
        truth.append(NS(header=NS(stamp=st(t)), persons=[
            NS(person_id=1, inside=True, position=NS(x=1.0, y=1.0)),
            NS(person_id=2, inside=True, position=NS(x=3.0, y=1.0)),
            NS(person_id=9, inside=True, position=NS(x=5.0, y=1.0))]))
        avs.append(NS(header=NS(stamp=st(t)), avatars=[
            NS(id=11, position=NS(x=1.05, y=1.0)), NS(id=12, position=NS(x=3.0, y=1.05)),
            NS(id=19, position=NS(x=5.0, y=1.0))]))
    return truth, avs


def test_scores():
    truth_p, avs = frames()
    truth_b = [NS(header=NS(stamp=st(T0 + 10)), baskets=[
        NS(person_id=1, is_staff=False, paid=True, items=[item('a', 2), item('b', 1)]),
        NS(person_id=2, is_staff=False, paid=True, items=[item('c', 1)]),
        NS(person_id=9, is_staff=True, paid=False, items=[])])]
    baskets = [
        NS(header=NS(stamp=st(T0 + 5)), baskets=[NS(avatar_id=11, items=[item('a', 1)])]),
        NS(header=NS(stamp=st(T0 + 9)), baskets=[
            NS(avatar_id=11, items=[item('a', 2), item('b', 1)]),
            NS(avatar_id=12, items=[item('c', 1), item('d', 1)])]),
    ]
    ev = [NS(shelf_event_id='e1', cause=0, needs_review=False), NS(shelf_event_id='e2', cause=0, needs_review=True),
          NS(shelf_event_id='e2', cause=5, needs_review=False),
          NS(shelf_event_id='e3', cause=0, needs_review=False), NS(shelf_event_id='e4', cause=0, needs_review=False),
          # a handover (its two changes count once) and one sent to review: events too
          NS(event_id='h:1:2:500:out', shelf_event_id='', cause=4, needs_review=False),
          NS(event_id='h:1:2:500:in', shelf_event_id='', cause=3, needs_review=False),
          NS(event_id='h:1:2:900:review', shelf_event_id='', cause=3, needs_review=True)]
    tev = [NS(header=NS(stamp=st(T0 + 7.0)), kind=5, person_id=1), NS(header=NS(stamp=st(T0 + 8.0)), kind=5, person_id=2),
           NS(header=NS(stamp=st(T0 + 2.0)), kind=0, person_id=1)]
    rec = [NS(header=NS(stamp=st(T0 + 8.0)), avatar_id=11, items=[item('a', 2), item('b', 1)]),
           NS(header=NS(stamp=st(T0 + 11.0)), avatar_id=12, items=[item('c', 1), item('d', 1)])]
    m = basket_metrics(truth_b, tev, truth_p, avs, baskets, ev, rec)
    assert m['basket_exact_accuracy'] == pytest.approx(0.5)          # person 2 got an extra 'd'
    assert m['item_precision'] == pytest.approx(4 / 5)
    assert m['item_recall'] == pytest.approx(1.0)
    assert m['review_rate'] == pytest.approx(2 / 6)      # e2 and the second handover, of 4 shelf events + 2 handovers
    assert (m['events_decided'], m['events_reviewed']) == (6, 2)
    assert m['receipt_latency_p50_s'] == pytest.approx(2.0)
    assert m['receipt_latency_p95_s'] == pytest.approx(1.0 + 0.95 * 2.0)
    assert m['receipt_exact_accuracy'] == pytest.approx(0.5)         # person 2 was charged the extra 'd'
    assert (m['receipts_exact'], m['paying_shoppers']) == (1, 2)
    assert (m['paying_shoppers_without_receipt'], m['receipts_before_checkout']) == (0, 0)


def test_receipts_before_checkout_and_shoppers_charged_nothing():
    truth_p, avs = frames()
    truth_b = [NS(header=NS(stamp=st(T0 + 10)), baskets=[
        NS(person_id=1, is_staff=False, paid=True, items=[item('a', 2)]),
        NS(person_id=2, is_staff=False, paid=True, items=[item('c', 1)])])]
    tev = [NS(header=NS(stamp=st(T0 + 7.0)), kind=5, person_id=1),
           NS(header=NS(stamp=st(T0 + 8.0)), kind=5, person_id=2)]
    # person 1 was charged for one 'a' at 3 s (before its checkout at 7 s) and never again; person 2 nothing
    rec = [NS(header=NS(stamp=st(T0 + 3.0)), avatar_id=11, items=[item('a', 1)])]
    m = basket_metrics(truth_b, tev, truth_p, avs, [], [], rec)
    assert m['receipts_before_checkout'] == 1
    assert m['receipt_latency_p50_s'] is None            # no receipt came after a checkout
    assert m['paying_shoppers_without_receipt'] == 1
    assert m['receipt_exact_accuracy'] == 0.0


def test_nothing_to_score_gives_none():
    m = basket_metrics([], [], [], [], [], [], [])
    rates = {'basket_exact_accuracy', 'item_precision', 'item_recall', 'review_rate', 'review_top1_accuracy',
             'receipt_latency_p50_s', 'receipt_latency_p95_s', 'receipt_exact_accuracy'}
    assert set(m) == rates | {'shoppers', 'shoppers_exact', 'items_matched', 'items_predicted', 'items_true',
                              'events_decided', 'events_reviewed', 'reviews_top1_right', 'reviews_scored',
                              'receipts_exact', 'paying_shoppers', 'paying_shoppers_without_receipt',
                              'receipts_before_checkout'}
    assert all(m[k] is None for k in rates)
    assert m['shoppers'] == 0 and m['shoppers_exact'] == 0


def test_review_top1_accuracy_scores_the_first_candidate_of_each_review():
    truth_p, avs = frames()
    truth_b = [NS(header=NS(stamp=st(T0 + 10)), baskets=[NS(person_id=1, is_staff=False, paid=True, items=[])])]
    # three reviewed events: r1's first candidate (11 = person 1) made it, r2's (12 = person 2) did not (person 1
    # did), r3 has no truth event on its lane (not scored); a decided event is not a review
    tev = [NS(header=NS(stamp=st(T0 + 1.0)), kind=0, person_id=1, shelf_id='S1', lane=2),
           NS(header=NS(stamp=st(T0 + 2.0)), kind=0, person_id=1, shelf_id='S1', lane=3),
           NS(header=NS(stamp=st(T0 + 2.1)), kind=0, person_id=2, shelf_id='S2', lane=0)]
    shelf = [NS(event_id='r1', shelf_id='S1', lane=2, header=NS(stamp=st(T0 + 1.05))),
             NS(event_id='r2', shelf_id='S1', lane=3, header=NS(stamp=st(T0 + 2.05))),
             NS(event_id='r3', shelf_id='S9', lane=0, header=NS(stamp=st(T0 + 2.0))),
             NS(event_id='d', shelf_id='S2', lane=0, header=NS(stamp=st(T0 + 2.1)))]
    ev = [NS(shelf_event_id='r1', cause=0, needs_review=True, avatar_id=11, candidate_avatar_ids=[11, 12]),
          NS(shelf_event_id='r2', cause=0, needs_review=True, avatar_id=12, candidate_avatar_ids=[12, 11]),
          NS(shelf_event_id='r3', cause=0, needs_review=True, avatar_id=11, candidate_avatar_ids=[11]),
          NS(shelf_event_id='d', cause=0, needs_review=False, avatar_id=12, candidate_avatar_ids=[12])]
    m = basket_metrics(truth_b, tev, truth_p, avs, [], ev, [], shelf)
    assert (m['reviews_top1_right'], m['reviews_scored']) == (1, 2)
    assert m['review_top1_accuracy'] == pytest.approx(0.5)
    assert basket_metrics(truth_b, tev, truth_p, avs, [], ev, [])['review_top1_accuracy'] is None  # no shelf events
