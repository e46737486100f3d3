"""Load-cell model: one cell per lane, sampled per shelf controller at the shelf rate.

reading = tare + sum of the true item weights on the lane (each item drawn within its product's
tolerance) + drift (random walk + slow thermal sine) + transients (a positive press spike when the
hand touches the lane; a damped swing after each load step) + Gaussian noise (sigma = the shelf's
``accuracy_g`` x ``noise_scale``). Bad readings: NaN (``STATUS_NAN``), out of range (> capacity or
strongly negative, ``STATUS_OUT_OF_RANGE``) and stuck episodes (the last value repeated, status OK:
a driver cannot tell).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from walkout_core.layout import Layout
from walkout_core.sim.scenario import CellNoise
from walkout_core.sim.world import Item, LaneAction, SETTLE_S

__all__ = ['LoadCellModel', 'ControllerSample', 'STATUS_OK', 'STATUS_NAN', 'STATUS_OUT_OF_RANGE',
           'PRESS_S', 'SWING_TAU_S', 'SWING_HZ', 'SWING_FRACTION']

STATUS_OK, STATUS_NAN, STATUS_OUT_OF_RANGE = 0, 1, 2
PRESS_S = 0.25          # [s] duration of the hand press spike
SWING_TAU_S = 0.15      # [s] decay of the swing after a load step
SWING_HZ = 3.0          # [Hz] swing frequency
SWING_FRACTION = 0.25   # [-] swing amplitude relative to the load step
TARE_G = (250.0, 900.0)  # [g] lane tray weight range


@dataclass
class ControllerSample:
    controller_id: str
    sequence: int
    shelf_ids: list[str]
    lanes: list[int]
    weights_g: np.ndarray   # float32
    status: np.ndarray      # uint8


@dataclass
class _Transient:
    idx: int
    t_touch: float
    press_g: float
    steps: list[tuple[float, float]]

    @property
    def end(self) -> float:
        return max(s[0] for s in self.steps) + SETTLE_S


class LoadCellModel:
    def __init__(self, layout: Layout, lanes: dict[tuple[str, int], list[Item]], spec: CellNoise,
                 rng: np.random.Generator):
        self.spec = spec
        self.rng = rng
        self.controllers: list[tuple[str, np.ndarray, list[str], list[int], float]] = []
        self.index: dict[tuple[str, int], int] = {}
        sigma, cap = [], []
        for cid, shelves in layout.controllers().items():
            idx, sids, lns = [], [], []
            for s in shelves:
                for i in range(len(s.lanes)):
                    self.index[(s.id, i)] = len(sigma)
                    idx.append(len(sigma))
                    sids.append(s.id)
                    lns.append(i)
                    sigma.append(s.accuracy_g * spec.noise_scale)
                    cap.append(s.capacity_kg * 1000.0)
            self.controllers.append((cid, np.array(idx), sids, lns, float(shelves[0].rate_hz)))
        n = len(sigma)
        self.sigma = np.array(sigma)
        self.capacity = np.array(cap)
        self.static = rng.uniform(*TARE_G, n)
        for key, items in lanes.items():
            self.static[self.index[key]] += sum(i.weight_g for i in items)
        self.drift = np.zeros(n)
        self.thermal_phase = rng.uniform(0, 2 * np.pi, n)
        self.thermal_amp = spec.thermal_amplitude_g * rng.uniform(0.5, 1.0, n)
        self.stuck_until = np.full(n, -1.0)
        self.stuck_value = np.zeros(n, np.float32)
        self.last = np.zeros(n, np.float32)
        self.pending: list[tuple[float, int, float]] = []     # (t, idx, delta) not yet applied
        self.active: list[_Transient] = []
        self.seq = {c[0]: 0 for c in self.controllers}
        self.next_t = {c[0]: 0.0 for c in self.controllers}

    def ingest(self, actions: list[LaneAction]) -> None:
        for a in actions:
            i = self.index[a.key]
            press = float(self.rng.uniform(*self.spec.press_g))
            self.active.append(_Transient(i, a.t_touch, press, list(a.steps)))
            self.pending.extend((t, i, d) for t, d in a.steps)
        self.pending.sort()

    def due(self, t: float) -> list[int]:
        """Indices of controllers whose next sample is due at tick ``t``."""
        out = []
        for k, c in enumerate(self.controllers):
            if self.next_t[c[0]] <= t + 1e-9:
                out.append(k)
                self.next_t[c[0]] += 1.0 / c[4]
        return out

    def sample(self, t: float, k: int) -> ControllerSample:
        cid, idx, sids, lns, rate = self.controllers[k]
        while self.pending and self.pending[0][0] <= t + 1e-9:
            _, i, d = self.pending.pop(0)
            self.static[i] += d
        spec, rng, m = self.spec, self.rng, len(idx)
        self.drift[idx] += rng.normal(0.0, spec.drift_g_per_sqrt_s / np.sqrt(rate), m)
        w = (self.static[idx] + self.drift[idx] + rng.normal(0.0, 1.0, m) * self.sigma[idx]
             + self.thermal_amp[idx] * np.sin(2 * np.pi * t / spec.thermal_period_s + self.thermal_phase[idx]))
        if self.active:
            self.active = [a for a in self.active if a.end >= t - 1e-9]
            pos = {int(i): j for j, i in enumerate(idx)}
            for a in self.active:
                j = pos.get(a.idx)
                if j is None:
                    continue
                dtp = t - a.t_touch
                if 0.0 <= dtp <= PRESS_S:
                    w[j] += a.press_g * np.sin(np.pi * dtp / PRESS_S)
                for ts, d in a.steps:
                    ds = t - ts
                    if ds >= 0.0:
                        w[j] += SWING_FRACTION * abs(d) * np.exp(-ds / SWING_TAU_S) * np.sin(2 * np.pi * SWING_HZ * ds)
        w = w.astype(np.float32)
        status = np.zeros(m, np.uint8)
        u = rng.random(m)
        p_nan, p_oor, p_stuck = spec.nan_prob, spec.out_of_range_prob, spec.stuck_prob
        stuck = self.stuck_until[idx] >= t
        w[stuck] = self.stuck_value[idx[stuck]]
        start = (u >= p_nan + p_oor) & (u < p_nan + p_oor + p_stuck) & ~stuck
        if start.any():
            self.stuck_until[idx[start]] = t + spec.stuck_s
            self.stuck_value[idx[start]] = self.last[idx[start]]
            w[start] = self.last[idx[start]]
        self.last[idx] = w
        nan = u < p_nan
        oor = (u >= p_nan) & (u < p_nan + p_oor)
        if nan.any():
            w[nan] = np.nan
            status[nan] = STATUS_NAN
        if oor.any():
            high = rng.random(int(oor.sum())) < 0.5
            w[oor] = np.where(high, self.capacity[idx[oor]] * rng.uniform(1.05, 1.5, high.size),
                              -rng.uniform(2000.0, 20000.0, high.size)).astype(np.float32)
            status[oor] = STATUS_OUT_OF_RANGE
        seq = self.seq[cid]
        self.seq[cid] = (seq + 1) % (2 ** 32)
        return ControllerSample(cid, seq, sids, lns, w, status)
