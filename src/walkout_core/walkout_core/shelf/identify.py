"""Which product and how many items a settled weight change of a lane is.

* A decrease is the lane's planogram product (``round(-delta / unit weight)`` items) when it fits
  within ``accept_sigma`` of the expected spread (one item's weight spread grows with sqrt(k), plus
  the measurement noise); otherwise a product that was misplaced on that lane earlier; otherwise
  unknown.
* An increase is, among the hypotheses whose weight fits within ``accept_sigma``, the most probable
  one: the lane's own product (a put-back, or a restock when large) or another catalogue product (a
  misplaced put). Prior odds: a product not picked recently 1; the lane's own product at least
  ``own_lane_prior``, plus ``same_lane_prior`` per recent pick from this very lane (weighted like the
  following); a product with outstanding picks (picked and not yet put back, anywhere in the
  store) ``1 + recent_pick_prior * sum(exp(-age / recent_pick_tau_s) * reach)`` over those picks, where
  ``reach`` is 1 when the taker could have walked from the pick's lane to this one in the meantime
  (``max_walk_speed_mps``, ``walk_margin_m``), else ``unreachable_weight``. Several
  items (up to ``misplaced_max_quantity``) only of a product picked that many times. Nothing fits ->
  unknown.

Confidence is the posterior of the chosen hypothesis among the fitting ones and an "unknown"
hypothesis of prior ``unknown_prior`` spread uniformly over one unit weight.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from walkout_core.layout import Product

from .config import ShelfEventConfig

__all__ = ['FLAG_NONE', 'FLAG_SENSOR_FAULT', 'FLAG_MISPLACED', 'FLAG_UNKNOWN', 'FLAG_MULTI_LANE',
           'Identification', 'ProductIdentifier']

# Same values as walkout_msgs/ShelfEvent.FLAG_* (a node test holds them equal).
FLAG_NONE = 0
FLAG_SENSOR_FAULT = 1
FLAG_MISPLACED = 2
FLAG_UNKNOWN = 4
FLAG_MULTI_LANE = 8

_SQRT_2PI = math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Identification:
    kind: str                  # pick | put_back | misplaced_put | misplaced_pick | unknown
    product_id: str            # '' when unknown
    quantity: int              # [items] signed: > 0 taken from the shelf, < 0 put on it
    confidence: float          # [0..1]
    flags: int                 # FLAG_* (MISPLACED / UNKNOWN only; the pipeline adds the others)
    z: float                   # [sigma] normalised fit error of the chosen hypothesis
    candidates: tuple[tuple[str, int, float], ...] = field(default=())  # (product, items, posterior)


class ProductIdentifier:
    """Quantity fit and product identification against a catalogue, with a recent-picks memory."""

    def __init__(self, catalogue: Mapping[str, Product], cfg: ShelfEventConfig):
        self.catalogue = dict(catalogue)
        self.ids = np.array(list(self.catalogue))
        self._index = {pid: i for i, pid in enumerate(self.ids)}
        self.weights = np.array([p.unit_weight_g for p in self.catalogue.values()], float)
        self.tolerance = np.array([p.tolerance_g for p in self.catalogue.values()], float)
        self.recent: dict[str, deque[tuple[float, float, float]]] = {}   # product -> (t, x, y) of picks
        self.lane_picks: dict[object, deque[tuple[float, float, float]]] = {}
        self.set_config(cfg)

    def set_config(self, cfg: ShelfEventConfig) -> None:
        self.cfg = cfg
        self.unit_sigma = self.tolerance * cfg.unit_sigma_per_tolerance

    # ------------------------------------------------------------------ fits
    def _likelihood(self, err: float | np.ndarray, s: float | np.ndarray) -> float | np.ndarray:
        return np.exp(-0.5 * (err / s) ** 2) / (s * _SQRT_2PI)

    def fit(self, product_id: str, mass_g: float, sigma_g: float, max_items: int | None = None
            ) -> tuple[int, float, float]:
        """Nearest item count ``k >= 1`` of ``product_id`` for ``mass_g``; returns ``(k, z, likelihood)``."""
        i = self._index[product_id]
        w, su = self.weights[i], self.unit_sigma[i]
        k = int(min(max(1, round(mass_g / w)), max_items or self.cfg.max_quantity))
        s = math.sqrt(k * su * su + sigma_g * sigma_g)
        err = mass_g - k * w
        return k, err / s, float(self._likelihood(err, s))

    def _unknown_density(self, product_id: str) -> float:
        return self.cfg.unknown_prior / self.weights[self._index[product_id]]

    # ------------------------------------------------------------------ memory
    def _expire(self, q: deque | None, t: float) -> int:
        if not q:
            return 0
        while q and t - q[0][0] > self.cfg.recent_pick_memory_s:
            q.popleft()
        return len(q)

    def outstanding(self, product_id: str, t: float) -> int:
        """Recent picks of a product not yet put back (within ``recent_pick_memory_s``)."""
        return self._expire(self.recent.get(product_id), t)

    def _recency(self, q: deque | None, t: float, xy: tuple[float, float] | None) -> float:
        if not self._expire(q, t):
            return 0.0
        a = np.asarray(q, float)
        age = np.maximum(t - a[:, 0], 0.0)
        w = np.exp(-age / self.cfg.recent_pick_tau_s)
        if xy is not None:
            dist = np.hypot(a[:, 1] - xy[0], a[:, 2] - xy[1])
            far = dist > self.cfg.max_walk_speed_mps * age + self.cfg.walk_margin_m
            w = np.where(far, w * self.cfg.unreachable_weight, w)
        return float(w.sum())

    def prior(self, product_id: str, t: float, items: int = 1, xy: tuple[float, float] | None = None) -> float:
        """Prior odds of ``items`` of a product coming back at ``xy`` (0 when fewer are outstanding)."""
        n = self.outstanding(product_id, t)
        if n < items:
            return 0.0 if items > 1 else 1.0
        return 1.0 + self.cfg.recent_pick_prior * self._recency(self.recent[product_id], t, xy)

    def own_prior(self, product_id: str, lane_key: object, t: float, items: int = 1,
                  xy: tuple[float, float] | None = None) -> float:
        """Prior odds of ``items`` of the lane's own product coming back onto the lane ``lane_key``."""
        cfg = self.cfg
        return (max(cfg.own_lane_prior, self.prior(product_id, t, items, xy))
                + cfg.same_lane_prior * self._recency(self.lane_picks.get(lane_key), t, None))

    def note(self, ident: Identification, t: float, lane_key: object = None,
             xy: tuple[float, float] = (math.nan, math.nan)) -> None:
        """Update the recent-picks memory (per product and per lane) with an identified event at ``xy``."""
        if not ident.product_id or ident.quantity == 0:
            return
        q = self.recent.setdefault(ident.product_id, deque())
        lq = self.lane_picks.setdefault(lane_key, deque()) if lane_key is not None else deque()
        rec = (t, float(xy[0]), float(xy[1]))
        if ident.quantity > 0:
            q.extend([rec] * ident.quantity)
            if ident.kind == 'pick':
                lq.extend([rec] * ident.quantity)
        else:
            for _ in range(min(-ident.quantity, len(q))):
                q.pop()
            if ident.kind == 'put_back':
                for _ in range(min(-ident.quantity, len(lq))):
                    lq.pop()

    # ------------------------------------------------------------------ decision
    def identify(self, lane_product_id: str, delta_g: float, sigma_g: float, t: float,
                 extra_on_lane: Mapping[str, int] | None = None, lane_key: object = None,
                 xy: tuple[float, float] | None = None) -> Identification:
        """Identify a settled change ``delta_g`` (negative: taken) on a lane of ``lane_product_id``.

        ``extra_on_lane``: products misplaced on this lane earlier and their counts; ``lane_key``: the
        lane (for the picks-from-this-lane memory); ``xy``: its floor position [m] (walkability).
        """
        cfg = self.cfg
        mass = abs(delta_g)
        unknown = self._unknown_density(lane_product_id)
        k, z, lik = self.fit(lane_product_id, mass, sigma_g)
        fits = abs(z) <= cfg.accept_sigma
        if delta_g < 0:
            if fits:
                return Identification('pick', lane_product_id, k, lik / (lik + unknown), FLAG_NONE, z,
                                      ((lane_product_id, k, 1.0),))
            cands = []
            for pid, count in (extra_on_lane or {}).items():
                if count <= 0 or pid not in self._index:
                    continue
                kk, zz, ll = self.fit(pid, mass, sigma_g, max_items=count)
                if abs(zz) <= cfg.accept_sigma:
                    cands.append((ll, pid, kk, zz))
            if cands:
                return self._choose(cands, unknown, 'misplaced_pick', 1, FLAG_NONE)
            return Identification('unknown', '', k, 0.0, FLAG_UNKNOWN, z)
        cands = self._misplaced_candidates(lane_product_id, mass, sigma_g, t, xy)
        if fits:
            own = self.own_prior(lane_product_id, lane_key, t, k, xy)
            cands.append((own * lik, lane_product_id, k, z))
        if not cands:
            return Identification('unknown', '', -k, 0.0, FLAG_UNKNOWN, z)
        best = max(cands, key=lambda c: c[0])
        if best[1] == lane_product_id:
            return self._choose(cands, unknown, 'put_back', -1, FLAG_NONE)
        return self._choose(cands, unknown, 'misplaced_put', -1, FLAG_MISPLACED)

    def _misplaced_candidates(self, lane_product_id: str, mass: float, sigma_g: float, t: float,
                              xy: tuple[float, float] | None) -> list[tuple[float, str, int, float]]:
        cfg = self.cfg
        out = []
        for q in range(1, cfg.misplaced_max_quantity + 1):
            s = np.sqrt(q * self.unit_sigma ** 2 + sigma_g ** 2)
            z = (mass - q * self.weights) / s
            ok = np.flatnonzero(np.abs(z) <= cfg.accept_sigma)
            for i in ok:
                pid = str(self.ids[i])
                if pid == lane_product_id:
                    continue
                prior = self.prior(pid, t, q, xy)
                if prior > 0.0:
                    out.append((prior * float(self._likelihood(z[i] * s[i], s[i])), pid, q, float(z[i])))
        return out

    def _choose(self, cands: list[tuple[float, str, int, float]], unknown: float, kind: str, sign: int,
                flags: int) -> Identification:
        cands.sort(key=lambda c: -c[0])
        total = sum(c[0] for c in cands) + unknown
        best = cands[0]
        post = tuple((pid, kk, score / total) for score, pid, kk, _ in cands[:5])
        return Identification(kind, best[1], sign * best[2], best[0] / total, flags, best[3], post)
