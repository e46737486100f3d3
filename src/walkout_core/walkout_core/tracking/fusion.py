"""Fuse overlapping cameras' floor detections into one measurement per person (no ROS)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ['Measurement', 'appearance_distance', 'fuse']


@dataclass(frozen=True)
class Measurement:
    x: float                  # [m]
    y: float                  # [m]
    sigma: float              # [m] 1-sigma
    camera: int               # camera index (-1 when fused from several)
    has_reach: bool
    reach_x: float            # [m]
    reach_y: float            # [m]
    confidence: float = 1.0
    n_cameras: int = 1
    area: float = 0.0         # [m^2] blob area (largest of the fused detections)
    appearance: tuple[float, float, float] | None = None  # [0..1] RGB clothing colour, None when unknown
    hand_rgb: tuple[float, float, float] | None = None    # [0..1] RGB at the hand when has_reach, None when unknown


def appearance_distance(a, b) -> float:
    """RGB distance of two clothing colours; 0 when either is unknown."""
    if a is None or b is None:
        return 0.0
    return float(np.sqrt(sum((float(x) - float(y)) ** 2 for x, y in zip(a, b))))


def fuse(dets: list[Measurement], radius_m: float, sigmas: float = 0.0,
         appearance_gate: float = float('inf')) -> list[Measurement]:
    """Greedy clustering, best (smallest sigma) first: a detection joins the nearest cluster
    within ``max(radius_m, sigmas * its sigma)`` (a body cut by the image border is far less sure
    of its centre) that has no detection of its camera yet. A cluster's position is the
    inverse-variance weighted mean; its reach point the weighted mean of its members' hands
    that lie within ``radius_m`` of the hand most of them agree with (:func:`_agreeing_hands`). A detection
    whose clothing colour differs from the cluster's best member by more than ``appearance_gate`` is another
    person.
    Its appearance is the weighted mean of the members' known ones, its hand colour that of the hands
    averaged for the reach point."""
    if not dets:
        return []
    order = sorted(range(len(dets)), key=lambda i: (dets[i].sigma, -dets[i].confidence))
    members: list[list[Measurement]] = []
    cams: list[set[int]] = []
    means = np.empty((len(dets), 2))
    wsum = np.empty(len(dets))
    n = 0
    for i in order:
        d = dets[i]
        r = max(radius_m, sigmas * d.sigma)
        r2 = r * r
        k = -1
        if n:
            dd = ((means[:n] - (d.x, d.y)) ** 2).sum(axis=1)
            for j in np.argsort(dd):
                if dd[j] > r2:
                    break
                if d.camera not in cams[j] and appearance_distance(d.appearance,
                                                                   members[j][0].appearance) <= appearance_gate:
                    k = int(j)
                    break
        w = 1.0 / (d.sigma * d.sigma)
        if k < 0:
            members.append([d])
            cams.append({d.camera})
            means[n] = (d.x, d.y)
            wsum[n] = w
            n += 1
        else:
            members[k].append(d)
            cams[k].add(d.camera)
            means[k] = (means[k] * wsum[k] + w * np.array([d.x, d.y])) / (wsum[k] + w)
            wsum[k] += w
    out = []
    for k in range(n):
        ms = members[k]
        if len(ms) == 1:
            out.append(ms[0])
            continue
        reach = [m for m in ms if m.has_reach]
        has = bool(reach)
        rx, ry = means[k]
        held = None
        if has:
            close = _agreeing_hands(reach, radius_m)
            wr = np.array([1.0 / (m.sigma * m.sigma) for m in close])
            rx = float(np.dot(wr, [m.reach_x for m in close]) / wr.sum())
            ry = float(np.dot(wr, [m.reach_y for m in close]) / wr.sum())
            held = _weighted_colour([m for m in close if m.hand_rgb is not None], 'hand_rgb')
        look = _weighted_colour([m for m in ms if m.appearance is not None], 'appearance')
        out.append(Measurement(float(means[k, 0]), float(means[k, 1]), float(1.0 / np.sqrt(wsum[k])), -1, has,
                               float(rx), float(ry), max(m.confidence for m in ms), len(ms),
                               max(m.area for m in ms), look, held))
    return out


def _agreeing_hands(reach: list[Measurement], radius_m: float) -> list[Measurement]:
    """The hands (members with a reach point, best first) within ``radius_m`` of the one that most cameras agree
    with: the anchor whose neighbourhood has the largest inverse-variance weight, the best member on ties. One
    camera's false hand (a shadow, a sleeve) does not outvote the hand that the other cameras see."""
    r2 = radius_m * radius_m
    groups = [[m for m in reach if (m.reach_x - a.reach_x) ** 2 + (m.reach_y - a.reach_y) ** 2 <= r2] for a in reach]
    support = [sum(1.0 / (m.sigma * m.sigma) for m in g) for g in groups]
    return groups[max(range(len(groups)), key=lambda i: (support[i], -i))]


def _weighted_colour(ms: list[Measurement], name: str) -> tuple[float, float, float] | None:
    """Inverse-variance weighted mean of the members' colour ``name`` (all known), None for none."""
    if not ms:
        return None
    w = np.array([1.0 / (m.sigma * m.sigma) for m in ms])
    return tuple(float(v) for v in w @ np.array([getattr(m, name) for m in ms]) / w.sum())
