"""Multi-camera avatar tracker on the floor (no ROS).

Per synchronised instant (all cameras' detections with one stamp), :meth:`AvatarTracker.update`:

1. validates the input before touching any state (stamp finite and increasing, detections finite
   and on the floor; bad detections are dropped and counted, a bad stamp raises);
2. fuses the cameras: detections of one person in overlapping views become one measurement
   (inverse-variance weighted, at most one detection per camera);
3. predicts every avatar's constant-velocity Kalman filter (filterpy) to the stamp;
4. scores visible avatars against measurements with the Mahalanobis distance and assigns them
   optimally (scipy ``linear_sum_assignment``); occluded avatars then take leftover measurements
   within a radius that grows with the time they were hidden;
5. updates matched avatars; ages the others (tentative -> dropped, confirmed -> occluded);
6. prunes: an avatar lost at its exit gate has EXITED (reported once), one unseen for
   ``max_hidden_s`` is deleted;
7. spawns tentative avatars from unmatched measurements at the entry gate (shoppers) or the
   staff gate (staff) only.

Ids and colours are per tracker instance. Nothing that identifies a person is kept: an avatar
is a position, a velocity and a colour; after the exit only a summary (id, times) stays, for
``exited_retention_s``.
"""
from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
from filterpy.common import Q_discrete_white_noise
from filterpy.kalman import KalmanFilter
from scipy.optimize import linear_sum_assignment

from walkout_core.tracking.config import TrackerConfig
from walkout_core.tracking.fusion import Measurement, fuse

__all__ = ['STATE_ENTERING', 'STATE_SHOPPING', 'STATE_AT_CHECKOUT', 'STATE_EXITED', 'TRACK_TENTATIVE',
           'TRACK_CONFIRMED', 'TRACK_OCCLUDED', 'TRACK_DELETED', 'TrackerInputError', 'CameraFrame',
           'AvatarState', 'TrackerOutput', 'AvatarTracker']

# same values as walkout_msgs/Avatar
STATE_ENTERING, STATE_SHOPPING, STATE_AT_CHECKOUT, STATE_EXITED = 0, 1, 2, 3
TRACK_TENTATIVE, TRACK_CONFIRMED, TRACK_OCCLUDED, TRACK_DELETED = 0, 1, 2, 3
_BIG = 1e9
_APPEARANCE_TOL = 1e-3  # float32 rounding around [0, 1]


def _appearance_of(d: Any, core: str = 'appearance', message: str = 'appearance_rgb'
                   ) -> tuple[tuple[float, float, float] | None, bool]:
    """A detection's clothing colour (or, with ``core`` = ``message`` = 'hand_rgb', the colour at its hand)
    -> (RGB or None when unknown, malformed). ``appearance`` (core) or ``appearance_rgb`` (message; all
    zeros = not measured)."""
    a = getattr(d, core, None)
    if a is None:
        a = getattr(d, message, None)
    if a is None:
        return None, False
    try:
        v = [float(x) for x in a]
    except (TypeError, ValueError):
        return None, True
    if len(v) != 3 or not all(math.isfinite(x) and -_APPEARANCE_TOL <= x <= 1.0 + _APPEARANCE_TOL for x in v):
        return None, True
    if not any(v):
        return None, False
    return tuple(min(1.0, max(0.0, x)) for x in v), False


class TrackerInputError(ValueError):
    """An update the tracker refuses as a whole (bad or out-of-order stamp); no state changed."""


@dataclass(frozen=True)
class CameraFrame:
    """One camera's detections at one instant. ``detections``: objects with x, y, sigma_m,
    has_reach, reach_x, reach_y, confidence (core ``Detection`` or an adapter of the message)."""

    camera_id: str
    camera_ok: bool
    detections: Sequence[Any] = ()


@dataclass(frozen=True)
class AvatarState:
    id: int
    colour: tuple[float, float, float]
    state: int
    track_status: int
    is_staff: bool
    checkout_zone_id: str
    x: float
    y: float
    vx: float
    vy: float
    covariance: tuple[float, float, float, float]
    has_reach: bool
    reach_x: float
    reach_y: float
    first_seen: float
    last_seen: float
    hand_rgb: tuple[float, float, float] | None = None   # [0..1] colour at the hand (what it holds) when has_reach


@dataclass(frozen=True)
class TrackerOutput:
    stamp: float
    avatars: tuple[AvatarState, ...]        # confirmed and occluded, plus those that exited now
    measurements: int = 0                   # fused measurements
    rejected: int = 0                       # detections dropped as invalid
    births: int = 0
    exits: int = 0
    rejected_appearance: int = 0            # detections whose appearance or hand colour was malformed (NaN, out of range): ignored


@dataclass
class _Track:
    id: int
    kf: KalmanFilter
    colour: tuple[float, float, float]
    colour_index: int
    is_staff: bool
    first_seen: float
    last_seen: float
    status: int = TRACK_TENTATIVE
    state: int = STATE_ENTERING
    hits: int = 1
    checkout_zone_id: str = ''
    has_reach: bool = False
    reach: tuple[float, float] = (math.nan, math.nan)
    hand_rgb: tuple[float, float, float] | None = None
    last_seen_xy: tuple[float, float] = (math.nan, math.nan)
    # clothing colour (RGB 0..1, EMA) for re-association during the visit only: never published, gone with the track
    appearance: np.ndarray | None = None
    appearance_n: int = 0
    shared_t: float = -math.inf       # [s] stamp of the last merged blob this avatar shared


@dataclass
class _Region:
    """A gate polygon grown by a margin: point test with a distance to the polygon."""

    polygon: Any
    margin: float
    edges: np.ndarray = field(init=False)

    def __post_init__(self):
        p = self.polygon.array
        self.edges = np.stack([p, np.roll(p, -1, axis=0)], axis=1)

    def contains(self, xy: np.ndarray) -> np.ndarray:
        xy = np.atleast_2d(xy)
        inside = np.asarray(self.polygon.contains(xy), bool).reshape(-1)
        if self.margin <= 0:
            return inside
        a, b = self.edges[:, 0], self.edges[:, 1]
        ab = b - a
        t = np.clip(((xy[:, None, :] - a[None]) * ab[None]).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0, 1)
        d = np.linalg.norm(xy[:, None, :] - (a[None] + t[..., None] * ab[None]), axis=-1).min(axis=1)
        return inside | (d <= self.margin)


def _palette(n: int) -> np.ndarray:
    golden = 0.618033988749895
    return np.array([colorsys.hsv_to_rgb((i * golden) % 1.0, 0.85 if i % 2 == 0 else 0.6, 0.95) for i in range(n)])


class AvatarTracker:
    """Anonymous avatars on the floor from all cameras' person detections."""

    def __init__(self, layout, cfg: TrackerConfig | None = None):
        self.layout = layout
        self.cfg = cfg or TrackerConfig()
        c = self.cfg
        self._entry = [_Region(g.polygon, c.birth_margin_m) for g in layout.gates_of_kind('entry')]
        self._staff = [_Region(g.polygon, c.birth_margin_m) for g in layout.gates_of_kind('staff')]
        # (unseen time, gates grown by a margin by kind): lost at the door = out; lost near it, in the crowd
        # that gathers there, = out only if not seen again for longer
        self._exit_rules = [(after, {kind: [_Region(g.polygon, margin) for g in layout.gates_of_kind(kind)]
                                     for kind in ('exit', 'entry', 'staff')})
                            for margin, after in ((c.exit_margin_m, c.exit_miss_s),
                                                  (c.exit_slow_margin_m, c.exit_slow_miss_s))]
        x0, y0, x1, y1 = layout.floor.bounds
        m = c.floor_margin_m
        self._bounds = (x0 - m, y0 - m, x1 + m, y1 + m)
        self._palette = _palette(c.palette_size)
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._last_stamp: float | None = None
        self._colour_uses = np.zeros(len(self._palette), int)
        self.exited: list[tuple[float, int, float, bool]] = []  # (exit stamp, id, first_seen, is_staff)

    @property
    def tracks(self) -> list[_Track]:
        return list(self._tracks)

    @property
    def last_stamp(self) -> float | None:
        return self._last_stamp

    # ------------------------------------------------------------------ update
    def update(self, stamp_s: float, frames: Iterable[CameraFrame] = ()) -> TrackerOutput:
        """Advance to ``stamp_s`` with every camera's detections at that instant (may be none)."""
        frames = list(frames)
        stamp_s, meas, rejected, bad_looks = self._validate(stamp_s, frames)  # raises before any state change
        dt = 0.0 if self._last_stamp is None else stamp_s - self._last_stamp
        self._last_stamp = stamp_s
        z = fuse(meas, self.cfg.fusion_radius_m, self.cfg.fusion_sigmas, self.cfg.fusion_appearance_gate)
        self._predict(dt)
        used = self._associate(stamp_s, z)
        exited = self._age_and_prune(stamp_s)
        births = self._spawn(stamp_s, z, used)
        self._set_states()
        self._purge(stamp_s)
        out = tuple(self._state_of(t) for t in self._tracks if t.status in (TRACK_CONFIRMED, TRACK_OCCLUDED))
        return TrackerOutput(stamp_s, out + tuple(exited), len(z), rejected, births, len(exited), bad_looks)

    def _validate(self, stamp_s: float, frames: list[CameraFrame]) -> tuple[float, list[Measurement], int, int]:
        try:
            stamp_s = float(stamp_s)
        except (TypeError, ValueError):
            raise TrackerInputError(f'stamp {stamp_s!r} is not a number') from None
        if not math.isfinite(stamp_s):
            raise TrackerInputError(f'stamp {stamp_s!r} is not finite')
        if self._last_stamp is not None and stamp_s <= self._last_stamp:
            raise TrackerInputError(f'stamp {stamp_s:.6f} is not after the previous one {self._last_stamp:.6f}')
        c = self.cfg
        x0, y0, x1, y1 = self._bounds
        out, rejected, bad_looks = [], 0, 0
        for cam_index, f in enumerate(frames):
            if not getattr(f, 'camera_ok', True):
                continue
            for d in f.detections:
                try:
                    x, y, s = float(d.x), float(d.y), float(d.sigma_m)
                    has = bool(d.has_reach)
                    rx, ry = (float(d.reach_x), float(d.reach_y)) if has else (x, y)
                    conf = float(getattr(d, 'confidence', 1.0))
                    area = float(getattr(d, 'area_m2', 0.0))
                except (TypeError, ValueError, AttributeError):
                    rejected += 1
                    continue
                if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(s) and s >= 0.0
                        and x0 <= x <= x1 and y0 <= y <= y1):
                    rejected += 1
                    continue
                look, bad = _appearance_of(d)
                held, bad_held = _appearance_of(d, 'hand_rgb', 'hand_rgb')
                bad_looks += bad or bad_held
                if has and not (math.isfinite(rx) and math.isfinite(ry)
                                and math.hypot(rx - x, ry - y) <= c.max_reach_m):
                    has, rx, ry = False, x, y
                out.append(Measurement(x, y, max(s, c.min_measurement_sigma_m), cam_index, has, rx, ry,
                                       conf if math.isfinite(conf) else 0.0, 1, area if math.isfinite(area) else 0.0,
                                       look, held if has else None))
        return stamp_s, out, rejected, bad_looks

    # ------------------------------------------------------------------ steps
    def _predict(self, dt: float) -> None:
        if dt <= 0:
            return
        c = self.cfg
        F = np.array([[1, 0, dt, 0], [0, 1, 0, dt], [0, 0, 1, 0], [0, 0, 0, 1]], float)
        Q = Q_discrete_white_noise(dim=2, dt=dt, var=c.accel_sigma_m_s2 ** 2, block_size=2, order_by_dim=False)
        cap = c.max_position_sigma_m ** 2
        for t in self._tracks:
            t.kf.predict(F=F, Q=Q)
            if self._last_stamp - t.last_seen > c.occluded_after_s:
                t.kf.x[2:] *= math.exp(-dt / c.occluded_velocity_time_constant_s)
            P = t.kf.P
            for i in (0, 1):
                if P[i, i] > cap:
                    s = math.sqrt(cap / P[i, i])
                    P[i, :] *= s
                    P[:, i] *= s

    def _associate(self, stamp: float, z: list[Measurement]) -> set[int]:
        c = self.cfg
        used: set[int] = set()
        for t in self._tracks:
            t.has_reach = False
        if not z or not self._tracks:
            return used
        Z = np.array([[m.x, m.y] for m in z])
        looks = np.array([m.appearance if m.appearance is not None else (np.nan,) * 3 for m in z], float)
        # an avatar alone (no other avatar within appearance_isolation_m) learns its clothing colour and is
        # gated by it only loosely (appearance_alone_gate: its look may drift, but it must not jump to a
        # differently dressed person); close avatars (blobs that may merge) are gated at appearance_gate: a
        # merged blob whose mixed colour matches neither updates neither, both coast and each takes back its
        # own blob by colour when they separate
        XA = np.array([t.kf.x[:2] for t in self._tracks])
        DA = np.linalg.norm(XA[:, None, :] - XA[None, :, :], axis=2)
        np.fill_diagonal(DA, np.inf)
        isolated = {id(t): bool(DA[k].min(initial=np.inf) > c.appearance_isolation_m)
                    for k, t in enumerate(self._tracks)}
        visible = [t for t in self._tracks if stamp - t.last_seen <= c.occluded_after_s + 1e-9]
        if visible:
            # a blob as large as several people (people merged in one blob) may serve as many avatars, as a
            # weaker measurement (sigma = a quarter of its width)
            cols, sig, shares = [], [], []
            for j, m in enumerate(z):
                share = 1
                if c.person_area_m2 > 0 and m.area >= c.merged_area_factor * c.person_area_m2:
                    share = max(1, min(c.max_merged_share, int(round(m.area / c.person_area_m2))))
                for _ in range(share):
                    cols.append(j)
                    shares.append(share)
                    sig.append(m.sigma if share == 1 else max(m.sigma, 0.5 * math.sqrt(m.area / math.pi)))
            cols_a = np.array(cols)
            Zc = Z[cols_a]
            R = np.array(sig) ** 2
            X = np.array([t.kf.x[:2] for t in visible])
            P = np.array([t.kf.P[:2, :2] for t in visible])
            dx = Zc[None, :, 0] - X[:, None, 0]
            dy = Zc[None, :, 1] - X[:, None, 1]
            sxx = P[:, None, 0, 0] + R[None, :]
            syy = P[:, None, 1, 1] + R[None, :]
            sxy = P[:, None, 0, 1] + np.zeros_like(R)[None, :]
            det = np.maximum(sxx * syy - sxy * sxy, 1e-12)
            d2 = (syy * dx * dx - 2 * sxy * dx * dy + sxx * dy * dy) / det
            # an avatar that shared a merged blob moved with the blob, not with its owner: for
            # appearance_split_s its gate is the distance gate alone (its Mahalanobis distance counts at most
            # the gate's), and its colour weighs appearance_split_weight: who is who when the blob splits
            split = np.array([stamp - t.shared_t <= c.appearance_split_s for t in visible])[:, None]
            d2 = np.where(split, np.minimum(d2, c.gate_chi2), d2)
            ok = (d2 <= c.gate_chi2) & (dx * dx + dy * dy <= c.max_gate_distance_m ** 2)
            # clothing colour: a merged blob (shared column) is a mix of two people, it has none
            col_looks = np.where(np.array([s == 1 for s in shares])[:, None], looks[cols_a], np.nan)
            dc = self._appearance_dist(visible, col_looks)
            known = np.isfinite(dc)
            alone = np.array([isolated[id(t)] for t in visible])[:, None]
            ok &= ~known | (dc <= np.where(alone, c.appearance_alone_gate, c.appearance_gate))
            weight = np.where(split, c.appearance_split_weight, c.appearance_weight)
            # ... and a blob without a colour (merged again) tells it nothing: it costs as a colour at the gate
            unknown = np.where(split, c.appearance_split_weight * c.appearance_gate ** 2, 0.0)
            cost = np.where(ok, d2 + np.log(det) + np.where(known, weight * dc * dc, unknown), _BIG)
            pairs = [(int(i), int(j)) for i, j in zip(*linear_sum_assignment(cost)) if ok[i, j]]
            takers = np.bincount([cols[j] for _, j in pairs], minlength=len(z)) if pairs else np.zeros(len(z), int)
            hand_of = self._shared_hands(z, [(visible[i], cols[j]) for i, j in pairs], takers)
            for i, j in pairs:
                m = z[cols[j]]
                shared = takers[cols[j]] > 1   # one blob, several people: its position is ambiguous
                if shared:
                    visible[i].shared_t = stamp
                self._apply(visible[i], m, stamp, sigma=sig[j] if shared else m.sigma,
                            with_reach=not shared or hand_of.get(cols[j]) is visible[i],
                            learn=not shared and isolated[id(visible[i])])
                used.add(cols[j])
        free = [j for j in range(len(z)) if j not in used]
        # second stage: occluded avatars take leftover measurements by distance
        hidden = [t for t in self._tracks if stamp - t.last_seen > c.occluded_after_s + 1e-9]
        if hidden and free:
            X = np.array([t.kf.x[:2] for t in hidden])
            d = np.linalg.norm(X[:, None, :] - Z[None, free, :], axis=2)
            grown = np.array([c.reacquire_base_m + c.reacquire_speed_m_s * (stamp - t.last_seen) for t in hidden])
            dc = self._appearance_dist(hidden, looks[free])
            known = np.isfinite(dc)
            radius = np.where(known & (dc <= c.appearance_gate), np.minimum(grown, c.reacquire_colour_max_m)[:, None],
                              np.minimum(grown, c.reacquire_max_m)[:, None])
            ok = d <= radius
            alone = np.array([isolated[id(t)] for t in hidden])[:, None]
            ok &= ~known | (dc <= np.where(alone, c.appearance_reacquire_gate, c.appearance_gate))
            scale = max(c.appearance_gate, 1e-6)
            cost = np.where(ok, d + np.where(known, c.appearance_reacquire_weight_m * (dc / scale) ** 2, 0.0), _BIG)
            for i, k in zip(*linear_sum_assignment(cost)):
                if ok[i, k]:
                    if d[i, k] > c.reacquire_restart_m:
                        # taken back far from where it was hidden: its velocity and covariance grew while hidden,
                        # and an update across the jump would fling it off at speed; it starts again there, at rest
                        hidden[i].kf.x, hidden[i].kf.P = self._at_rest(z[free[k]])
                    self._apply(hidden[i], z[free[k]], stamp, learn=isolated[id(hidden[i])])
                    used.add(int(free[k]))
        return used

    def _shared_hands(self, z: list[Measurement], taken: list[tuple[_Track, int]], takers: np.ndarray
                      ) -> dict[int, _Track]:
        """Merged blob (index in ``z``) with a hand -> the avatar sharing it that owns the hand: its predicted
        body is nearest the hand, within ``max_reach_m``, and every other sharer's is ``shared_hand_margin_m``
        farther. Blobs whose hand is not clearly one sharer's are left out (the hand is then nobody's)."""
        margin = self.cfg.shared_hand_margin_m
        if margin <= 0:
            return {}
        by_blob: dict[int, list[tuple[float, int, _Track]]] = {}
        for k, (t, j) in enumerate(taken):
            m = z[j]
            if takers[j] > 1 and m.has_reach:
                d = math.hypot(m.reach_x - t.kf.x[0], m.reach_y - t.kf.x[1])
                by_blob.setdefault(j, []).append((d, k, t))
        out = {}
        for j, near in by_blob.items():
            near.sort(key=lambda e: e[:2])
            if near[0][0] <= self.cfg.max_reach_m and near[1][0] - near[0][0] >= margin:
                out[j] = near[0][2]
        return out

    def _appearance_dist(self, tracks: list[_Track], looks: np.ndarray) -> np.ndarray:
        """(tracks x measurements) RGB distance; NaN where the avatar's colour is not yet known (or the
        measurement has none), or the appearance term is off."""
        c = self.cfg
        ta = np.array([t.appearance if t.appearance is not None and t.appearance_n >= c.appearance_min_samples
                       and c.appearance_weight > 0 else (np.nan,) * 3 for t in tracks], float).reshape(-1, 3)
        return np.linalg.norm(ta[:, None, :] - looks[None, :, :], axis=2)

    def _apply(self, t: _Track, m: Measurement, stamp: float, sigma: float | None = None,
               with_reach: bool = True, learn: bool = False) -> None:
        if learn and m.appearance is not None:
            a = np.asarray(m.appearance, float)
            if t.appearance is None:
                t.appearance = a
            else:
                t.appearance = t.appearance + self.cfg.appearance_ema_alpha * (a - t.appearance)
            t.appearance_n += 1
        s = m.sigma if sigma is None else sigma
        t.kf.update(np.array([m.x, m.y]), R=np.eye(2) * s * s)
        t.hits += 1
        t.last_seen = stamp
        t.last_seen_xy = (m.x, m.y)
        if t.status == TRACK_TENTATIVE and t.hits >= self.cfg.confirm_hits:
            t.status = TRACK_CONFIRMED
        elif t.status == TRACK_OCCLUDED:
            t.status = TRACK_CONFIRMED
        t.has_reach = m.has_reach and with_reach
        t.reach = (m.reach_x, m.reach_y) if t.has_reach else (math.nan, math.nan)
        t.hand_rgb = m.hand_rgb if t.has_reach else None

    def _at_rest(self, m: Measurement) -> tuple[np.ndarray, np.ndarray]:
        """Filter state and covariance of a person standing at a detection: its position and sigma, velocity 0
        with ``initial_velocity_sigma_m_s``."""
        sv = self.cfg.initial_velocity_sigma_m_s
        return np.array([m.x, m.y, 0.0, 0.0]), np.diag([m.sigma ** 2, m.sigma ** 2, sv ** 2, sv ** 2])

    def _exit_kinds(self, t: _Track) -> tuple[str, ...]:
        c = self.cfg
        if t.is_staff:
            return ('staff', 'exit') if c.staff_exit_via_exit else ('staff',)
        return ('exit', 'entry') if c.exit_via_entry and t.state != STATE_ENTERING else ('exit',)

    def _has_exited(self, t: _Track, unseen: float) -> bool:
        """Lost for ``exit_miss_s`` within ``exit_margin_m`` of one of its exits, or for ``exit_slow_miss_s``
        within ``exit_slow_margin_m``."""
        xy = np.array(t.last_seen_xy)
        return any(unseen >= after and any(r.contains(xy)[0] for k in self._exit_kinds(t) for r in regions[k])
                   for after, regions in self._exit_rules)

    def _age_and_prune(self, stamp: float) -> list[AvatarState]:
        c = self.cfg
        keep, exited = [], []
        for t in self._tracks:
            unseen = stamp - t.last_seen
            if t.status == TRACK_TENTATIVE:
                if unseen > c.tentative_max_miss_s:
                    continue
                keep.append(t)
                continue
            if unseen > c.occluded_after_s:
                t.status = TRACK_OCCLUDED
            if self._has_exited(t, unseen):
                t.state, t.status, t.has_reach = STATE_EXITED, TRACK_DELETED, False
                exited.append(self._state_of(t))
                self.exited.append((stamp, t.id, t.first_seen, t.is_staff))
                continue
            if unseen > c.max_hidden_s:
                t.status, t.has_reach = TRACK_DELETED, False
                exited.append(self._state_of(t))
                continue
            keep.append(t)
        self._tracks = keep
        return exited

    def _spawn(self, stamp: float, z: list[Measurement], used: set[int]) -> int:
        c = self.cfg
        births = 0
        for j, m in enumerate(z):
            if j in used:
                continue
            p = np.array([m.x, m.y])
            if any(np.hypot(*(t.kf.x[:2] - p)) < c.spawn_exclusion_m for t in self._tracks):
                continue
            if any(r.contains(p)[0] for r in self._entry):
                staff = False
            elif any(r.contains(p)[0] for r in self._staff):
                staff = True
            else:
                continue
            self._tracks.append(self._new_track(m, stamp, staff))
            births += 1
        return births

    def _new_track(self, m: Measurement, stamp: float, staff: bool) -> _Track:
        c = self.cfg
        kf = KalmanFilter(dim_x=4, dim_z=2)
        kf.x, kf.P = self._at_rest(m)
        kf.H = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
        kf.R = np.eye(2) * m.sigma ** 2
        idx = self._pick_colour(np.array([m.x, m.y]))
        t = _Track(id=self._next_id, kf=kf, colour=tuple(float(v) for v in self._palette[idx]), colour_index=idx,
                   is_staff=staff, first_seen=stamp, last_seen=stamp, last_seen_xy=(m.x, m.y),
                   status=TRACK_CONFIRMED if c.confirm_hits <= 1 else TRACK_TENTATIVE,
                   has_reach=m.has_reach, reach=(m.reach_x, m.reach_y) if m.has_reach else (math.nan, math.nan),
                   appearance=None if m.appearance is None else np.asarray(m.appearance, float),
                   appearance_n=0 if m.appearance is None else 1)
        self._next_id += 1
        return t

    def _pick_colour(self, p: np.ndarray) -> int:
        """Palette index farthest (in RGB) from the colours of avatars within colour_radius_m."""
        near = [t.colour_index for t in self._tracks
                if np.hypot(*(t.kf.x[:2] - p)) <= self.cfg.colour_radius_m]
        if near:
            d = np.linalg.norm(self._palette[:, None, :] - self._palette[None, near, :], axis=2).min(axis=1)
        else:
            d = np.zeros(len(self._palette))
        score = d * 1000.0 - self._colour_uses  # most distinct, then least used
        idx = int(np.argmax(score))
        self._colour_uses[idx] += 1
        return idx

    def _set_states(self) -> None:
        for t in self._tracks:
            p = t.kf.x[:2]
            zone = self.layout.checkout_zone_at(p)
            if zone is not None:
                t.state, t.checkout_zone_id = STATE_AT_CHECKOUT, zone.id
                continue
            t.checkout_zone_id = ''
            births = self._staff if t.is_staff else self._entry
            if t.state == STATE_ENTERING and any(r.contains(p)[0] for r in births):
                continue
            t.state = STATE_SHOPPING

    def _purge(self, stamp: float) -> None:
        keep_after = stamp - self.cfg.exited_retention_s
        self.exited = [e for e in self.exited if e[0] >= keep_after]

    def _state_of(self, t: _Track) -> AvatarState:
        x = t.kf.x
        P = t.kf.P
        return AvatarState(
            id=t.id, colour=t.colour, state=t.state, track_status=t.status, is_staff=t.is_staff,
            checkout_zone_id=t.checkout_zone_id, x=float(x[0]), y=float(x[1]), vx=float(x[2]), vy=float(x[3]),
            covariance=(float(P[0, 0]), float(P[0, 1]), float(P[1, 0]), float(P[1, 1])),
            has_reach=t.has_reach, reach_x=float(t.reach[0]) if t.has_reach else float(x[0]),
            reach_y=float(t.reach[1]) if t.has_reach else float(x[1]),
            first_seen=t.first_seen, last_seen=t.last_seen, hand_rgb=t.hand_rgb if t.has_reach else None)
