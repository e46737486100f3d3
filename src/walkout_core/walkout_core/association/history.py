"""Stamped history of the tracker's avatars, queried by time window (no ROS)."""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

__all__ = ['AvatarSample', 'AvatarFrame', 'AvatarHistory', 'STATE_AT_CHECKOUT', 'STATE_EXITED']

#: ``Avatar.STATE_AT_CHECKOUT`` / ``STATE_EXITED`` (kept here so the core needs no ROS import).
STATE_AT_CHECKOUT = 2
STATE_EXITED = 3


@dataclass(frozen=True)
class AvatarSample:
    """One avatar at one tracker update; positions in the ``map`` frame [m]."""

    id: int
    x: float
    y: float
    cov: tuple[float, float, float, float] = (0.01, 0.0, 0.0, 0.01)  # [m^2] row-major 2x2
    has_reach: bool = False
    reach_x: float = 0.0
    reach_y: float = 0.0
    is_staff: bool = False
    state: int = 1
    checkout_zone_id: str = ''
    hand_rgb: tuple[float, float, float] | None = None   # [0..1] colour at the hand (what it holds), when has_reach

    @property
    def position_variance(self) -> float:
        """Mean variance of the position along one axis [m^2]."""
        return max(0.0, 0.5 * (self.cov[0] + self.cov[3]))


@dataclass(frozen=True)
class AvatarFrame:
    t: float                                   # [s] stamp of the tracker update
    avatars: tuple[AvatarSample, ...] = field(default_factory=tuple)


class AvatarHistory:
    """Frames in stamp order; frames older than ``keep_s`` behind the newest are dropped."""

    def __init__(self, keep_s: float):
        self.keep_s = float(keep_s)
        self._t: list[float] = []
        self._frames: list[AvatarFrame] = []

    @property
    def latest_t(self) -> float | None:
        return self._t[-1] if self._t else None

    def __len__(self) -> int:
        return len(self._frames)

    def add(self, frame: AvatarFrame) -> bool:
        """Append a frame; a frame older than or equal to the newest is refused (returns False)."""
        if self._t and frame.t <= self._t[-1]:
            return False
        self._t.append(frame.t)
        self._frames.append(frame)
        cut = bisect.bisect_left(self._t, frame.t - self.keep_s)
        if cut > 0:
            del self._t[:cut]
            del self._frames[:cut]
        return True

    def window(self, t0: float, t1: float) -> list[AvatarFrame]:
        i = bisect.bisect_left(self._t, t0)
        j = bisect.bisect_right(self._t, t1)
        return self._frames[i:j]

    def tracks(self, t0: float, t1: float) -> dict[int, tuple[np.ndarray, list[AvatarSample]]]:
        """Avatar id -> (times, samples) within ``[t0, t1]``."""
        out: dict[int, tuple[list[float], list[AvatarSample]]] = {}
        for fr in self.window(t0, t1):
            for a in fr.avatars:
                ts, ss = out.setdefault(a.id, ([], []))
                ts.append(fr.t)
                ss.append(a)
        return {k: (np.asarray(ts), ss) for k, (ts, ss) in out.items()}
