"""Baskets from a simulator bag through the core alone (no ROS): a fast path for tuning the tracker and the
association.

``./walkout eval`` replays a bag through the real node graph; that is the reference, and what the README
reports. This module runs the same cores in one process instead: the shelf pipeline over the load cells,
the detectors and the stamp synchroniser over the camera frames, the tracker, the associator and a basket
store in memory, and scores the result with :func:`basket_metrics` and :func:`tracking_metrics`. The
detections, the slow part (about 15 s for 90 s of the flash store), are cached on disk per bag, detector
configuration and detector source, so a second run with another tracker or association configuration takes
about 2 s per bag.

Differences from the graph: shelf events reach the associator when the avatar stream passes their decision
stamp (in the graph, when the message arrives), and there is no checkout (receipt figures are ``None``).
On flash_20_shoppers seeds 101-175 both gave the same exact baskets, MOTA and IDF1 seed by seed with the
ninth session's configuration; with the tenth's tracker, all seeds but 105 (graph 15/20, here 18/20: the
tracker's outputs differ). Search with it; claim figures from the graph.

    ./walkout python -m walkout_core.eval.core_replay bags/generated/flash_20_shoppers_seed15{0..9} \\
        --tracker appearance_weight=1000 --association reach_sigma_m=0.16
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import pickle
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable

__all__ = ['detection_groups', 'shelf_inputs', 'replay_baskets', 'main']

_VISION_SOURCES = ('vision/detector.py', 'vision/image.py', 'vision/config.py', 'tracking/sync.py',
                   'eval/tracking_metrics.py')


def _stamp(t: float) -> SimpleNamespace:
    sec = math.floor(t)
    return SimpleNamespace(sec=int(sec), nanosec=int(round((t - sec) * 1e9)))


def default_cache_dir() -> Path:
    return Path(os.environ.get('XDG_CACHE_HOME', Path.home() / '.cache')) / 'walkout' / 'detections'


def _cache_key(bag: Path, layout: Any, detector_cfg: Any) -> str:
    """Bag contents (its MCAP files' names, sizes and times), the layout (name and cameras: the detectors
    are built from it), the detector configuration and the source of the detector and synchroniser."""
    h = hashlib.sha256()
    h.update(f'{layout.name}:{[c.id for c in layout.cameras]}'.encode())
    for f in sorted(bag.glob('*.mcap')):
        st = f.stat()
        h.update(f'{f.name}:{st.st_size}:{st.st_mtime_ns}'.encode())
    h.update(repr(detector_cfg).encode())
    root = Path(__file__).resolve().parents[1]
    for rel in _VISION_SOURCES:
        h.update((root / rel).read_bytes())
    return h.hexdigest()[:24]


def detection_groups(bag: str | Path, layout: Any, detector_cfg: Any = None, cache_dir: str | Path | None = None
                     ) -> tuple[list[tuple[float, list[Any]]], list[Any], bool]:
    """The tracker's inputs for a bag: ``[(stamp, [CameraFrame, ...])]`` from the core detectors and the stamp
    synchroniser, as the detection and tracker nodes make them; plus the bag's ``/truth/persons`` and whether
    they came from the cache (``cache_dir``; ``None``: :func:`default_cache_dir`)."""
    from walkout_core.eval.tracking_metrics import detect_and_sync, read_bag_frames
    from walkout_core.vision.config import DetectorConfig

    bag = Path(bag)
    dcfg = detector_cfg or DetectorConfig()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f'{bag.name}-{_cache_key(bag, layout, dcfg)}.pkl'
    if path.is_file():
        with path.open('rb') as f:
            groups, truth = pickle.load(f)
        return groups, truth, True
    frames, truth_msgs, _ = read_bag_frames(bag)
    groups = list(detect_and_sync(frames, layout, dcfg))
    # truth persons as plain objects (the deserialized messages do not pickle)
    truth = [SimpleNamespace(header=SimpleNamespace(stamp=_stamp(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9)),
                             persons=[SimpleNamespace(person_id=int(p.person_id), inside=bool(p.inside),
                                                      is_staff=bool(p.is_staff),
                                                      position=SimpleNamespace(x=p.position.x, y=p.position.y, z=0.0))
                                      for p in m.persons])
             for m in truth_msgs]
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix('.tmp')
    with tmp.open('wb') as f:
        pickle.dump((groups, truth), f)
    tmp.replace(path)
    return groups, truth, False


def shelf_inputs(bag: str | Path, layout_name: str | None, cfg: Any = None) -> dict[str, Any]:
    """The core shelf pipeline over the bag's load cells -> ``{'events': [ShelfEventIn], 'messages': shelf
    events as message-like objects, 'truth_events', 'truth_baskets'}``."""
    from rosbags.highlevel import AnyReader

    from walkout_core.association.associator import ShelfEventIn
    from walkout_core.bagio import typestore
    from walkout_core.eval.shelf_metrics import evaluate_bag as shelf_bag, records_to_messages

    res = shelf_bag(bag, layout_name, cfg, details=True)
    events = [ShelfEventIn(event_id=e.event_id, t=e.start_t, shelf_id=e.shelf_id, lane=int(e.lane),
                           product_id=e.product_id, quantity=int(e.quantity),
                           lane_xy=(float(e.lane_position[0]), float(e.lane_position[1])), flags=int(e.flags),
                           planogram_product_id=e.planogram_product_id, confidence=float(e.confidence),
                           decided_t=e.decided_t, lane_z=float(e.lane_position[2]),
                           weight_change_g=float(e.weight_change_g))
              for e in res['events']]
    truth_baskets = []
    with AnyReader([Path(bag)], default_typestore=typestore()) as reader:
        conns = [c for c in reader.connections if c.topic == '/truth/baskets']
        for conn, _, raw in reader.messages(connections=conns):
            truth_baskets.append(reader.deserialize(raw, conn.msgtype))
    return {'events': events, 'messages': records_to_messages(res['events'], res['alerts'])[0],
            'truth_events': res['truth'], 'truth_baskets': truth_baskets}


def _frame(out: Any) -> Any:
    """A ``TrackerOutput`` as the association node sees it (``AvatarFrame``)."""
    from walkout_core.association.history import AvatarFrame, AvatarSample

    return AvatarFrame(out.stamp, tuple(AvatarSample(
        id=a.id, x=a.x, y=a.y, cov=a.covariance, has_reach=a.has_reach,
        reach_x=a.reach_x if a.has_reach else a.x, reach_y=a.reach_y if a.has_reach else a.y,
        is_staff=a.is_staff, state=a.state, checkout_zone_id=a.checkout_zone_id,
        hand_rgb=a.hand_rgb if a.has_reach else None) for a in out.avatars))


def _change_msg(ch: Any) -> SimpleNamespace:
    return SimpleNamespace(header=SimpleNamespace(stamp=_stamp(ch.t)), event_id=ch.event_id,
                           shelf_event_id=ch.shelf_event_id, avatar_id=int(ch.avatar_id), cause=int(ch.cause),
                           needs_review=bool(ch.needs_review), product_id=ch.product_id, quantity=int(ch.quantity),
                           candidate_avatar_ids=list(ch.candidate_avatar_ids))


def replay_baskets(bag: str | Path, tracker_cfg: Any = None, association_cfg: Any = None, detector_cfg: Any = None,
                   cache_dir: str | Path | None = None) -> dict[str, Any]:
    """Score one bag through the cores: the :func:`basket_metrics` keys (receipts ``None``), ``mota``, ``idf1``,
    ``events_reviewed`` and ``detections_cached``. Configurations default to the deployed ``params/*.yaml``."""
    from walkout_core.association.associator import Associator
    from walkout_core.association.config import AssociationConfig
    from walkout_core.association.replay_truth import layout_of_bag
    from walkout_core.basket.store import BasketStore
    from walkout_core.eval.basket_metrics import basket_metrics
    from walkout_core.eval.tracking_metrics import avatar_outputs_to_arrays, tracking_metrics
    from walkout_core.shelf.config import ShelfEventConfig
    from walkout_core.tracking.config import TrackerConfig
    from walkout_core.vision.config import DetectorConfig
    from walkout_core.tracking.tracker import AvatarTracker, TrackerInputError

    bag = Path(bag)
    tracker_cfg = tracker_cfg or _config(TrackerConfig, 'tracker_node')
    association_cfg = association_cfg or _config(AssociationConfig, 'association_node')
    detector_cfg = detector_cfg or _config(DetectorConfig, 'detection_node')
    shelf = shelf_inputs(bag, None, _config(ShelfEventConfig, 'shelf_event_node'))
    ids = {e.shelf_id for e in shelf['events']}
    layout = layout_of_bag(bag, ids)
    groups, truth_persons, cached = detection_groups(bag, layout, detector_cfg, cache_dir)
    tracker = AvatarTracker(layout, tracker_cfg)
    outputs = []
    for stamp, group in groups:
        try:
            outputs.append(tracker.update(stamp, group))
        except TrackerInputError:
            continue
    assoc = Associator(association_cfg, layout)
    store = BasketStore(':memory:', layout.catalogue, layout.currency)
    changes = assoc.replay((_frame(out) for out in outputs), shelf['events'])
    for ch in changes:
        store.apply_change(ch)
    end = outputs[-1].stamp if outputs else 0.0
    baskets = [SimpleNamespace(header=SimpleNamespace(stamp=_stamp(end)), baskets=[
        SimpleNamespace(avatar_id=b.avatar_id, items=[SimpleNamespace(product_id=i.product_id, quantity=i.quantity)
                                                      for i in b.items]) for b in store.baskets()])]
    avatars = avatar_outputs_to_arrays(outputs)
    fig: dict[str, Any] = basket_metrics(shelf['truth_baskets'], shelf['truth_events'], truth_persons, avatars,
                                         baskets, [_change_msg(c) for c in changes], [], shelf['messages'])
    trk = tracking_metrics(truth_persons, avatars)
    fig.update(mota=trk.get('mota'), idf1=trk.get('idf1'), events_reviewed=sum(1 for c in changes if c.needs_review),
               detections_cached=cached)
    return fig


def _config(cls: type, node: str, overrides: Iterable[str] = ()) -> Any:
    """``cls`` from ``params/<node>.yaml`` (the deployed values, node-only keys left out) with ``key=value``
    overrides, validated by :func:`walkout_core.config.from_mapping`."""
    import yaml

    from walkout_core.config import from_mapping
    from walkout_core.layout import params_dir

    data = yaml.safe_load((params_dir() / f'{node}.yaml').read_text()) or {}
    kw = next(iter(data.values()), {}).get('ros__parameters', {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kw = {k: v for k, v in kw.items() if k in fields}
    for item in overrides:
        key, _, value = item.partition('=')
        if key not in fields:
            raise ValueError(f'{cls.__name__} has no parameter {key!r}')
        kw[key] = yaml.safe_load(value)
    return from_mapping(cls, kw)


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - manual entry point
    from walkout_core.association.config import AssociationConfig
    from walkout_core.tracking.config import TrackerConfig

    ap = argparse.ArgumentParser(prog='python -m walkout_core.eval.core_replay', description=__doc__.split('\n\n')[0])
    ap.add_argument('bags', nargs='+', help='simulator bag directories')
    ap.add_argument('--tracker', nargs='*', default=[], metavar='KEY=VALUE', help='tracker parameter overrides')
    ap.add_argument('--association', nargs='*', default=[], metavar='KEY=VALUE',
                    help='association parameter overrides')
    ap.add_argument('--cache-dir', default=None, help=f'detection cache (default {default_cache_dir()})')
    ns = ap.parse_args(argv)
    tcfg = _config(TrackerConfig, 'tracker_node', ns.tracker)
    acfg = _config(AssociationConfig, 'association_node', ns.association)
    total = Counter()
    for bag in ns.bags:
        fig = replay_baskets(bag, tcfg, acfg, cache_dir=ns.cache_dir)
        total.update(shoppers=int(fig.get('shoppers') or 0), exact=int(fig.get('shoppers_exact') or 0),
                     reviews=int(fig['events_reviewed']))
        sys.stdout.write(json.dumps({'bag': str(bag), **{k: v for k, v in fig.items() if not isinstance(v, dict)}})
                         + '\n')
    sys.stdout.write(f"== {len(ns.bags)} bags: {total['exact']}/{total['shoppers']} baskets exact, "
                     f"{total['reviews']} events to review\n")
    return 0


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
