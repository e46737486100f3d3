"""Group per-camera messages by header stamp for the tracker (no ROS, stamp time only).

An instant is released when every live camera has reported it (or has already reported a later
stamp), or when a stamp ``latency_window_s`` newer has arrived from any camera. A camera is
live while its newest stamp is within ``dead_after_s`` of the newest stamp seen: a dead camera
never stalls the tracker. Messages older than the last released instant are late and dropped.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

__all__ = ['StampSynchroniser']


class StampSynchroniser:
    def __init__(self, camera_ids: Iterable[str], latency_window_s: float, dead_after_s: float,
                 tolerance_s: float = 0.0):
        self.camera_ids = tuple(camera_ids)
        self.latency = float(latency_window_s)
        self.dead_after = float(dead_after_s)
        self.tol = float(tolerance_s)
        self._groups: list[tuple[float, dict[str, Any]]] = []  # sorted by stamp
        self._heard: dict[str, float] = {}
        self._newest: float | None = None
        self._first: float | None = None
        self.released: float | None = None
        self.late = 0

    def live_cameras(self) -> list[str]:
        """Cameras waited for: heard within ``dead_after_s``; a camera not heard yet counts as heard at
        the first stamp seen, so every camera is waited for at the start."""
        if self._newest is None:
            return []
        cams = set(self.camera_ids) | set(self._heard)
        return [c for c in cams if self._heard.get(c, self._first) >= self._newest - self.dead_after]

    def add(self, camera_id: str, stamp_s: float, payload: Any) -> list[tuple[float, dict[str, Any]]]:
        """Add one message; return the instants now complete, oldest first: (stamp, {camera: payload})."""
        if self._first is None:
            self._first = stamp_s
        self._heard[camera_id] = max(stamp_s, self._heard.get(camera_id, stamp_s))
        self._newest = stamp_s if self._newest is None else max(self._newest, stamp_s)
        if self.released is not None and stamp_s <= self.released + self.tol:
            self.late += 1
            return self.ready()
        for stamp, group in self._groups:
            if abs(stamp - stamp_s) <= self.tol and camera_id not in group:
                group[camera_id] = payload
                break
        else:
            self._groups.append((stamp_s, {camera_id: payload}))
            self._groups.sort(key=lambda g: g[0])
        return self.ready()

    def ready(self) -> list[tuple[float, dict[str, Any]]]:
        out = []
        live = self.live_cameras()
        while self._groups:
            stamp, group = self._groups[0]
            complete = all(c in group or self._heard.get(c, -math.inf) > stamp + self.tol for c in live)
            if not (complete or self._newest - stamp >= self.latency):
                break
            self._groups.pop(0)
            self.released = stamp
            out.append((stamp, group))
        return out

    def flush(self) -> list[tuple[float, dict[str, Any]]]:
        """Release everything pending (end of a replay)."""
        out = list(self._groups)
        self._groups.clear()
        if out:
            self.released = out[-1][0]
        return out
