"""The shelf pipeline of a whole store: controller samples in, shelf events and alerts out.

One :class:`~.detector.CellBlockDetector` per shelf controller (the layout's shelf units), one
:class:`~.identify.ProductIdentifier` for the store (its recent-picks memory is store-wide), and the
bookkeeping the alerts need (products misplaced on each lane, fault episodes, silent controllers).
No ROS: :class:`ShelfEventRecord` and :class:`AlertRecord` are turned into messages by the node.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from walkout_core.layout import Layout

from .config import ShelfEventConfig
from .detector import Change, CellBlockDetector, FaultEvent
from .identify import FLAG_MULTI_LANE, FLAG_SENSOR_FAULT, Identification, ProductIdentifier
from .protocol import STATUS_NO_DATA

__all__ = ['ShelfEventRecord', 'AlertRecord', 'InputError', 'ShelfPipeline']


class InputError(ValueError):
    """A sample the pipeline cannot use. ``key`` names the problem for diagnostics counters."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class ShelfEventRecord:
    event_id: str
    shelf_id: str
    lane: int
    product_id: str
    planogram_product_id: str
    quantity: int                     # [items] > 0 taken, < 0 put on the shelf
    weight_change_g: float            # [g]
    confidence: float                 # [0..1]
    flags: int                        # FLAG_* mask
    lane_position: tuple[float, float, float]  # [m]
    start_t: float                    # [s] header.stamp: the weight started to change
    settled_t: float                  # [s]
    decided_t: float                  # [s]
    kind: str = ''                    # pick | put_back | misplaced_put | misplaced_pick | unknown


@dataclass(frozen=True)
class AlertRecord:
    alert_id: str
    kind: str                         # MISPLACED_PRODUCT | UNKNOWN_WEIGHT_CHANGE | SENSOR_FAULT
    state: str                        # OPEN | RESOLVED
    message: str
    shelf_id: str
    lane: int                         # -1: the whole controller
    location: tuple[float, float, float]  # [m]
    stamp_t: float                    # [s] time of the evidence
    product_ids: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    evidence_start_t: float = 0.0
    evidence_end_t: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def evidence_json(self) -> str:
        return json.dumps(self.evidence, sort_keys=True)


@dataclass
class _Block:
    controller_id: str
    shelf_ids: list[str]
    lanes: np.ndarray
    positions: np.ndarray             # (n, 3)
    planogram: list[str]
    detector: CellBlockDetector
    shelf_pos: dict[str, tuple[int, int]]   # shelf id -> first cell index, lane count
    last_t: float | None = None
    silent_alert: str = ''
    perms: dict[tuple, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


class ShelfPipeline:
    """Store-wide shelf event detection and identification."""

    def __init__(self, layout: Layout, cfg: ShelfEventConfig):
        self.layout = layout
        self.cfg = cfg
        self.counters: Counter[str] = Counter()
        self.identifier = ProductIdentifier(layout.catalogue, cfg)
        self.blocks: dict[str, _Block] = {}
        self.lane_home: dict[str, list[tuple[str, int]]] = {}
        for cid, shelves in layout.controllers().items():
            sids, lanes, pos, plan, sig, cap, spos = [], [], [], [], [], [], {}
            for s in shelves:
                spos[s.id] = (len(sids), len(s.lanes))
                for ln in s.lanes:
                    sids.append(s.id)
                    lanes.append(ln.index)
                    pos.append(s.lane_position(ln.index))
                    plan.append(ln.product_id)
                    sig.append(s.accuracy_g)
                    cap.append(s.capacity_kg * 1000.0)
                    self.lane_home.setdefault(ln.product_id, []).append((s.id, ln.index))
            self.blocks[cid] = _Block(cid, sids, np.asarray(lanes, np.int64), np.asarray(pos, float), plan,
                                      CellBlockDetector(np.asarray(sig), np.asarray(cap), cfg), spos)
        self._n_events = 0
        self._n_alerts = 0
        self._last_silence_check = -math.inf
        # (shelf, lane) -> {product: count} misplaced there; (shelf, lane, product) -> open alert id
        self.misplaced: dict[tuple[str, int], Counter[str]] = {}
        self._misplaced_alerts: dict[tuple[str, int, str], list[AlertRecord]] = {}
        self._fault_alerts: dict[tuple[str, int], AlertRecord] = {}
        self._recent_changes: dict[tuple[str, int], float] = {}

    # ------------------------------------------------------------------ config
    def set_config(self, cfg: ShelfEventConfig) -> None:
        if cfg.layout != self.cfg.layout:
            raise ValueError(f"parameter 'layout': {cfg.layout!r}: the layout cannot change while running")
        self.cfg = cfg
        self.identifier.set_config(cfg)
        for b in self.blocks.values():
            b.detector.set_config(cfg)

    def stats(self) -> dict[str, int]:
        """Pipeline and detector counters (events by kind, faults, transients, unsettled changes)."""
        out = dict(self.counters)
        for b in self.blocks.values():
            for k, v in b.detector.counters.items():
                out[k] = out.get(k, 0) + v
        return out

    # ------------------------------------------------------------------ input
    def _arrange(self, b: _Block, weights: np.ndarray, status: np.ndarray | None,
                 shelf_ids: Sequence[str] | None, lanes: Sequence[int] | None
                 ) -> tuple[np.ndarray, np.ndarray | None]:
        n = len(b.shelf_ids)
        if shelf_ids is None or lanes is None:
            if weights.size != n:
                raise InputError('cell_count', f'controller {b.controller_id!r}: {weights.size} readings, '
                                               f'the layout has {n} cells')
            return weights, status
        if len(shelf_ids) != weights.size or len(lanes) != weights.size or (
                status is not None and status.size != weights.size):
            raise InputError('malformed', f'controller {b.controller_id!r}: shelf_ids, lanes, weights_g and '
                                          f'status lengths differ ({len(shelf_ids)}, {len(lanes)}, '
                                          f'{weights.size}, {None if status is None else status.size})')
        if weights.size == n and np.array_equal(np.asarray(lanes), b.lanes) and list(shelf_ids) == b.shelf_ids:
            return weights, status
        key = (tuple(shelf_ids), tuple(int(v) for v in lanes))
        perm = b.perms.get(key)
        if perm is None:
            where = {(s, int(ln)): i for i, (s, ln) in enumerate(zip(b.shelf_ids, b.lanes))}
            src, dst = [], []
            for j, cell in enumerate(zip(key[0], key[1])):
                i = where.get(cell)
                if i is not None:
                    src.append(j)
                    dst.append(i)
            if not src:
                raise InputError('unknown_cells', f'controller {b.controller_id!r}: none of the cells '
                                                  f'{list(zip(key[0], key[1]))[:4]}... is in the layout')
            perm = b.perms[key] = (np.asarray(src), np.asarray(dst))
            if len(src) != weights.size or len(src) != n:
                self.counters['cell_mismatch_layouts'] += 1
        src, dst = perm
        w = np.full(n, np.nan, np.float32)
        st = np.full(n, STATUS_NO_DATA, np.uint8)
        w[dst] = weights[src]
        st[dst] = 0 if status is None else status[src]
        return w, st

    def update(self, controller_id: str, t: float, weights_g: Sequence[float] | np.ndarray,
               status: Sequence[int] | np.ndarray | None = None, shelf_ids: Sequence[str] | None = None,
               lanes: Sequence[int] | None = None) -> tuple[list[ShelfEventRecord], list[AlertRecord]]:
        """One controller sample at stamp ``t`` [s]. Raises :class:`InputError` for unusable input."""
        b = self.blocks.get(controller_id)
        if b is None:
            raise InputError('unknown_controller', f'controller {controller_id!r} is not in layout '
                                                   f'{self.layout.name!r}')
        if not math.isfinite(t):
            raise InputError('bad_stamp', f'controller {controller_id!r}: stamp {t!r} is not finite')
        if b.last_t is not None and t <= b.last_t:
            raise InputError('out_of_order', f'controller {controller_id!r}: stamp {t:.3f} s is not after '
                                             f'the previous one {b.last_t:.3f} s')
        w = np.asarray(weights_g, dtype=np.float32)
        st = None if status is None else np.asarray(status, dtype=np.uint8)
        w, st = self._arrange(b, w, st, shelf_ids, lanes)
        self.counters['samples'] += 1
        b.last_t = t
        alerts: list[AlertRecord] = []
        if b.silent_alert:
            alerts.append(self._resolve(self._fault_alerts.pop((controller_id, -1)), t,
                                        'the controller reports again'))
            b.silent_alert = ''
        changes, faults = b.detector.update(t, w, st)
        for f in faults:
            alerts.extend(self._on_fault(b, f))
        events = []
        for ch in changes:
            ev, al = self._on_change(b, ch)
            events.append(ev)
            alerts.extend(al)
        if t - self._last_silence_check >= self.cfg.controller_timeout_s / 4.0:
            self._last_silence_check = t
            alerts.extend(self._check_silent(t))
        return events, alerts

    # ------------------------------------------------------------------ helpers
    def _alert_id(self) -> str:
        self._n_alerts += 1
        return f'shelf-alert-{self._n_alerts:06d}'

    @staticmethod
    def _resolve(a: AlertRecord, t: float, why: str) -> AlertRecord:
        return AlertRecord(a.alert_id, a.kind, 'RESOLVED', f'Resolved at {t:.1f} s: {why}. Was: {a.message}',
                           a.shelf_id, a.lane, a.location, t, a.product_ids, a.event_ids, a.evidence_start_t, t,
                           a.evidence)

    def _on_fault(self, b: _Block, f: FaultEvent) -> list[AlertRecord]:
        sid, lane = b.shelf_ids[f.cell], int(b.lanes[f.cell])
        key = (sid, lane)
        if not f.start:
            a = self._fault_alerts.pop(key, None)
            return [self._resolve(a, f.t, 'the load cell reads normally again')] if a else []
        self.counters['sensor_faults'] += 1
        a = AlertRecord(self._alert_id(), 'SENSOR_FAULT', 'OPEN',
                        f'Load cell of shelf {sid} lane {lane} (controller {b.controller_id}) is faulty: '
                        f'{f.reason}. Its events are low-confidence until it recovers.',
                        sid, lane, tuple(b.positions[f.cell]), f.t, (b.planogram[f.cell],), (), f.t, f.t,
                        {'controller_id': b.controller_id, 'reason': f.reason})
        self._fault_alerts[key] = a
        return [a]

    def _check_silent(self, t: float) -> list[AlertRecord]:
        out = []
        for b in self.blocks.values():
            if b.last_t is None or b.silent_alert or t - b.last_t < self.cfg.controller_timeout_s:
                continue
            d = b.detector
            d.in_fault[:] = True
            d.fault_last_t[:] = t
            d.taint[:] = True
            self.counters['silent_controllers'] += 1
            a = AlertRecord(self._alert_id(), 'SENSOR_FAULT', 'OPEN',
                            f'Shelf controller {b.controller_id} (shelves {", ".join(b.shelf_pos)}) has sent '
                            f'nothing since {b.last_t:.1f} s while others report.',
                            b.shelf_ids[0], -1, tuple(b.positions.mean(axis=0)), t, (), (), b.last_t, t,
                            {'controller_id': b.controller_id, 'reason': 'silent'})
            b.silent_alert = a.alert_id
            self._fault_alerts[(b.controller_id, -1)] = a
            out.append(a)
        return out

    def _multi_lane(self, b: _Block, ch: Change) -> bool:
        sid, lane = b.shelf_ids[ch.cell], int(b.lanes[ch.cell])
        first, count = b.shelf_pos[sid]
        win = self.cfg.multi_lane_window_s
        multi = False
        for nl in (lane - 1, lane + 1):
            if not 0 <= nl < count:
                continue
            j = first + nl
            if b.detector.active[j] and b.detector.start_t[j] <= ch.settled_t + win:
                multi = True
            last = self._recent_changes.get((sid, nl))
            if last is not None and abs(last - ch.start_t) <= win:
                multi = True
        self._recent_changes[(sid, lane)] = ch.start_t
        return multi

    def _on_change(self, b: _Block, ch: Change) -> tuple[ShelfEventRecord, list[AlertRecord]]:
        cfg = self.cfg
        sid, lane = b.shelf_ids[ch.cell], int(b.lanes[ch.cell])
        plan = b.planogram[ch.cell]
        extra = self.misplaced.get((sid, lane))
        xy = (float(b.positions[ch.cell, 0]), float(b.positions[ch.cell, 1]))
        ident = self.identifier.identify(plan, ch.delta_g, ch.sigma_delta_g, ch.start_t, extra, (sid, lane), xy)
        self.identifier.note(ident, ch.start_t, (sid, lane), xy)
        flags = ident.flags
        conf = ident.confidence
        if ch.fault:
            flags |= FLAG_SENSOR_FAULT
            conf *= cfg.fault_confidence_scale
        if self._multi_lane(b, ch):
            flags |= FLAG_MULTI_LANE
        self._n_events += 1
        pos = tuple(float(v) for v in b.positions[ch.cell])
        ev = ShelfEventRecord(f'shelf-{self._n_events:06d}-{sid}-{lane}', sid, lane, ident.product_id, plan,
                              ident.quantity, ch.delta_g, float(conf), flags, pos, ch.start_t, ch.settled_t,
                              ch.decided_t, ident.kind)
        self.counters[f'events_{ident.kind}'] += 1
        alerts = []
        evidence = {'weight_change_g': round(ch.delta_g, 1), 'level_g': round(ch.level_g, 1),
                    'fit_z': round(ident.z, 2),
                    'candidates': [[p, q, round(s, 3)] for p, q, s in ident.candidates]}
        if ident.kind == 'misplaced_put':
            alerts.append(self._misplaced_alert(sid, lane, pos, plan, ident, ev, evidence))
        elif ident.kind == 'misplaced_pick':
            alerts.extend(self._misplaced_taken(sid, lane, ident, ch.start_t))
        elif ident.kind == 'unknown':
            alerts.append(AlertRecord(
                self._alert_id(), 'UNKNOWN_WEIGHT_CHANGE', 'OPEN',
                f'Shelf {sid} lane {lane} (planogram {plan}) changed by {ch.delta_g:+.0f} g, which matches no '
                f'product: please check the lane.', sid, lane, pos, ch.start_t, (plan,), (ev.event_id,),
                ch.start_t, ch.decided_t, evidence))
        return ev, alerts

    def _misplaced_alert(self, sid: str, lane: int, pos: tuple, plan: str, ident: Identification,
                         ev: ShelfEventRecord, evidence: dict) -> AlertRecord:
        pid, n = ident.product_id, -ident.quantity
        homes = self.lane_home.get(pid, [])
        home = ', '.join(f'shelf {s} lane {ln}' for s, ln in homes) or 'the stock room (not on the planogram)'
        product = self.layout.catalogue[pid]
        a = AlertRecord(self._alert_id(), 'MISPLACED_PRODUCT', 'OPEN',
                        f'Move {n} x {pid} ({product.name}) from shelf {sid} lane {lane} (planogram {plan}) '
                        f'back to {home}.', sid, lane, pos, ev.start_t, (pid, plan), (ev.event_id,),
                        ev.start_t, ev.decided_t, {**evidence, 'home_lanes': [list(h) for h in homes],
                                                   'quantity': n})
        self.misplaced.setdefault((sid, lane), Counter())[pid] += n
        self._misplaced_alerts.setdefault((sid, lane, pid), []).append(a)
        return a

    def _misplaced_taken(self, sid: str, lane: int, ident: Identification, t: float) -> list[AlertRecord]:
        pid, n = ident.product_id, ident.quantity
        c = self.misplaced.get((sid, lane))
        if c is not None:
            c[pid] = max(0, c[pid] - n)
        out, taken = [], 0
        open_alerts = self._misplaced_alerts.get((sid, lane, pid), [])
        while open_alerts and taken < n:
            a = open_alerts.pop(0)
            taken += int(a.evidence.get('quantity', 1))
            out.append(self._resolve(a, t, f'{pid} was taken from the lane'))
        return out
