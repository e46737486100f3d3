"""Tracking scores against the simulator's ground truth with py-motmetrics (no ROS).

``tracking_metrics(truth_person_arrays, avatar_arrays)`` takes lists of message-like objects
(rclpy or rosbags-deserialised ``TruthPersonArray`` / ``AvatarArray``) and returns
``mota``, ``idf1``, ``id_switches_per_100_min``, ``reach_error_p95_m`` (plus ``reach_recall``
and ``shopper_minutes``); a value is ``None`` when there is nothing to score.

``evaluate_bag(path)`` runs the core detector and tracker directly over a simulator bag (JPEG
frames decoded with OpenCV, no ROS graph) and scores the avatars it produces.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable, Iterator

import numpy as np

from walkout_core.eval.matching import frames_by_time

__all__ = ['tracking_metrics', 'evaluate_bag', 'track_frames', 'read_bag_frames', 'avatar_outputs_to_arrays']

#: a person and an avatar farther apart than this do not match [m]
MATCH_DIST_M = 0.5
#: truth frame and avatar frame further apart in time are not compared [s]
MAX_DT_S = 0.15


def _deleted(a: Any) -> bool:
    return int(getattr(a, 'track_status', 0)) == 3 or int(getattr(a, 'state', 0)) == 3


def tracking_metrics(truth_person_arrays: Iterable[Any], avatar_arrays: Iterable[Any],
                     match_dist_m: float = MATCH_DIST_M, max_dt_s: float = MAX_DT_S) -> dict[str, float | None]:
    """MOTA, IDF1, identity switches per 100 person-minutes and the p95 reach-point error."""
    import motmetrics as mm

    none = {'mota': None, 'idf1': None, 'id_switches_per_100_min': None, 'reach_error_p95_m': None,
            'reach_recall': None, 'shopper_minutes': None}
    t_truth, truth = frames_by_time(truth_person_arrays, 'persons')
    t_av, avatars = frames_by_time(avatar_arrays, 'avatars')
    if len(t_truth) == 0:
        return none
    acc = mm.MOTAccumulator(auto_id=False)
    person_s = 0.0
    frame_dt = float(np.median(np.diff(t_truth))) if len(t_truth) > 1 else 0.1
    reach_truth: dict[tuple[int, int], tuple[float, float]] = {}
    reach_hyp: dict[tuple[int, int], tuple[float, float]] = {}
    n_frames = 0
    for fid, (t, persons) in enumerate(zip(t_truth, truth)):
        persons = [p for p in persons if getattr(p, 'inside', True)]
        avs: list[Any] = []
        if len(t_av):
            k = int(np.clip(np.searchsorted(t_av, t), 0, len(t_av) - 1))
            if k > 0 and abs(t_av[k - 1] - t) < abs(t_av[k] - t):
                k -= 1
            if abs(t_av[k] - t) <= max_dt_s:
                avs = [a for a in avatars[k] if not _deleted(a)]
        if not persons and not avs:
            continue
        n_frames += 1
        person_s += len(persons) * frame_dt
        P = np.array([[p.position.x, p.position.y] for p in persons], float).reshape(-1, 2)
        A = np.array([[a.position.x, a.position.y] for a in avs], float).reshape(-1, 2)
        d = mm.distances.norm2squared_matrix(P, A, max_d2=match_dist_m ** 2)
        oids = [int(p.person_id) for p in persons]
        hids = [int(a.id) for a in avs]
        acc.update(oids, hids, d, frameid=fid)
        for p in persons:
            if getattr(p, 'reaching', False):
                reach_truth[(fid, int(p.person_id))] = (p.reach_point.x, p.reach_point.y)
        for a in avs:
            if getattr(a, 'has_reach', False):
                reach_hyp[(fid, int(a.id))] = (a.reach_point.x, a.reach_point.y)
    if n_frames == 0 or person_s <= 0:
        return none
    mh = mm.metrics.create()
    summary = mh.compute(acc, metrics=['mota', 'idf1', 'num_switches'], name='all')
    mota = float(summary['mota'].iloc[0])
    idf1 = float(summary['idf1'].iloc[0])
    switches = int(summary['num_switches'].iloc[0])
    ev = acc.mot_events
    matched = ev[ev['Type'].isin(['MATCH', 'SWITCH'])]
    errs, n_reach = [], 0
    for (fid, _), row in matched.iterrows():
        key_t = (int(fid), int(row['OId']))
        if key_t not in reach_truth:
            continue
        n_reach += 1
        h = reach_hyp.get((int(fid), int(row['HId'])))
        if h is not None:
            tx, ty = reach_truth[key_t]
            errs.append(math.hypot(h[0] - tx, h[1] - ty))
    minutes = person_s / 60.0
    return {
        'mota': mota if math.isfinite(mota) else None,
        'idf1': idf1 if math.isfinite(idf1) else None,
        'id_switches_per_100_min': switches / minutes * 100.0,
        'reach_error_p95_m': float(np.percentile(errs, 95)) if errs else None,
        'reach_recall': len(errs) / n_reach if n_reach else None,
        'shopper_minutes': minutes,
    }


def avatar_outputs_to_arrays(outputs: Iterable[Any]) -> list[SimpleNamespace]:
    """Core ``TrackerOutput`` objects -> AvatarArray-like objects for :func:`tracking_metrics`."""
    arrays = []
    for o in outputs:
        sec = int(math.floor(o.stamp))
        stamp = SimpleNamespace(sec=sec, nanosec=int(round((o.stamp - sec) * 1e9)))
        avs = [SimpleNamespace(id=a.id, state=a.state, track_status=a.track_status, is_staff=a.is_staff,
                               position=SimpleNamespace(x=a.x, y=a.y, z=0.0), has_reach=a.has_reach,
                               reach_point=SimpleNamespace(x=a.reach_x, y=a.reach_y, z=0.0))
               for a in o.avatars]
        arrays.append(SimpleNamespace(header=SimpleNamespace(stamp=stamp), avatars=avs))
    return arrays


def _guess_layout(camera_ids: list[str]) -> str:
    return 'flash' if len(camera_ids) > 8 else 'small'


def detect_and_sync(frames: Iterable[tuple[str, float, Any]], layout, detector_cfg=None, latency_window_s: float = 0.3,
                    dead_after_s: float = 1.0, tolerance_s: float = 0.02) -> Iterator[tuple[float, list[Any]]]:
    """Core detectors + synchroniser over ``(camera_id, stamp_s, jpeg_bytes)`` in arrival order, as the detection
    nodes and the tracker node's synchroniser run them -> the tracker's inputs ``(stamp, [CameraFrame, ...])``."""
    from walkout_core.tracking.sync import StampSynchroniser
    from walkout_core.tracking.tracker import CameraFrame
    from walkout_core.vision.config import DetectorConfig
    from walkout_core.vision.detector import FrameDetections, make_detector
    from walkout_core.vision.image import ImageError, decode_jpeg

    dcfg = detector_cfg or DetectorConfig()
    detectors = {c.id: make_detector(c, dcfg, layout.shelves) for c in layout.cameras}
    last: dict[str, float] = {}
    sync = StampSynchroniser([c.id for c in layout.cameras], latency_window_s, dead_after_s, tolerance_s)
    for cam, stamp, data in frames:
        if cam not in detectors or (cam in last and stamp <= last[cam]):
            continue
        last[cam] = stamp
        try:
            res = detectors[cam].detect(decode_jpeg(data), stamp)
        except ImageError as exc:
            res = FrameDetections(False, (), str(exc))
        for t, group in sync.add(cam, stamp, CameraFrame(cam, res.camera_ok, res.detections)):
            yield t, list(group.values())
    for t, group in sync.flush():
        yield t, list(group.values())


def track_frames(frames: Iterable[tuple[str, float, Any]], layout, detector_cfg=None, tracker_cfg=None,
                 latency_window_s: float = 0.3, dead_after_s: float = 1.0, tolerance_s: float = 0.02) -> list[Any]:
    """Core detectors + synchroniser + tracker over ``(camera_id, stamp_s, jpeg_bytes)`` in arrival order,
    as the detection and tracker nodes run them; returns the tracker outputs."""
    from walkout_core.tracking.tracker import AvatarTracker, TrackerInputError

    tracker = AvatarTracker(layout, tracker_cfg)
    outputs = []
    for stamp, group in detect_and_sync(frames, layout, detector_cfg, latency_window_s, dead_after_s, tolerance_s):
        try:
            outputs.append(tracker.update(stamp, group))
        except TrackerInputError:
            pass
    return outputs


def read_bag_frames(path: str | Path) -> tuple[list[tuple[str, float, bytes]], list[Any], list[str]]:
    """A simulator bag -> (camera frames (camera_id, stamp_s, jpeg) in bag order, /truth/persons, camera ids)."""
    from rosbags.highlevel import AnyReader

    from walkout_core.bagio import typestore

    pat = re.compile(r'^/camera/([^/]+)/image/compressed$')
    frames, truth = [], []
    with AnyReader([Path(path)], default_typestore=typestore()) as reader:
        conns = [c for c in reader.connections if pat.match(c.topic) or c.topic == '/truth/persons']
        cams = sorted({pat.match(c.topic).group(1) for c in conns if pat.match(c.topic)})
        for conn, _, raw in reader.messages(connections=conns):
            msg = reader.deserialize(raw, conn.msgtype)
            if conn.topic == '/truth/persons':
                truth.append(msg)
            else:
                st = msg.header.stamp
                frames.append((pat.match(conn.topic).group(1), st.sec + st.nanosec * 1e-9, bytes(msg.data)))
    return frames, truth, cams


def evaluate_bag(path: str | Path, layout: str | None = None, detector_cfg=None, tracker_cfg=None,
                 **sync_kw: float) -> dict[str, float | None]:
    """Run the core detectors and tracker over a simulator bag and score them against /truth/persons."""
    from walkout_core.layout import load_layout

    frames, truth, cams = read_bag_frames(path)
    lay = load_layout(layout or _guess_layout(cams))
    outputs = track_frames(frames, lay, detector_cfg, tracker_cfg, **sync_kw)
    out = tracking_metrics(truth, avatar_outputs_to_arrays(outputs))
    out['frames'] = float(len(outputs))
    return out
