"""Basket and checkout scores against the simulator's truth (issue 6).

``basket_metrics`` takes lists of message-like objects (rclpy or rosbags-deserialized) and returns
``basket_exact_accuracy``, ``item_precision``, ``item_recall``, ``review_rate``,
``receipt_latency_p50_s`` and ``receipt_latency_p95_s`` (``None`` where there is nothing to score), and,
given the shelf events, ``review_top1_accuracy``: the share of events sent to review whose first candidate
is the person who made the event (what staff resolving a review find suggested).

What the store charged: ``receipt_exact_accuracy`` is the share of paying shoppers (truth: paid, with a
non-empty basket) whose receipts hold exactly the products they took; ``paying_shoppers_without_receipt``
counts those charged nothing, ``receipts_before_checkout`` the receipts issued to a person before it reached
a checkout (or to no person at all). Receipt latency counts from the person's last checkout before the receipt.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Iterable

import numpy as np

from .matching import match_avatars_to_persons, stamp_s

__all__ = ['basket_metrics', 'final_baskets', 'KIND_CHECKOUT', 'CAUSE_REVIEW_RESOLVED']

#: ``TruthEvent.KIND_CHECKOUT``; ``BasketEvent.CAUSE_REVIEW_RESOLVED``, ``CAUSE_HANDOVER_IN`` / ``_OUT``.
KIND_CHECKOUT = 5
CAUSE_REVIEW_RESOLVED = 5
CAUSE_HANDOVERS = (3, 4)
#: ``TruthEvent`` kinds made at a shelf lane (pick, put back, put misplaced, restock).
SHELF_KINDS = (0, 1, 2, 4)
#: [s] a truth shelf event this near a detected one on the same lane is the same event
SAME_EVENT_S = 1.5


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
                   receipts: Iterable[Any], shelf_events: Iterable[Any] = ()) -> dict[str, float | None]:
    truth_events = list(truth_events)
    basket_events = list(basket_events)
    truth_arrays = list(truth_baskets)
    truth: dict[int, Counter[str]] = {}
    staff: set[int] = set()
    paying: set[int] = set()
    if truth_arrays:
        last = max(enumerate(truth_arrays), key=lambda ia: (stamp_s(ia[1].header.stamp), ia[0]))[1]
        for tb in last.baskets:
            if tb.is_staff:
                staff.add(int(tb.person_id))
                continue
            truth[int(tb.person_id)] = Counter({i.product_id: int(i.quantity) for i in tb.items if int(i.quantity) > 0})
            if tb.paid and truth[int(tb.person_id)]:
                paying.add(int(tb.person_id))
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

    # review rate over the events the association decided, each once: shelf events and handovers (whose
    # basket events are '<meeting>:out' / ':in', or one ':review')
    decided: dict[str, bool] = {}
    for e in basket_events:
        if int(e.cause) == CAUSE_REVIEW_RESOLVED:
            continue
        if e.shelf_event_id:
            key = e.shelf_event_id
        elif int(e.cause) in CAUSE_HANDOVERS:
            key = 'handover ' + str(e.event_id).rsplit(':', 1)[0]
        else:
            continue
        decided[key] = decided.get(key, False) or bool(e.needs_review)

    # reviews whose first candidate made the event: the detected shelf event's lane and stamp find the truth one
    lanes = {e.event_id: (str(e.shelf_id), int(e.lane), stamp_s(e.header.stamp)) for e in shelf_events}
    by_lane: dict[tuple[str, int], list[tuple[float, int]]] = defaultdict(list)
    for ev in truth_events if lanes else ():
        if int(ev.kind) in SHELF_KINDS:
            by_lane[(str(ev.shelf_id), int(ev.lane))].append((stamp_s(ev.header.stamp), int(ev.person_id)))
    top_right: dict[str, bool] = {}
    for e in basket_events:
        if not e.needs_review or e.shelf_event_id in top_right or e.shelf_event_id not in lanes:
            continue
        shelf, lane, t = lanes[e.shelf_event_id]
        near = [x for x in by_lane.get((shelf, lane), []) if abs(x[0] - t) <= SAME_EVENT_S]
        if near:
            top = int(e.candidate_avatar_ids[0]) if len(e.candidate_avatar_ids) else int(e.avatar_id)
            top_right[e.shelf_event_id] = mapping.get(top) == min(near, key=lambda x: abs(x[0] - t))[1]

    # receipt latency: receipt stamp - the person's CHECKOUT truth stamp (the last one before the receipt)
    checkouts: dict[int, list[float]] = defaultdict(list)
    for ev in truth_events:
        if int(ev.kind) == KIND_CHECKOUT:
            checkouts[int(ev.person_id)].append(stamp_s(ev.header.stamp))
    lat = []
    early = 0
    charged: dict[int, Counter[str]] = defaultdict(Counter)
    for r in receipts:
        pid = mapping.get(int(r.avatar_id))
        t = stamp_s(r.header.stamp)
        before = [c for c in checkouts.get(pid, []) if c <= t] if pid is not None else []
        if before:
            lat.append(t - max(before))
        else:
            early += 1
        if pid is not None:
            charged[pid] += Counter({i.product_id: int(i.quantity) for i in r.items if int(i.quantity) > 0})
    receipts_exact = sum(charged.get(pid) == truth[pid] for pid in paying)
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
        'review_top1_accuracy': sum(top_right.values()) / len(top_right) if top_right else None,
        'reviews_top1_right': sum(top_right.values()),
        'reviews_scored': len(top_right),
        'receipt_latency_p50_s': _percentile(lat, 50),
        'receipt_latency_p95_s': _percentile(lat, 95),
        'receipt_exact_accuracy': receipts_exact / len(paying) if paying else None,
        'receipts_exact': receipts_exact,
        'paying_shoppers': len(paying),
        'paying_shoppers_without_receipt': sum(pid not in charged for pid in paying),
        'receipts_before_checkout': early,
    }
