"""Shelf pipeline figures against the simulator's ground truth (issue 4).

:func:`shelf_metrics` takes message-like objects (rclpy or rosbags-deserialized; only attribute
names are used) and returns the issue's keys. A figure with nothing to score is ``None``.

* A true shelf event is a ``TruthEvent`` of kind PICK, PUT_BACK, PUT_MISPLACED or RESTOCK (they change
  a lane's weight); HANDOVER, CHECKOUT and EXIT do not.
* Matching: per lane, one-to-one (Hungarian) on ``|settled_stamp difference|`` within
  ``match_window_s``.
* ``event_precision`` = matched / published shelf events; ``event_recall`` = matched / true events;
  ``product_accuracy`` / ``quantity_accuracy`` = true events matched with the right product / signed
  quantity (PICK: +q, the others: -q), over all true events.
* Misplaced-product alerts (``StoreAlert`` KIND_MISPLACED_PRODUCT, first message of each alert id)
  are matched to PUT_MISPLACED truth on the same lane and product, stamps within ``match_window_s``.
* ``event_delay_p95_s``: 95th percentile of ``decided_stamp - truth settled_stamp`` over matched events.

:func:`evaluate_bag` runs the core pipeline directly on a bag's ``/shelves/load_cells`` (no ROS)
and scores it against its ``/truth/events``.
"""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ['KEYS', 'shelf_metrics', 'shelf_match', 'evaluate_bag', 'records_to_messages']

KEYS = ('event_precision', 'event_recall', 'product_accuracy', 'quantity_accuracy', 'misplaced_precision',
        'misplaced_recall', 'event_delay_p95_s')

# walkout_msgs constants (TruthEvent.KIND_*, StoreAlert.KIND_*)
TRUTH_PICK, TRUTH_PUT_BACK, TRUTH_PUT_MISPLACED, TRUTH_RESTOCK = 0, 1, 2, 4
SHELF_KINDS = (TRUTH_PICK, TRUTH_PUT_BACK, TRUTH_PUT_MISPLACED, TRUTH_RESTOCK)
ALERT_MISPLACED = 1


def _t(stamp: Any) -> float:
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def _signed_quantity(truth: Any) -> int:
    q = int(truth.quantity)
    return q if int(truth.kind) == TRUTH_PICK else -q


def _match(truth: Sequence[Any], found: Sequence[Any], key_t, key_f, t_truth, t_found, window: float,
           compatible=None) -> list[tuple[int, int]]:
    """One-to-one matches (truth index, found index) per key, minimising total time difference."""
    by_key: dict[Any, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for i, x in enumerate(truth):
        by_key[key_t(x)][0].append(i)
    for j, y in enumerate(found):
        by_key[key_f(y)][1].append(j)
    out = []
    big = 1e9
    for ti, fj in by_key.values():
        if not ti or not fj:
            continue
        cost = np.full((len(ti), len(fj)), big)
        for a, i in enumerate(ti):
            for b, j in enumerate(fj):
                d = abs(t_truth(truth[i]) - t_found(found[j]))
                if d <= window and (compatible is None or compatible(truth[i], found[j])):
                    cost[a, b] = d
        rows, cols = linear_sum_assignment(cost)
        out += [(ti[r], fj[c]) for r, c in zip(rows, cols) if cost[r, c] < big]
    return out


def shelf_match(truth_events: Iterable[Any], shelf_events: Iterable[Any], match_window_s: float = 2.0
                ) -> tuple[list[Any], list[Any], list[tuple[int, int]]]:
    """True shelf events, published events and their matches (indices into the two lists)."""
    truth = [e for e in truth_events if int(e.kind) in SHELF_KINDS]
    found = list(shelf_events)
    pairs = _match(truth, found, lambda e: (e.shelf_id, int(e.lane)), lambda e: (e.shelf_id, int(e.lane)),
                   lambda e: _t(e.settled_stamp), lambda e: _t(e.settled_stamp), match_window_s)
    return truth, found, pairs


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def shelf_metrics(truth_events: Iterable[Any], shelf_events: Iterable[Any], alerts: Iterable[Any],
                  layout: Any = None, match_window_s: float = 2.0) -> dict[str, float | None]:
    """The issue's shelf figures (see the module doc). ``layout`` is accepted for a uniform signature."""
    truth_all = list(truth_events)
    truth, found, pairs = shelf_match(truth_all, shelf_events, match_window_s)
    product_ok = sum(1 for i, j in pairs if found[j].product_id == truth[i].product_id)
    qty_ok = sum(1 for i, j in pairs if int(found[j].quantity) == _signed_quantity(truth[i]))
    delays = [_t(found[j].decided_stamp) - _t(truth[i].settled_stamp) for i, j in pairs]

    seen: set[str] = set()
    mis_alerts = []
    for a in alerts:
        if int(a.kind) == ALERT_MISPLACED and a.alert_id not in seen:
            seen.add(a.alert_id)
            mis_alerts.append(a)
    mis_truth = [e for e in truth if int(e.kind) == TRUTH_PUT_MISPLACED]
    mis_pairs = _match(mis_truth, mis_alerts, lambda e: (e.shelf_id, int(e.lane)),
                       lambda a: (a.shelf_id, int(a.lane)), lambda e: _t(e.header.stamp),
                       lambda a: _t(a.header.stamp), match_window_s,
                       lambda e, a: len(a.product_ids) > 0 and a.product_ids[0] == e.product_id)
    return {
        'event_precision': _ratio(len(pairs), len(found)),
        'event_recall': _ratio(len(pairs), len(truth)),
        'product_accuracy': _ratio(product_ok, len(truth)),
        'quantity_accuracy': _ratio(qty_ok, len(truth)),
        'misplaced_precision': _ratio(len(mis_pairs), len(mis_alerts)),
        'misplaced_recall': _ratio(len(mis_pairs), len(mis_truth)),
        'event_delay_p95_s': float(np.percentile(delays, 95)) if delays else None,
    }


# --------------------------------------------------------------------------- direct bag evaluation
def _stamp(t: float) -> SimpleNamespace:
    sec = math.floor(t)
    return SimpleNamespace(sec=int(sec), nanosec=int(round((t - sec) * 1e9)))


def records_to_messages(events: Iterable[Any], alerts: Iterable[Any]) -> tuple[list[Any], list[Any]]:
    """Core :class:`ShelfEventRecord` / :class:`AlertRecord` as message-like objects."""
    ev = [SimpleNamespace(header=SimpleNamespace(stamp=_stamp(e.start_t)), event_id=e.event_id, shelf_id=e.shelf_id,
                          lane=e.lane, product_id=e.product_id, planogram_product_id=e.planogram_product_id,
                          quantity=e.quantity, weight_change_g=e.weight_change_g, confidence=e.confidence,
                          flags=e.flags, settled_stamp=_stamp(e.settled_t), decided_stamp=_stamp(e.decided_t))
          for e in events]
    kinds = {'MISPLACED_PRODUCT': 1, 'UNKNOWN_WEIGHT_CHANGE': 3, 'SENSOR_FAULT': 4}
    al = [SimpleNamespace(header=SimpleNamespace(stamp=_stamp(a.stamp_t)), alert_id=a.alert_id, kind=kinds[a.kind],
                          state=0 if a.state == 'OPEN' else 2, shelf_id=a.shelf_id, lane=a.lane,
                          product_ids=list(a.product_ids), message=a.message)
          for a in alerts]
    return ev, al


def _bag_layout(controller_ids: set[str]) -> str:
    from walkout_core.layout import load_layout, params_dir
    for f in sorted((params_dir() / 'layouts').glob('*.yaml')):
        try:
            lay = load_layout(f)
        except ValueError:
            continue
        if controller_ids <= set(lay.controllers()):
            return str(f)
    raise ValueError(f'no layout under {params_dir() / "layouts"} has the controllers {sorted(controller_ids)[:5]}')


def evaluate_bag(path: str | Path, layout: str | None = None, cfg: Any = None, details: bool = False
                 ) -> dict[str, Any]:
    """Run the core shelf pipeline on a bag's load cells and score it against its truth events.

    Returns the :data:`KEYS` figures; with ``details`` also ``'events'``, ``'alerts'``, ``'truth'``,
    ``'counters'`` and ``'cpu_share'`` (pipeline CPU seconds per second of data).
    """
    import time

    from rosbags.highlevel import AnyReader

    from walkout_core.bagio import typestore
    from walkout_core.layout import load_layout
    from walkout_core.shelf.config import ShelfEventConfig
    from walkout_core.shelf.pipeline import InputError, ShelfPipeline

    cfg = cfg or ShelfEventConfig()
    truth, events, alerts = [], [], []
    pipe = None
    problems: dict[str, int] = defaultdict(int)
    cpu = 0.0
    t_first = t_last = None
    with AnyReader([Path(path)], default_typestore=typestore()) as reader:
        conns = [c for c in reader.connections if c.topic in ('/shelves/load_cells', '/truth/events')]
        for conn, _, raw in reader.messages(connections=conns):
            msg = reader.deserialize(raw, conn.msgtype)
            if conn.topic == '/truth/events':
                truth.append(msg)
                continue
            if pipe is None:
                lay = load_layout(layout or _bag_layout({msg.controller_id}))
                pipe = ShelfPipeline(lay, cfg)
            t = _t(msg.header.stamp)
            t_first = t if t_first is None else t_first
            t_last = t
            c0 = time.process_time()
            try:
                e, a = pipe.update(msg.controller_id, t, msg.weights_g, msg.status, msg.shelf_ids, msg.lanes)
            except InputError as exc:
                problems[exc.key] += 1
                continue
            finally:
                cpu += time.process_time() - c0
            events += e
            alerts += a
    ev_msgs, al_msgs = records_to_messages(events, alerts)
    out: dict[str, Any] = shelf_metrics(truth, ev_msgs, al_msgs, pipe.layout if pipe else None)
    if details:
        out.update(events=events, alerts=alerts, truth=truth, counters=dict(pipe.counters) if pipe else {},
                   input_problems=dict(problems),
                   cpu_share=cpu / (t_last - t_first) if t_first is not None and t_last > t_first else None)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m walkout_core.eval.shelf_metrics BAG...``: the figures of each bag, one JSON line each."""
    import argparse
    import json
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument('bags', nargs='+')
    ap.add_argument('--layout', default=None)
    args = ap.parse_args(argv)
    for b in args.bags:
        r = evaluate_bag(b, args.layout, details=True)
        brief = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items() if k in KEYS}
        brief.update(bag=Path(b).name, n_truth=sum(1 for e in r['truth'] if int(e.kind) in SHELF_KINDS),
                     n_events=len(r['events']), cpu_share=round(r['cpu_share'] or 0.0, 4))
        print(json.dumps(brief))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
