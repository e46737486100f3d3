"""Basket and checkout scores against the simulator's truth (issue 6).

``basket_metrics`` takes lists of message-like objects (rclpy or rosbags-deserialized) and returns
``basket_exact_accuracy``, ``item_precision``, ``item_recall``, ``review_rate``,
``receipt_latency_p50_s`` and ``receipt_latency_p95_s`` (``None`` where there is nothing to score).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Iterable

import numpy as np

from .matching import match_avatars_to_persons, stamp_s

__all__ = ['basket_metrics', 'final_baskets', 'KIND_CHECKOUT', 'CAUSE_REVIEW_RESOLVED']

#: ``TruthEvent.KIND_CHECKOUT``; ``BasketEvent.CAUSE_REVIEW_RESOLVED``.
KIND_CHECKOUT = 5
CAUSE_REVIEW_RESOLVED = 5


def final_baskets(basket_arrays: Iterable[Any]) -> dict[int, Counter[str]]:
    """Avatar id -> product counts in the last ``BasketArray`` (latest stamp; the last one on ties)."""
    arrays = list(basket_arrays)
    if not arrays:
        return {}
    last = max(enumerate(arrays), key=lambda ia: (stamp_s(ia[1].header.stamp), ia[0]))[1]
    out: dict[int, Counter[str]] = {}
    for b in last.baskets:
        c = Counter({i.product_id: int(i.quantity) for i in b.items if int(i.quantity) > 0})
        out[int(b.avatar_id)] = c
    return out


def _percentile(xs: list[float], q: float) -> float | None:
    return float(np.percentile(xs, q)) if xs else None


def basket_metrics(truth_baskets: Iterable[Any], truth_events: Iterable[Any], truth_person_arrays: Iterable[Any],
                   avatar_arrays: Iterable[Any], baskets: Iterable[Any], basket_events: Iterable[Any],
                   receipts: Iterable[Any]) -> dict[str, float | None]:
    truth_arrays = list(truth_baskets)
    truth: dict[int, Counter[str]] = {}
    staff: set[int] = set()
    if truth_arrays:
        last = max(enumerate(truth_arrays), key=lambda ia: (stamp_s(ia[1].header.stamp), ia[0]))[1]
        for tb in last.baskets:
            if tb.is_staff:
                staff.add(int(tb.person_id))
                continue
            truth[int(tb.person_id)] = Counter({i.product_id: int(i.quantity) for i in tb.items if int(i.quantity) > 0})
    mapping = match_avatars_to_persons(list(truth_person_arrays), list(avatar_arrays))

    # predicted basket per person: the union of its avatars' baskets; unmatched avatars are all false positives
    pred: dict[int, Counter[str]] = defaultdict(Counter)
    unmatched = 0
    for aid, items in final_baskets(baskets).items():
        pid = mapping.get(aid)
        if pid is None or pid in staff:
            unmatched += sum(items.values())
        else:
            pred[pid] += items
    tp = sum(sum((truth.get(pid, Counter()) & c).values()) for pid, c in pred.items())
    n_pred = sum(sum(c.values()) for c in pred.values()) + unmatched
    n_true = sum(sum(c.values()) for c in truth.values())
    exact = [pred.get(pid, Counter()) == c for pid, c in truth.items()]

    # review rate over the shelf events the association decided (each shelf event once)
    decided: dict[str, bool] = {}
    for e in basket_events:
        if not e.shelf_event_id or int(e.cause) == CAUSE_REVIEW_RESOLVED:
            continue
        decided[e.shelf_event_id] = decided.get(e.shelf_event_id, False) or bool(e.needs_review)

    # receipt latency: receipt stamp - the person's CHECKOUT truth stamp (the last one before the receipt)
    checkouts: dict[int, list[float]] = defaultdict(list)
    for ev in truth_events:
        if int(ev.kind) == KIND_CHECKOUT:
            checkouts[int(ev.person_id)].append(stamp_s(ev.header.stamp))
    lat = []
    for r in receipts:
        pid = mapping.get(int(r.avatar_id))
        t = stamp_s(r.header.stamp)
        before = [c for c in checkouts.get(pid, []) if c <= t] if pid is not None else []
        if before:
            lat.append(t - max(before))
    return {
        'basket_exact_accuracy': float(np.mean(exact)) if exact else None,
        'shoppers': len(exact),
        'shoppers_exact': int(sum(exact)),
        'item_precision': tp / n_pred if n_pred else None,
        'item_recall': tp / n_true if n_true else None,
        'review_rate': sum(decided.values()) / len(decided) if decided else None,
        # the counts behind the rates, so that a suite pools them over shoppers and events
        'items_matched': tp,
        'items_predicted': n_pred,
        'items_true': n_true,
        'events_decided': len(decided),
        'events_reviewed': sum(decided.values()),
        'receipt_latency_p50_s': _percentile(lat, 50),
        'receipt_latency_p95_s': _percentile(lat, 95),
    }
