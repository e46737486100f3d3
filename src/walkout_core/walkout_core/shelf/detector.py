"""Vectorised weight-change detection for the load cells of one shelf controller.

State is a set of numpy arrays over the block's cells; :meth:`CellBlockDetector.update` takes one
controller sample (all its cells at one stamp) and costs a fixed number of array operations, so the
flash layout's 2,000 cells at 20 Hz stay far below a quarter of a core.

Per cell (lane), in units of its noise sigma (the shelf's ``accuracy_g``):

* **idle**: the baseline is the running mean of the readings since it was last set, then (once
  older than ``baseline_time_constant_s``) an exponential average that follows slow drift;
  a reading more than ``start_threshold_sigma`` from it starts a change (its stamp is the change's
  start: the moment the hand was there).
* **active**: wait until the last ``window_samples`` readings are *quiet*: their standard deviation
  is below ``settle_std_sigma`` and the newer-half minus older-half mean below
  ``settle_slope_sigma``. A hand pressing, an item swinging or a noise spike keeps the window loud;
  the oldest reading of the first quiet window is the settle time. The settled change is the window
  mean (without readings more than ``level_clip_sigma`` from its median) minus the baseline; below
  ``min_change_g`` it is a transient (the baseline re-zeroes to the
  new level, no event), else a :class:`Change` is reported and the baseline jumps to the new level.
* **init**: after start-up or a change that never settles (``max_active_s``) the first quiet window
  sets the baseline without an event.

Bad readings (NaN, no data, saturated, above capacity, below ``-negative_limit_g``) and stuck cells
(``stuck_samples`` identical readings) are left out of the window. ``fault_bad_samples`` bad readings
in a row or a stuck cell start a fault episode (reported once, :class:`FaultEvent`), which ends after
``fault_clear_s`` of healthy readings; changes that overlap an episode are marked ``fault``.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .config import ShelfEventConfig
from .protocol import STATUS_NAN, STATUS_NO_DATA, STATUS_SATURATED

__all__ = ['Change', 'FaultEvent', 'CellBlockDetector', 'IDLE', 'ACTIVE', 'INIT']

IDLE, ACTIVE, INIT = 0, 1, 2


@dataclass(frozen=True)
class Change:
    """A settled weight change of one cell."""

    cell: int                 # index in the block
    start_t: float            # [s] stamp of the first reading that left the baseline
    settled_t: float          # [s] stamp of the oldest reading of the first quiet window
    decided_t: float          # [s] stamp of the reading that completed the window
    delta_g: float            # [g] settled level minus baseline (negative when taken)
    sigma_delta_g: float      # [g] 1-sigma measurement uncertainty of delta_g
    level_g: float            # [g] settled level
    fault: bool               # the cell had a fault during the change


@dataclass(frozen=True)
class FaultEvent:
    """Start (``start=True``, with a ``reason``) or end of a cell's fault episode."""

    cell: int
    t: float
    start: bool
    reason: str


class CellBlockDetector:
    """Change detector over ``n`` cells read together (one shelf controller)."""

    def __init__(self, sigma_g: np.ndarray, capacity_g: np.ndarray, cfg: ShelfEventConfig):
        self.sigma = np.asarray(sigma_g, dtype=float).copy()
        self.capacity = np.asarray(capacity_g, dtype=float).copy()
        n = self.n = self.sigma.size
        if self.capacity.shape != (n,) or n == 0:
            raise ValueError(f'sigma_g and capacity_g must be two equal non-empty vectors, got '
                             f'{self.sigma.shape} and {self.capacity.shape}')
        self.counters: Counter[str] = Counter()
        self.state = np.full(n, INIT, np.int8)
        self.baseline = np.zeros(n)
        self.n_base = np.zeros(n)          # readings averaged into the baseline since it was last set
        self.start_t = np.zeros(n)
        self.n_active = np.zeros(n, np.int32)
        self.last_x = np.full(n, np.nan)
        self.stuck_n = np.zeros(n, np.int32)
        self.bad_n = np.zeros(n, np.int32)
        self.in_fault = np.zeros(n, bool)
        self.fault_last_t = np.full(n, -np.inf)
        self.taint = np.zeros(n, bool)
        self.last_t: float | None = None
        self.set_config(cfg)

    # ------------------------------------------------------------------ config
    def set_config(self, cfg: ShelfEventConfig) -> None:
        """Apply new thresholds; a new window length restarts the windows (state is kept)."""
        w = int(cfg.window_samples)
        if getattr(self, 'cfg', None) is None or w != self.cfg.window_samples:
            self.buf = np.full((w, self.n), np.nan)
            self.tbuf = np.full(w, np.nan)
            self.pos = 0
            half = w // 2
            c = np.zeros(w)
            c[:half] = -1.0 / half          # oldest half
            c[w - half:] = 1.0 / half       # newest half
            # row r of the ring buffer holds the sample of age order (r - pos) % w
            self._slope_w = np.stack([c[(np.arange(w) - p) % w] for p in range(w)])
        self.cfg = cfg
        self.W = w
        self.start_thr = cfg.start_threshold_sigma * self.sigma
        self.var_thr = (cfg.settle_std_sigma * self.sigma) ** 2
        self.slope_thr = cfg.settle_slope_sigma * self.sigma
        self.sigma_delta = self.sigma * math.sqrt(2.0 / w)

    # ------------------------------------------------------------------ update
    def update(self, t: float, weights_g: np.ndarray, status: np.ndarray | None = None
               ) -> tuple[list[Change], list[FaultEvent]]:
        """One controller sample at stamp ``t`` [s]; returns settled changes and fault starts/ends."""
        cfg = self.cfg
        x = np.asarray(weights_g, dtype=float)
        with np.errstate(invalid='ignore'):
            valid = np.isfinite(x) & (x <= self.capacity) & (x >= -cfg.negative_limit_g)
        if status is not None:
            valid &= np.asarray(status) == 0
        dt = 0.0 if self.last_t is None else t - self.last_t
        self.last_t = t

        # --- bad and stuck readings, fault episodes
        same = valid & (x == self.last_x)
        self.stuck_n = np.where(same, self.stuck_n + 1, np.where(valid, 0, self.stuck_n))
        self.last_x = np.where(valid, x, self.last_x)
        self.bad_n = np.where(valid, 0, self.bad_n + 1)
        stuck = self.stuck_n >= cfg.stuck_samples - 1
        faulty = stuck | (self.bad_n >= cfg.fault_bad_samples)
        usable = valid & ~stuck
        faults: list[FaultEvent] = []
        if faulty.any() or self.in_fault.any():
            new = faulty & ~self.in_fault
            for i in np.flatnonzero(new):
                faults.append(FaultEvent(int(i), t, True, self._reason(i, x[i], status, stuck[i])))
            self.in_fault |= faulty
            self.fault_last_t[faulty] = t
            ended = self.in_fault & ~faulty & (t - self.fault_last_t >= cfg.fault_clear_s)
            for i in np.flatnonzero(ended):
                faults.append(FaultEvent(int(i), t, False, ''))
            self.in_fault &= ~ended
            self.taint |= self.in_fault
            self.counters['fault_starts'] += int(new.sum())

        # --- window statistics
        xu = np.where(usable, x, np.nan)
        self.buf[self.pos] = xu
        self.tbuf[self.pos] = t
        self.pos = (self.pos + 1) % self.W
        mean = self.buf.mean(axis=0)
        dev = self.buf - mean
        var = np.einsum('ij,ij->j', dev, dev) / self.W
        slope = self._slope_w[self.pos] @ self.buf
        with np.errstate(invalid='ignore'):
            quiet = (var <= self.var_thr) & (np.abs(slope) <= self.slope_thr)

        # --- idle: start a change or follow drift
        idle = self.state == IDLE
        d = xu - self.baseline
        with np.errstate(invalid='ignore'):
            start = idle & (np.abs(d) > self.start_thr)
            follow = idle & usable & ~start
        if dt > 0.0:
            # running mean of the readings since the last re-zero, then an exponential average
            alpha = np.maximum(-math.expm1(-dt / cfg.baseline_time_constant_s), 1.0 / (self.n_base + 1.0))
            self.baseline = np.where(follow, self.baseline + alpha * d, self.baseline)
            self.n_base += follow
        if start.any():
            self.state[start] = ACTIVE
            self.start_t[start] = t
            self.n_active[start] = 0
            self.taint[start] = self.in_fault[start]
        busy = self.state != IDLE
        self.n_active += busy
        settle = busy & quiet & (self.n_active >= self.W)
        timeout = busy & ~settle & (self.state == ACTIVE) & (t - self.start_t > cfg.max_active_s)
        changes: list[Change] = []
        if settle.any():
            settled_t = float(self.tbuf[self.pos])
            for i in np.flatnonzero(settle):
                level = self._robust_level(i)
                delta = level - float(self.baseline[i])
                if self.state[i] == ACTIVE:
                    if abs(delta) >= cfg.min_change_g:
                        changes.append(Change(int(i), float(self.start_t[i]), max(settled_t, float(self.start_t[i])),
                                              t, delta, float(self.sigma_delta[i]), level, bool(self.taint[i])))
                    else:
                        self.counters['transients'] += 1
                self.baseline[i] = level
                self.n_base[i] = self.W
                self.state[i] = IDLE
                self.taint[i] = self.in_fault[i]
        if timeout.any():
            self.state[timeout] = INIT
            self.counters['unsettled'] += int(timeout.sum())
        return changes, faults

    def _robust_level(self, i: int) -> float:
        """Window mean without readings far from its median (the tail of a ramp or a swing)."""
        col = self.buf[:, i]
        keep = np.abs(col - np.median(col)) <= self.cfg.level_clip_sigma * self.sigma[i]
        return float(col[keep].mean()) if keep.any() else float(col.mean())

    def _reason(self, i: int, x: float, status: np.ndarray | None, stuck: bool) -> str:
        if stuck:
            return f'stuck at {self.last_x[i]:.1f} g'
        st = int(status[i]) if status is not None else 0
        if st & STATUS_NO_DATA:
            return 'no data'
        if st & STATUS_SATURATED:
            return 'saturated'
        if not math.isfinite(x) or st & STATUS_NAN:
            return 'no value (NaN)'
        return f'out of range ({x:.1f} g)'

    @property
    def active(self) -> np.ndarray:
        """Cells with a change under way."""
        return self.state == ACTIVE
