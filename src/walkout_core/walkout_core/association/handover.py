"""Handover detection: two shoppers stand together away from the shelves and a hand passes between them."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from walkout_core.layout import Layout

from .config import AssociationConfig
from .history import STATE_AT_CHECKOUT, STATE_EXITED, AvatarFrame, AvatarSample

__all__ = ['HandoverMeeting', 'HandoverDetector', 'shelf_front_segments', 'distance_to_segments',
           'chroma_distance']


def chroma_distance(a, b) -> float:
    """Distance of two RGB colours' chromaticities (r, g, b) / (r + g + b): 0 for the same hue and
    saturation under any lighting level, at most sqrt(2)."""
    va, vb = np.asarray(a, float), np.asarray(b, float)
    return float(np.linalg.norm(va / max(va.sum(), 1e-6) - vb / max(vb.sum(), 1e-6)))


@dataclass(frozen=True)
class HandoverMeeting:
    avatar_a: int
    avatar_b: int
    t_start: float                # [s] first frame of the standing meeting
    t_detect: float               # [s] last frame of hand evidence (reported once the two have parted)
    point: tuple[float, float]    # [m] mean point where the hands met
    hand_rgbs: tuple[tuple[float, float, float], ...] = ()  # [0..1] colours seen at the meeting hands (what crossed)
    short: bool = False           # the hold was shorter than handover_min_hold_s: a handover only if the colours confirm it


@dataclass
class _Pair:
    t_start: float
    t_last: float
    start_bodies: tuple[tuple[float, float], tuple[float, float]]
    fired: bool = False
    points: list[tuple[float, float, float]] = field(default_factory=list)   # (t, x, y) hand evidence
    crowded: int = 0              # evidence frames with a third person's body near the hands
    colours: list[tuple[float, float, float]] = field(default_factory=list)  # hand colours in evidence frames


def shelf_front_segments(layout: Layout) -> np.ndarray:
    """(N, 2, 2) front edges of every shelf."""
    segs = []
    for s in layout.shelves:
        c = np.array([s.x, s.y]) + s.front_normal * s.depth / 2
        a = s.axis * s.length / 2
        segs.append([c - a, c + a])
    return np.asarray(segs, dtype=float).reshape(-1, 2, 2)


def distance_to_segments(p: np.ndarray, segs: np.ndarray) -> float:
    if len(segs) == 0:
        return float('inf')
    a, b = segs[:, 0], segs[:, 1]
    ab = b - a
    u = np.clip(np.einsum('ij,ij->i', p - a, ab) / np.maximum(np.einsum('ij,ij->i', ab, ab), 1e-12), 0, 1)
    return float(np.min(np.linalg.norm(a + u[:, None] * ab - p, axis=1)))


class HandoverDetector:
    """Feed frames in stamp order; returns each meeting once the two people have parted.

    A handover is a *hold*: the two people stand together (``handover_min_duration_s``, moving at most
    ``handover_max_move_m``) away from the shelves, and a hand is seen meeting the other person in
    consecutive frames (breaks of at most ``handover_hold_gap_s``) for ``handover_min_hold_s``. The
    evidence is judged when the meeting ends (one of them moves off or they part): hands seen between
    two people over more than ``handover_max_evidence_s`` are people standing close (a queue, where
    the detector sees the gap between two shoulders as an arm), not a handover.
    """

    def __init__(self, cfg: AssociationConfig, layout: Layout):
        self.cfg = cfg
        self._segs = shelf_front_segments(layout)
        self._pairs: dict[tuple[int, int], _Pair] = {}
        self._hands: dict[int, tuple[float, AvatarSample]] = {}

    def _eligible(self, a: AvatarSample) -> bool:
        """Shoppers on the floor: not staff, not gone, and (unless ``handover_in_checkout_zones``) not at a
        checkout (hands on the tablet/terminal)."""
        if a.is_staff or a.state == STATE_EXITED:
            return False
        return self.cfg.handover_in_checkout_zones or (a.state != STATE_AT_CHECKOUT and not a.checkout_zone_id)

    def _meeting_point(self, ha: AvatarSample | None, hb: AvatarSample | None, a: AvatarSample,
                       b: AvatarSample) -> tuple[np.ndarray | None, bool]:
        """Where two people's hands meet -> (point or None, crossed): both hands seen and near each other,
        both reaching into the other's body (crossed: the hand points lie on the far bodies, so their colour
        is clothing), or (a hand missed by the detector) one hand reaching the other person's body."""
        cfg = self.cfg
        if ha is not None and hb is not None:
            if np.hypot(ha.reach_x - hb.reach_x, ha.reach_y - hb.reach_y) <= cfg.handover_reach_dist_m:
                return np.array([(ha.reach_x + hb.reach_x) / 2, (ha.reach_y + hb.reach_y) / 2]), False
            if cfg.handover_crossed_hands and cfg.handover_reach_body_dist_m > 0 and \
                    self._towards(ha, b, 0.0) and self._towards(hb, a, 0.0):
                return np.array([(a.x + b.x) / 2, (a.y + b.y) / 2]), True
            return None, False
        hand, other = (ha, b) if ha is not None else (hb, a)
        if hand is None or cfg.handover_reach_body_dist_m <= 0:
            return None, False
        # on their body (nearer than handover_hand_min_body_dist_m) is two people merged in one blob
        if not self._towards(hand, other, cfg.handover_hand_min_body_dist_m):
            return None, False
        return np.array([hand.reach_x, hand.reach_y]), False

    def _towards(self, hand: AvatarSample, other: AvatarSample, min_dist: float) -> bool:
        """Is ``hand``'s reach point within ``handover_reach_body_dist_m`` of ``other``'s body (and at least
        ``min_dist`` from it), on the way there from its owner (not beside them)?"""
        cfg = self.cfg
        to_other = float(np.hypot(hand.reach_x - other.x, hand.reach_y - other.y))
        if to_other > cfg.handover_reach_body_dist_m or to_other < min_dist:
            return False
        body = np.array([hand.x, hand.y])
        ab = np.array([other.x, other.y]) - body
        ar = np.array([hand.reach_x, hand.reach_y]) - body
        n = float(np.linalg.norm(ab))
        if n < 1e-6:
            return False
        along = float(ar @ ab) / n
        across = abs(float(ar[0] * ab[1] - ar[1] * ab[0])) / n
        return along >= 0.25 * n and across <= cfg.handover_off_line_m

    def update(self, frame: AvatarFrame) -> list[HandoverMeeting]:
        cfg = self.cfg
        # a hand missed for a frame or two (detection dropout) is held for handover_max_gap_s
        present = set()
        for a in frame.avatars:
            present.add(a.id)
            if a.has_reach and self._eligible(a):
                self._hands[a.id] = (frame.t, a)
        for aid in [k for k, (t, _) in self._hands.items()
                    if k not in present or frame.t - t > cfg.handover_max_gap_s]:
            del self._hands[aid]
        held = {a.id: a for _, a in self._hands.values()}
        fresh = {a.id for a in frame.avatars if a.has_reach}
        people = [a for a in frame.avatars if self._eligible(a)]
        out: list[HandoverMeeting] = []
        seen: set[tuple[int, int]] = set()
        if len(people) < 2:
            self._expire(frame.t, seen, out)
            return out
        xy = np.array([[a.x, a.y] for a in people])
        d = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=2)
        # a seen hand is evidence only for the person whose body is nearest to it
        nearest: dict[int, int] = {}
        for a in people:
            h = held.get(a.id)
            if h is not None:
                dh = np.hypot(xy[:, 0] - h.reach_x, xy[:, 1] - h.reach_y)
                dh[[k for k, p in enumerate(people) if p.id == a.id]] = np.inf
                nearest[a.id] = people[int(np.argmin(dh))].id
        for i, j in zip(*np.nonzero(np.triu(d <= cfg.handover_body_dist_m, 1))):
            a, b = people[int(i)], people[int(j)]
            if distance_to_segments((xy[i] + xy[j]) / 2, self._segs) < cfg.handover_min_shelf_dist_m:
                continue
            lo, hi = (a, b) if a.id < b.id else (b, a)
            key, bodies = (lo.id, hi.id), ((lo.x, lo.y), (hi.x, hi.y))
            seen.add(key)
            pair = self._pairs.get(key)
            moved = pair is not None and max(np.hypot(p[0] - q[0], p[1] - q[1]) for p, q in
                                             zip(pair.start_bodies, bodies)) > cfg.handover_max_move_m
            if pair is None or frame.t - pair.t_last > cfg.handover_max_gap_s or (moved and not pair.fired):
                # a new meeting; people walking past each other restart it (a handover is made standing)
                if pair is not None:
                    self._conclude(key, pair, out)
                pair = self._pairs[key] = _Pair(t_start=frame.t, t_last=frame.t, start_bodies=bodies)
            pair.t_last = frame.t
            if (a.id in fresh or b.id in fresh) and (nearest.get(a.id) == b.id or nearest.get(b.id) == a.id):
                mid, crossed = self._meeting_point(held.get(a.id), held.get(b.id), a, b)
                if mid is not None and distance_to_segments(mid, self._segs) >= cfg.handover_min_shelf_dist_m:
                    pair.points.append((frame.t, float(mid[0]), float(mid[1])))
                    if not crossed:     # crossed hands lie on the other's body: their colour is its clothing
                        pair.colours.extend(x.hand_rgb for x in (a, b) if x.id in fresh and x.hand_rgb is not None)
                    others = np.hypot(xy[:, 0] - mid[0], xy[:, 1] - mid[1])
                    others[[int(i), int(j)]] = np.inf
                    pair.crowded += bool(np.any(others < cfg.handover_crowd_m))
        self._expire(frame.t, seen, out)
        return out

    def _hold_s(self, pair: _Pair) -> float | None:
        """The longest hold of the pair's hand evidence (consecutive frames, breaks of at most
        ``handover_hold_gap_s``); None when the meeting cannot be a handover (no evidence, evidence spread over
        more than a handover takes, a third person as near the hands, or too short a meeting)."""
        cfg = self.cfg
        ts = [p[0] for p in pair.points]
        if not ts or ts[-1] - ts[0] > cfg.handover_max_evidence_s:
            return None
        if pair.crowded * 2 > len(ts):      # a third person as near the hands: whose hand met whom is unsure
            return None
        if pair.t_last - pair.t_start < cfg.handover_min_duration_s:
            return None
        best, start = 0.0, ts[0]
        for prev, t in zip(ts, ts[1:]):
            if t - prev > cfg.handover_hold_gap_s:
                start = t
            best = max(best, t - start)
        return best

    def _conclude(self, key: tuple[int, int], pair: _Pair, out: list[HandoverMeeting]) -> None:
        """The two have parted: judge all the hand evidence of their meeting; report it if it was a handover."""
        cfg = self.cfg
        hold = None if pair.fired else self._hold_s(pair)
        eps = 1e-3    # [s] stamps are rounded to the ms
        if hold is not None and hold >= min(cfg.handover_short_hold_s, cfg.handover_min_hold_s) - eps:
            short = hold < cfg.handover_min_hold_s - eps
            pair.fired = True
            for k, other in self._pairs.items():   # one hand, one handover: bystanders' pairs are spent
                if k != key and (set(k) & set(key)):
                    other.fired = True
            pts = np.asarray([(x, y) for _, x, y in pair.points])
            out.append(HandoverMeeting(key[0], key[1], pair.t_start, pair.points[-1][0],
                                       (float(pts[:, 0].mean()), float(pts[:, 1].mean())), tuple(pair.colours),
                                       short))
        pair.points.clear()
        pair.colours.clear()
        pair.crowded = 0

    def finish(self) -> list[HandoverMeeting]:
        """End of the stream: judge every meeting still going on."""
        out: list[HandoverMeeting] = []
        for key in list(self._pairs):
            self._conclude(key, self._pairs.pop(key), out)
        return out

    def _expire(self, t: float, seen: set[tuple[int, int]], out: list[HandoverMeeting]) -> None:
        for key in [k for k, p in self._pairs.items() if k not in seen and t - p.t_last > self.cfg.handover_max_gap_s]:
            self._conclude(key, self._pairs[key], out)
            del self._pairs[key]
