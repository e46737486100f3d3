"""Shelf figures against ground truth: matching, signed quantities, misplaced alerts, None when empty."""
from types import SimpleNamespace as NS

import numpy as np
import pytest

from walkout_core.eval.shelf_metrics import KEYS, shelf_metrics

T0 = 1_780_000_000


def st(t):
    return NS(sec=int(t), nanosec=int(round((t - int(t)) * 1e9)))


def truth(kind, shelf, lane, pid, q, t):
    return NS(header=NS(stamp=st(T0 + t)), kind=kind, shelf_id=shelf, lane=lane, product_id=pid, quantity=q,
              settled_stamp=st(T0 + t + 1.1), event_id=f'{shelf}{lane}{t}')


def event(shelf, lane, pid, q, t, delay=0.2):
    return NS(header=NS(stamp=st(T0 + t)), shelf_id=shelf, lane=lane, product_id=pid, quantity=q,
              settled_stamp=st(T0 + t + 1.0), decided_stamp=st(T0 + t + 1.1 + delay), flags=0)


def alert(aid, kind, shelf, lane, pids, t):
    return NS(header=NS(stamp=st(T0 + t)), alert_id=aid, kind=kind, shelf_id=shelf, lane=lane, product_ids=pids)


def test_perfect_run_scores_one():
    tr = [truth(0, 'S1', 0, 'p1', 2, 10), truth(1, 'S1', 0, 'p1', 1, 20), truth(2, 'S2', 1, 'p1', 1, 30),
          truth(4, 'S3', 0, 'p3', 8, 40), truth(3, 'S9', -1, 'p1', 1, 50), truth(5, '', -1, '', 0, 60)]
    ev = [event('S1', 0, 'p1', 2, 10), event('S1', 0, 'p1', -1, 20), event('S2', 1, 'p1', -1, 30),
          event('S3', 0, 'p3', -8, 40, delay=0.4)]
    al = [alert('a1', 1, 'S2', 1, ['p1', 'p2'], 30), alert('a1', 1, 'S2', 1, ['p1', 'p2'], 35),  # state change
          alert('a2', 4, 'S5', 0, ['p5'], 12)]
    m = shelf_metrics(tr, ev, al, None)
    assert set(m) == set(KEYS)
    assert m['event_precision'] == m['event_recall'] == m['product_accuracy'] == m['quantity_accuracy'] == 1.0
    assert m['misplaced_precision'] == m['misplaced_recall'] == 1.0
    assert m['event_delay_p95_s'] == pytest.approx(np.percentile([0.2, 0.2, 0.2, 0.4], 95), abs=1e-6)


def test_misses_false_events_wrong_products_and_quantities():
    tr = [truth(0, 'S1', 0, 'p1', 1, 10), truth(0, 'S1', 1, 'p2', 1, 10), truth(0, 'S1', 2, 'p3', 1, 10),
          truth(2, 'S2', 0, 'p9', 1, 20)]
    ev = [event('S1', 0, 'p1', 2, 10),            # wrong quantity
          event('S1', 1, 'px', 1, 10),            # wrong product
          event('S1', 2, 'p3', 1, 15),            # too late: no match
          event('S4', 0, 'p4', 1, 10),            # false event
          event('S2', 0, 'p8', -1, 20)]           # misplaced put, wrong product
    al = [alert('m1', 1, 'S2', 0, ['p8'], 20)]
    m = shelf_metrics(tr, ev, al, None)
    assert m['event_recall'] == 3 / 4 and m['event_precision'] == 3 / 5
    assert m['product_accuracy'] == 1 / 4 and m['quantity_accuracy'] == 2 / 4
    assert m['misplaced_precision'] == 0.0 and m['misplaced_recall'] == 0.0


def test_nothing_to_score_is_none():
    m = shelf_metrics([truth(3, '', -1, 'p1', 1, 5)], [], [], None)
    assert all(m[k] is None for k in KEYS)
    m = shelf_metrics([], [event('S1', 0, 'p1', 1, 3)], [], None)
    assert m['event_precision'] == 0.0 and m['event_recall'] is None and m['event_delay_p95_s'] is None
