"""Constructed avatar tracks and shelf events for tests and quick checks (no ROS, no simulator).

A :class:`Script` holds per-avatar keyframes (body position, optional reach point) and turns them
into tracker-like :class:`AvatarFrame` s at a fixed rate, with linear motion between keyframes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from walkout_core.layout import Layout

from .associator import ShelfEventIn
from .history import AvatarFrame, AvatarSample

__all__ = ['Script', 'lane_xy', 'shelf_event']


def lane_xy(layout: Layout, shelf_id: str, lane: int) -> tuple[float, float]:
    p = layout.shelf(shelf_id).lane_position(lane)
    return float(p[0]), float(p[1])


def shelf_event(layout: Layout, event_id: str, t: float, shelf_id: str, lane: int, quantity: int = 1,
                product_id: str | None = None, flags: int = 0, delay_s: float = 1.0) -> ShelfEventIn:
    """A shelf event on a lane; the product defaults to the lane's planogram product."""
    plan = layout.shelf(shelf_id).lanes[lane].product_id
    return ShelfEventIn(event_id=event_id, t=t, shelf_id=shelf_id, lane=lane,
                        product_id=plan if product_id is None else product_id, quantity=quantity,
                        lane_xy=lane_xy(layout, shelf_id, lane), flags=flags, planogram_product_id=plan,
                        decided_t=t + delay_s)


@dataclass
class _Track:
    staff: bool
    keys: list[tuple[float, tuple[float, float]]] = field(default_factory=list)
    # (t0, t1, hand point, hand colour or None)
    reaches: list[tuple[float, float, tuple[float, float], tuple[float, float, float] | None]] = \
        field(default_factory=list)
    span: tuple[float, float] = (-np.inf, np.inf)


class Script:
    def __init__(self, rate_hz: float = 10.0, sigma_m: float = 0.05):
        self.rate_hz = rate_hz
        self.var = sigma_m ** 2
        self.tracks: dict[int, _Track] = {}

    def avatar(self, avatar_id: int, *keys: tuple[float, tuple[float, float]], staff: bool = False,
               span: tuple[float, float] | None = None) -> 'Script':
        """Keyframes ``(t, (x, y))``; the avatar exists over ``span`` (default: all time)."""
        tr = self.tracks.setdefault(avatar_id, _Track(staff))
        tr.keys.extend(keys)
        tr.keys.sort()
        if span is not None:
            tr.span = span
        return self

    def reach(self, avatar_id: int, t0: float, t1: float, point: tuple[float, float],
              rgb: tuple[float, float, float] | None = None) -> 'Script':
        """The avatar's arm is extended to ``point`` from ``t0`` to ``t1`` (the hand's colour ``rgb``)."""
        self.tracks[avatar_id].reaches.append((t0, t1, point, rgb))
        return self

    def sample(self, avatar_id: int, t: float) -> AvatarSample | None:
        tr = self.tracks[avatar_id]
        if not tr.span[0] <= t <= tr.span[1]:
            return None
        ts = np.array([k[0] for k in tr.keys])
        xs = np.array([k[1][0] for k in tr.keys])
        ys = np.array([k[1][1] for k in tr.keys])
        x, y = float(np.interp(t, ts, xs)), float(np.interp(t, ts, ys))
        reach, rgb = next(((p, c) for t0, t1, p, c in tr.reaches if t0 <= t <= t1), (None, None))
        return AvatarSample(id=avatar_id, x=x, y=y, cov=(self.var, 0.0, 0.0, self.var), has_reach=reach is not None,
                            reach_x=reach[0] if reach else x, reach_y=reach[1] if reach else y, is_staff=tr.staff,
                            hand_rgb=rgb if reach else None)

    def frames(self, t0: float, t1: float) -> list[AvatarFrame]:
        out = []
        for t in np.arange(t0, t1 + 1e-9, 1.0 / self.rate_hz):
            t = float(round(t, 6))
            avs = tuple(s for s in (self.sample(a, t) for a in sorted(self.tracks)) if s is not None)
            out.append(AvatarFrame(t, avs))
        return out
