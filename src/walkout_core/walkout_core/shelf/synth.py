"""Synthetic load-cell signals for tests and the benchmark (not the simulator: no people, no bags).

:func:`lane_signal` builds one lane's readings from a list of :class:`Step` (weight changes with an
optional hand-press spike and a damped swing), Gaussian noise and drift.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ['Step', 'lane_signal', 'block_signal']


@dataclass(frozen=True)
class Step:
    t: float                       # [s] the hand touches the lane (change starts)
    delta_g: float                 # [g] settled weight change (negative: taken)
    ramp_s: float = 0.3            # [s] duration of the change
    press_g: float = 0.0           # [g] extra positive force of the hand during the ramp
    swing_g: float = 0.0           # [g] amplitude of a damped oscillation after the ramp
    swing_hz: float = 2.0          # [Hz]
    swing_tau_s: float = 0.25      # [s] decay time constant of the swing

    @property
    def settled_t(self) -> float:
        """When the weight is within noise of its final value (ramp end plus swing decay)."""
        extra = self.swing_tau_s * np.log(max(self.swing_g, 1.0) / 5.0) if self.swing_g > 5.0 else 0.0
        return self.t + self.ramp_s + extra


def lane_signal(t: np.ndarray, start_g: float, steps: list[Step], *, sigma_g: float = 10.0,
                drift_g_per_s: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """Readings [g] of one lane at times ``t`` [s]."""
    rng = np.random.default_rng(0) if rng is None else rng
    x = np.full(t.shape, float(start_g))
    for s in steps:
        frac = np.clip((t - s.t) / s.ramp_s, 0.0, 1.0)
        x += s.delta_g * frac
        during = (t >= s.t) & (t < s.t + s.ramp_s)
        x += np.where(during, s.press_g * np.sin(np.pi * frac), 0.0)
        after = t - (s.t + s.ramp_s)
        x += np.where(after >= 0, s.swing_g * np.exp(-np.maximum(after, 0) / s.swing_tau_s)
                      * np.sin(2 * np.pi * s.swing_hz * np.maximum(after, 0)), 0.0)
    return x + drift_g_per_s * (t - t[0]) + rng.normal(0.0, sigma_g, t.shape)


def block_signal(duration_s: float, n_cells: int, rate_hz: float = 20.0, *, sigma_g: float = 10.0,
                 events_per_cell_per_min: float = 0.5, rng: np.random.Generator | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Times (T,) and readings (T, n) of a block of cells with random picks of 100..1500 g."""
    rng = np.random.default_rng(1) if rng is None else rng
    t = np.arange(0.0, duration_s, 1.0 / rate_hz)
    x = np.empty((t.size, n_cells))
    for c in range(n_cells):
        n_ev = rng.poisson(events_per_cell_per_min * duration_s / 60.0)
        times = np.sort(rng.uniform(1.0, max(duration_s - 2.0, 1.5), n_ev))
        steps = [Step(float(tt), -float(rng.uniform(100, 1500)), press_g=float(rng.uniform(60, 250)))
                 for tt in times]
        x[:, c] = lane_signal(t, 20000.0, steps, sigma_g=sigma_g, rng=rng)
    return t, x


def controller_samples(layout, steps: dict[tuple[str, int], list[Step]], duration_s: float, t0: float,
                       rate_hz: float = 20.0, sigma_g: float = 10.0, rng: np.random.Generator | None = None):
    """Readings of every controller of ``layout`` for ``duration_s``, lanes starting at their initial stock.

    Returns a list of ``(controller_id, t, shelf_ids, lanes, weights (n,))`` in time order (all
    controllers sample at the same instants, in layout order).
    """
    rng = np.random.default_rng(2) if rng is None else rng
    t = t0 + np.arange(0.0, duration_s, 1.0 / rate_hz)
    per_ctrl = []
    for cid, shelves in layout.controllers().items():
        sids, lanes, cols = [], [], []
        for s in shelves:
            for ln in s.lanes:
                sids.append(s.id)
                lanes.append(ln.index)
                start = layout.catalogue[ln.product_id].unit_weight_g * ln.initial_stock
                cols.append(lane_signal(t, start, steps.get((s.id, ln.index), []), sigma_g=sigma_g, rng=rng))
        per_ctrl.append((cid, sids, lanes, np.stack(cols, 1).astype(np.float32)))
    return [(cid, float(tt), sids, lanes, x[i]) for i, tt in enumerate(t) for cid, sids, lanes, x in per_ctrl]
