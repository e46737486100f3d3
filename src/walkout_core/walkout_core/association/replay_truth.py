"""Quick sanity check of the association core on a simulator bag, WITHOUT the tracker and shelf pipeline.

The bag's ``/truth/persons`` stand in for the tracker's avatars (avatar id = person id, optional
Gaussian noise on body and hand) and its pick/put/restock ``/truth/events`` for the shelf events
(handovers are NOT given: the association must find them from the hands). The changes go through a
:class:`BasketStore` and the final baskets are compared with ``/truth/baskets``. This is a figure for
the association logic only, not the end-to-end score (``./walkout eval``).

    python -m walkout_core.association.replay_truth bags/generated/handover [more bags] [--noise-m 0.05]
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from walkout_core.basket.model import Cause, ShelfFlag
from walkout_core.basket.store import BasketStore
from walkout_core.config import validate
from walkout_core.eval.matching import stamp_s
from walkout_core.layout import Layout, load_layout

from .associator import Associator, ShelfEventIn
from .config import AssociationConfig
from .history import AvatarFrame, AvatarSample

__all__ = ['read_truth_topics', 'replay', 'main']

TRUTH = ('/truth/persons', '/truth/events', '/truth/baskets')
SHELF_KINDS = {0: 1, 1: -1, 2: -1, 4: -1}    # TruthEvent kind -> sign of the shelf quantity


def read_truth_topics(bag: str | Path) -> dict[str, list[Any]]:
    from rosbags.highlevel import AnyReader

    from walkout_core.bagio import typestore
    out: dict[str, list[Any]] = {t: [] for t in TRUTH}
    with AnyReader([Path(bag)], default_typestore=typestore()) as reader:
        conns = [c for c in reader.connections if c.topic in TRUTH]
        for conn, _, raw in reader.messages(connections=conns):
            out[conn.topic].append(reader.deserialize(raw, conn.msgtype))
    return out


def _layout_of(bag: Path, truth: dict[str, list[Any]]) -> Layout:
    """The bag's layout (:func:`layout_of_bag`, from the shelves its truth events name)."""
    return layout_of_bag(bag, {e.shelf_id for e in truth['/truth/events'] if e.shelf_id})


def layout_of_bag(bag: Path, shelf_ids: set[str]) -> Layout:
    """A bag's layout: metadata ``layout`` if present, else the first layout holding every shelf in
    ``shelf_ids``."""
    import yaml

    from walkout_core.layout import params_dir
    meta = Path(bag) / 'metadata.yaml'
    if meta.is_file():
        info = (yaml.safe_load(meta.read_text()) or {}).get('rosbag2_bagfile_information', {})
        lay = (info.get('custom_data') or {}).get('layout')
        if lay:
            return load_layout(str(lay))
    for f in sorted((params_dir() / 'layouts').glob('*.yaml'), key=lambda f: (f.stem != 'small', f.stem)):
        lay = load_layout(f)
        if shelf_ids <= {s.id for s in lay.shelves}:
            return lay
    raise ValueError(f'{bag}: no layout has the shelves {sorted(shelf_ids)}')


def replay(truth: dict[str, list[Any]], layout: Layout, cfg: AssociationConfig, noise_m: float = 0.0,
           seed: int = 0, decide_delay_s: float = 1.0, time_noise_s: float = 0.0,
           reach_drop: float = 0.0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    assoc = Associator(cfg, layout)
    store = BasketStore(':memory:', layout.catalogue, layout.currency)
    events = []
    for e in truth['/truth/events']:
        if int(e.kind) not in SHELF_KINDS:
            continue
        sh = layout.shelf(e.shelf_id)
        p = sh.lane_position(int(e.lane))
        t = stamp_s(e.header.stamp) + (rng.normal(0.0, time_noise_s) if time_noise_s > 0 else 0.0)
        events.append(ShelfEventIn(
            event_id=e.event_id, t=t, shelf_id=e.shelf_id, lane=int(e.lane), product_id=e.product_id,
            quantity=SHELF_KINDS[int(e.kind)] * int(e.quantity), lane_xy=(float(p[0]), float(p[1])),
            flags=ShelfFlag.MISPLACED if int(e.kind) == 2 else 0,
            planogram_product_id=sh.lanes[int(e.lane)].product_id, decided_t=stamp_s(e.settled_stamp) + decide_delay_s))

    def frames():
        for arr in sorted(truth['/truth/persons'], key=lambda a: stamp_s(a.header.stamp)):
            avs = []
            for p in arr.persons:
                if not p.inside:
                    continue
                n = rng.normal(0.0, noise_m, 4) if noise_m > 0 else np.zeros(4)
                avs.append(AvatarSample(id=int(p.person_id), x=p.position.x + n[0], y=p.position.y + n[1],
                                        cov=(max(noise_m, 0.03) ** 2, 0.0, 0.0, max(noise_m, 0.03) ** 2),
                                        has_reach=bool(p.reaching) and rng.random() >= reach_drop,
                                        reach_x=p.reach_point.x + n[2], reach_y=p.reach_point.y + n[3],
                                        is_staff=bool(p.is_staff)))
            yield AvatarFrame(stamp_s(arr.header.stamp), tuple(avs))

    changes = assoc.replay(frames(), events)
    for ch in changes:
        store.apply_change(ch)
    truth_b: dict[int, Counter] = {}
    if truth['/truth/baskets']:
        for tb in truth['/truth/baskets'][-1].baskets:
            if not tb.is_staff:
                truth_b[int(tb.person_id)] = Counter({i.product_id: int(i.quantity) for i in tb.items})
    pred = {b.avatar_id: Counter({i.product_id: i.quantity for i in b.items}) for b in store.baskets()}
    exact = [pred.get(p, Counter()) == c for p, c in truth_b.items()]
    tp = sum(sum((truth_b.get(a, Counter()) & c).values()) for a, c in pred.items())
    n_pred = sum(sum(c.values()) for a, c in pred.items())
    n_true = sum(sum(c.values()) for c in truth_b.values())
    shelf_changes = [c for c in changes if c.shelf_event_id]
    wrong = [{'person': p, 'truth': dict(c), 'pred': dict(pred.get(p, Counter()))}
             for p, c in truth_b.items() if pred.get(p, Counter()) != c]
    return {
        'shoppers': len(truth_b), 'shelf_events': len(shelf_changes),
        'handovers_found': sum(1 for c in changes if c.cause == Cause.HANDOVER_OUT),
        'handovers_true': sum(1 for e in truth['/truth/events'] if int(e.kind) == 3),
        'basket_exact_accuracy': float(np.mean(exact)) if exact else None,
        'item_precision': tp / n_pred if n_pred else None, 'item_recall': tp / n_true if n_true else None,
        'review_rate': (sum(c.needs_review for c in shelf_changes) / len(shelf_changes)) if shelf_changes else None,
        'wrong': wrong,
        'reviews': [(c.shelf_event_id, c.candidate_avatar_ids[:3], [round(s, 2) for s in c.candidate_scores[:3]])
                    for c in shelf_changes if c.needs_review],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('bags', nargs='+')
    ap.add_argument('--noise-m', type=float, default=0.0, help='[m] Gaussian noise on body and hand positions')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--time-noise-s', type=float, default=0.0, help='[s] Gaussian noise on the event stamps')
    ap.add_argument('--reach-drop', type=float, default=0.0, help='[-] probability a seen reach is dropped')
    ap.add_argument('--verbose', '-v', action='store_true')
    ns = ap.parse_args(argv)
    cfg = validate(AssociationConfig())
    for bag in ns.bags:
        b = Path(bag)
        try:
            truth = read_truth_topics(b)
        except (OSError, ValueError) as exc:   # a bag still being written, or not a bag
            sys.stdout.write(json.dumps({'bag': b.name, 'error': str(exc)}) + '\n')
            continue
        res = replay(truth, _layout_of(b, truth), cfg, ns.noise_m, ns.seed, time_noise_s=ns.time_noise_s,
                     reach_drop=ns.reach_drop)
        if not ns.verbose:
            res = {k: v for k, v in res.items() if k not in ('wrong', 'reviews')} | {'n_wrong': len(res['wrong'])}
        sys.stdout.write(json.dumps({'bag': b.name, **res}, default=str) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
