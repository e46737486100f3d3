"""The simulated store: people, their behaviour, path planning around shelves, the lanes' items.

The world advances in fixed ticks of ``dt`` seconds. Each person runs a small coroutine
(a generator that yields once per tick) built from its :class:`~.scenario.PersonSpec` plan:
enter through a gate, walk (grid A* around the shelves, waiting for people in the way),
stand ~0.45 m in front of a lane, reach (hand out 0.4 s, hold, retract 0.4 s), take or put
items, hand an item to a companion, pay in a checkout zone, leave.

Every change of a lane's load is reported as a :class:`LaneAction` (consumed by the load-cell
model) and every true event as a :class:`TruthEventRec` (written to ``/truth/events``).
"""
from __future__ import annotations

import heapq
import logging
import math
from dataclasses import dataclass, field
from typing import Callable, Iterator

import cv2
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from walkout_core.layout import Layout
from walkout_core.sim.scenario import PersonSpec, Scenario, Step

__all__ = ['Item', 'LaneAction', 'TruthEventRec', 'Person', 'Planner', 'World',
           'KIND_PICK', 'KIND_PUT_BACK', 'KIND_PUT_MISPLACED', 'KIND_HANDOVER', 'KIND_RESTOCK',
           'KIND_CHECKOUT', 'KIND_EXIT']

log = logging.getLogger(__name__)

# TruthEvent kinds (walkout_msgs/msg/TruthEvent constants)
KIND_PICK, KIND_PUT_BACK, KIND_PUT_MISPLACED, KIND_HANDOVER, KIND_RESTOCK, KIND_CHECKOUT, KIND_EXIT = range(7)

STAND_OFF_M = 0.45        # [m] body centre in front of the lane front edge
REACH_OUT_S = 0.4         # [s] hand moving out
REACH_HOLD_S = 0.6        # [s] hand at the lane
REACH_BACK_S = 0.4        # [s] hand moving back
LIFT_AFTER_TOUCH_S = 0.3  # [s] the item leaves (or lands on) the lane this long after the touch
SETTLE_S = 0.8            # [s] the lane weight settles this long after the last load step
HANDOVER_HOLD_S = 1.3     # [s] both hands at the meeting point
HANDOVER_CLEAR_M = 1.15   # [m] meeting point distance from any shelf footprint (>= 0.8 m + margin)
HANDOVER_GAP_M = 0.36     # [m] each body from the meeting point
HANDOVER_TAKE_DELAY_S = 0.3  # [s] the receiver reaches this long after the giver holds the item out
WAIT_GIVE_UP_S = 3.0      # [s] a walker blocked this long walks on (squeezes past)
DETOUR_EXTRA_M = 2.0      # [m] a detour may be at most this much (+50 %) longer than the straight line
DETOUR_RETRY_S = 1.5      # [s] between two detour searches of one walker
DETOUR_MAX_NODES = 1500   # [cells] a detour search gives up after expanding this many cells
DETOUR_AFTER_S = 0.6      # [s] a walker blocked this long plans a detour around the people in the way
RENDEZVOUS_TIMEOUT_S = 90.0  # [s]
CLEARANCE_M = 0.22        # [m] planner: body centre distance from shelves
GRID_RES_M = 0.1          # [m]
GATE_CLEAR_M = 0.6        # [m] a person enters only when nobody is this close to the gate spot
STAND_SHIFTS_M = (0.0, 0.25, -0.25, 0.45, -0.45, 0.65, -0.65)  # [m] along the shelf if the spot is taken
QUEUE_GAP_M = 0.55        # [m] spacing of people waiting for a checkout zone
QUEUE_SLOTS = 6           # [-] waiting spots per zone (more wait where they are)
QUEUE_RADIUS_M = 2.5      # [m] waiting spots lie within this distance of the zone centre
COMFORT_M = 0.4           # [m] planner: preferred body centre distance from shelves


@dataclass
class Item:
    uid: int
    product_id: str
    weight_g: float


@dataclass
class LaneAction:
    """A change of one lane's load: a hand touch (press) and load steps [(t, delta_g)]."""

    key: tuple[str, int]
    t_touch: float
    steps: list[tuple[float, float]]


@dataclass
class TruthEventRec:
    stamp: float
    settled: float
    kind: int
    person_id: int
    counterpart_id: int = 0
    shelf_id: str = ''
    lane: int = -1
    product_id: str = ''
    quantity: int = 0
    weight_change_g: float = 0.0
    event_id: str = ''


@dataclass
class Person:
    id: int
    staff: bool
    radius: float
    speed: float
    colour: tuple[int, int, int]       # BGR clothing
    hair: tuple[int, int, int]         # BGR head
    pos: np.ndarray
    heading: float = math.pi / 2
    inside: bool = True
    hand: np.ndarray | None = None     # reach point (x, y) when reaching
    hand_z: float = 1.0
    hand_item: str = ''                # product held in the reaching hand ('' = empty hand), drawn at the hand
    basket: list[Item] = field(default_factory=list)
    paid: bool = False
    spec: PersonSpec | None = None
    spot: np.ndarray | None = None     # where the person stands (or will stand) at a lane
    proc: Iterator[None] | None = None

    @property
    def reaching(self) -> bool:
        return self.hand is not None


# --------------------------------------------------------------------------- planner
class Planner:
    """8-connected grid A* on the floor, shelves inflated by the body clearance."""

    def __init__(self, layout: Layout, res: float = GRID_RES_M, clearance: float = CLEARANCE_M):
        self.layout = layout
        self.res = res
        x0, y0, x1, y1 = layout.floor.bounds
        self.origin = np.array([x0, y0])
        self.shape = (int(math.ceil((y1 - y0) / res)), int(math.ceil((x1 - x0) / res)))  # rows=y, cols=x
        h, w = self.shape
        cy, cx = np.mgrid[0:h, 0:w]
        centres = np.stack([(cx.ravel() + 0.5) * res + x0, (cy.ravel() + 0.5) * res + y0], axis=1)
        inside = np.asarray(layout.floor.contains(centres)).reshape(h, w)
        shelf_img = np.full((h, w), 255, np.uint8)
        for s in layout.shelves:
            pts = ((s.footprint.array - self.origin) / res).astype(np.float32)
            cv2.fillPoly(shelf_img, [np.round(pts * 16).astype(np.int32)], 0, lineType=cv2.LINE_8, shift=4)
        self.shelf_dist = cv2.distanceTransform(shelf_img, cv2.DIST_L2, 5) * res   # [m] to nearest shelf
        wall_img = np.pad(inside.astype(np.uint8) * 255, 1)
        self.wall_dist = cv2.distanceTransform(wall_img, cv2.DIST_L2, 5)[1:-1, 1:-1] * res
        self.free = inside & (self.shelf_dist > clearance) & (self.wall_dist > 0.1)
        # paths keep some room from shelves where they can (so people can pass each other)
        self.comfort = self.free & (self.shelf_dist > COMFORT_M)
        self.penalty = np.clip(COMFORT_M + 0.1 - self.shelf_dist, 0.0, None) * 20.0
        self.zone_mask = np.zeros((h, w), bool)
        for poly in [z.polygon for z in layout.checkout_zones] + [g.polygon for g in layout.gates]:
            self.zone_mask |= np.asarray(poly.contains(centres)).reshape(h, w)
        self._max_cell = np.array([self.shape[1] - 1, self.shape[0] - 1])
        self.zone_dist = cv2.distanceTransform((~self.zone_mask).astype(np.uint8) * 255, cv2.DIST_L2, 5) * res
        self._fields: dict[tuple[int, int], np.ndarray] = {}
        self._graph = None

    def cell(self, xy: np.ndarray) -> tuple[int, int]:
        c = np.floor((np.asarray(xy[:2], float) - self.origin) / self.res).astype(int)
        return (int(np.clip(c[1], 0, self.shape[0] - 1)), int(np.clip(c[0], 0, self.shape[1] - 1)))

    def centre(self, cell: tuple[int, int]) -> np.ndarray:
        return self.origin + (np.array([cell[1], cell[0]]) + 0.5) * self.res

    def nearest_free(self, cell: tuple[int, int]) -> tuple[int, int]:
        if self.free[cell]:
            return cell
        rr, cc = np.nonzero(self.free)
        k = int(np.argmin((rr - cell[0]) ** 2 + (cc - cell[1]) ** 2))
        return int(rr[k]), int(cc[k])

    def reachable(self, xy: np.ndarray) -> np.ndarray:
        """``xy`` if a body can stand there, else the centre of the nearest free cell."""
        xy = np.asarray(xy[:2], float)
        c = self.cell(xy)
        return xy if self.free[c] else self.centre(self.nearest_free(c))

    def line_free(self, a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None,
                  free: np.ndarray | None = None) -> bool:
        d = b - a
        n = max(2, int(math.hypot(d[0], d[1]) / (self.res * 0.5)) + 1)
        pts = a[None, :] + d[None, :] * (np.arange(n) / (n - 1))[:, None]
        c = np.floor((pts - self.origin) / self.res).astype(int)
        np.clip(c, 0, self._max_cell, out=c)
        m = self.free if mask is None else mask
        inner = c[1:-1] if len(c) > 4 else c
        f = self.free if free is None else free
        return bool(m[inner[:, 1], inner[:, 0]].all()) and bool(f[c[:, 1], c[:, 0]].all())

    def path(self, a: np.ndarray, b: np.ndarray, avoid: list[tuple[np.ndarray, float]] | None = None
             ) -> list[np.ndarray] | None:
        """Waypoints from ``a`` to ``b`` (b exactly last), never through shelves.

        ``avoid``: discs (centre, radius) to keep out of as well (people in the way); then the
        result is not cached and is None when there is no such path.
        """
        a, b = np.asarray(a[:2], float), np.asarray(b[:2], float)
        ca, cb = self.nearest_free(self.cell(a)), self.nearest_free(self.cell(b))
        free, comfort = self.free, self.comfort
        if avoid:
            blocked = np.zeros(self.shape, np.uint8)
            for centre, radius in avoid:
                c = (np.asarray(centre) - self.origin) / self.res
                cv2.circle(blocked, (int(round(c[0] - 0.5)), int(round(c[1] - 0.5))),
                           int(math.ceil(radius / self.res)), 1, -1)
            blocked[ca] = blocked[cb] = 0
            free = self.free & (blocked == 0)
            comfort = self.comfort & free
            cells = self._astar(ca, cb, free, max_nodes=DETOUR_MAX_NODES)
            if cells is None:
                return None
        else:
            cells = self._descend(ca, cb)
            if cells is None:
                log.warning('no path from %s to %s: walking straight', np.round(a, 2), np.round(b, 2))
                cells = [cb]
        pts = [self.centre(c) for c in cells]
        # string pulling from the true start: go as far along the cell path as a straight line allows
        out: list[np.ndarray] = []
        cur = a
        i = 0
        while i < len(pts):
            j = i
            while j + 1 < len(pts) and self.line_free(cur, pts[j + 1], comfort, free):
                j += 1
            out.append(pts[j])
            cur = pts[j]
            i = j + 1
        out.append(b)
        return out

    def _field(self, goal: tuple[int, int]) -> np.ndarray:
        """Path cost from every free cell to ``goal`` (Dijkstra on the static grid), cached per goal."""
        f = self._fields.get(goal)
        if f is None:
            if self._graph is None:
                self._graph = self._grid_graph()
            h, w = self.shape
            f = dijkstra(self._graph, directed=True, indices=goal[0] * w + goal[1]).reshape(h, w)
            if len(self._fields) > 4000:
                self._fields.clear()
            self._fields[goal] = f
        return f

    def _grid_graph(self):
        """8-connected graph of the free cells, edge cost = length x (1 + penalty of the cell entered),
        stored reversed (edge b -> a) so one Dijkstra from the goal gives the cost of reaching it."""
        h, w = self.shape
        idx = np.arange(h * w).reshape(h, w)
        rows, cols, cost = [], [], []
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)):
            r0, r1 = max(0, -dr), h - max(0, dr)
            c0, c1 = max(0, -dc), w - max(0, dc)
            src = (slice(r0, r1), slice(c0, c1))
            dst = (slice(r0 + dr, r1 + dr), slice(c0 + dc, c1 + dc))
            ok = self.free[src] & self.free[dst]
            if dr and dc:   # no corner cutting
                ok &= self.free[r0 + dr:r1 + dr, c0:c1] & self.free[r0:r1, c0 + dc:c1 + dc]
            length = math.hypot(dr, dc)
            rows.append(idx[dst][ok])
            cols.append(idx[src][ok])
            cost.append(length * (1.0 + self.penalty[dst][ok]))
        return csr_matrix((np.concatenate(cost), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(h * w, h * w))

    def _descend(self, a: tuple[int, int], b: tuple[int, int]) -> list[tuple[int, int]] | None:
        """Cells from ``a`` to ``b`` following the cost field of ``b`` downhill."""
        f = self._field(b)
        if not np.isfinite(f[a]):
            return None
        h, w = self.shape
        out = [a]
        cur = a
        while cur != b:
            best, best_v = None, f[cur]
            for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)):
                nb = (cur[0] + dr, cur[1] + dc)
                if 0 <= nb[0] < h and 0 <= nb[1] < w and f[nb] < best_v:
                    if dr and dc and not (self.free[cur[0] + dr, cur[1]] and self.free[cur[0], cur[1] + dc]):
                        continue
                    best, best_v = nb, f[nb]
            if best is None:
                return None
            out.append(best)
            cur = best
        return out

    def _astar(self, a: tuple[int, int], b: tuple[int, int], free: np.ndarray,
               max_nodes: int | None = None) -> list[tuple[int, int]] | None:
        h, w = self.shape
        moves = [(-1, 0, 1.0), (1, 0, 1.0), (0, -1, 1.0), (0, 1, 1.0),
                 (-1, -1, 1.4142), (-1, 1, 1.4142), (1, -1, 1.4142), (1, 1, 1.4142)]
        g = {a: 0.0}
        came: dict[tuple[int, int], tuple[int, int]] = {}
        heap = [(0.0, 0, a)]
        n = 0
        closed = set()
        while heap:
            _, _, cur = heapq.heappop(heap)
            if cur == b:
                break
            if cur in closed:
                continue
            closed.add(cur)
            if max_nodes is not None and len(closed) > max_nodes:
                return None
            for dr, dc, cost in moves:
                nb = (cur[0] + dr, cur[1] + dc)
                if not (0 <= nb[0] < h and 0 <= nb[1] < w) or not free[nb]:
                    continue
                if dr and dc and not (free[cur[0] + dr, cur[1]] and free[cur[0], cur[1] + dc]):
                    continue
                ng = g[cur] + cost * (1.0 + self.penalty[nb])
                if ng < g.get(nb, math.inf):
                    g[nb] = ng
                    came[nb] = cur
                    n += 1
                    heapq.heappush(heap, (ng + math.hypot(nb[0] - b[0], nb[1] - b[1]), n, nb))
        if b not in came and b != a:
            return None
        out = [b]
        while out[-1] != a:
            out.append(came[out[-1]])
        return out[::-1]

    def meeting_point(self, near: np.ndarray, min_clear: float = HANDOVER_CLEAR_M) -> np.ndarray:
        """Free point far from shelves (and outside gates/checkout zones) nearest to ``near``."""
        ok = self.free & (self.shelf_dist >= min_clear) & (self.wall_dist >= 0.6) & ~self.zone_mask
        if not ok.any():
            ok = self.free & (self.shelf_dist >= self.shelf_dist[self.free].max() * 0.9)
        rr, cc = np.nonzero(ok)
        c = self.cell(near)
        k = int(np.argmin((rr - c[0]) ** 2 + (cc - c[1]) ** 2))
        return self.centre((int(rr[k]), int(cc[k])))


# --------------------------------------------------------------------------- world
def _hsv_bgr(h: float, s: float, v: float) -> tuple[int, int, int]:
    px = cv2.cvtColor(np.uint8([[[int(h * 179) % 180, int(s * 255), int(v * 255)]]]), cv2.COLOR_HSV2BGR)
    return tuple(int(x) for x in px[0, 0])


class World:
    """People, lanes and events. ``step(t)`` advances everything by one tick."""

    def __init__(self, scn: Scenario, persons: tuple[PersonSpec, ...], rng: np.random.Generator, dt: float):
        self.scn = scn
        self.layout = scn.layout
        self.rng = rng
        self.dt = dt
        self.t = 0.0
        self.planner = Planner(self.layout)
        self._uid = 0
        self.lanes: dict[tuple[str, int], list[Item]] = {}
        for s in self.layout.shelves:
            for ln in s.lanes:
                prod = self.layout.product(ln.product_id)
                self.lanes[(s.id, ln.index)] = [self._new_item(prod.id) for _ in range(ln.initial_stock)]
        self.pending = list(persons)            # sorted by enter_s
        self.people: dict[int, Person] = {}     # everyone who entered (inside or gone)
        self.lane_actions: list[LaneAction] = []
        self.events: list[TruthEventRec] = []
        self.card_taps: list[tuple[float, str]] = []   # (t [s], checkout zone): the terminals' card readers
        self.stock_changed: set[tuple[str, int]] = set()
        self._rdv: dict[tuple[int, int], dict] = {}
        self._detour_path: list[np.ndarray] | None = None
        self._queues: dict[str, list[int]] = {z.id: [] for z in self.layout.checkout_zones}
        self._slots: dict[str, list[np.ndarray]] = {}

    # -- items
    def _new_item(self, product_id: str) -> Item:
        prod = self.layout.product(product_id)
        self._uid += 1
        w = prod.unit_weight_g + float(np.clip(self.rng.normal(0.0, prod.tolerance_g / 2.0),
                                                -prod.tolerance_g, prod.tolerance_g))
        return Item(self._uid, product_id, w)

    # -- ticking
    def inside(self) -> list[Person]:
        return [p for p in self.people.values() if p.inside]

    def step(self, t: float) -> None:
        self.t = t
        waiting = []
        while self.pending and self.pending[0].enter_s <= t + 1e-9:
            spec = self.pending.pop(0)
            if not self._spawn(spec):
                waiting.append(spec)            # the gate is crowded: enter a little later
        self.pending[:0] = waiting
        for p in list(self.people.values()):
            if p.inside and p.proc is not None:
                try:
                    next(p.proc)
                except StopIteration:
                    p.proc = None

    def _spawn(self, spec: PersonSpec) -> bool:
        rng = self.rng
        kind = 'staff' if spec.staff else 'entry'
        gates = self.layout.gates_of_kind(kind) or self.layout.gates_of_kind('entry')
        gate = gates[int(rng.integers(len(gates)))]
        pos = np.array(gate.polygon.centroid) + rng.uniform(-0.15, 0.15, 2)
        if any(float(np.linalg.norm(q.pos - pos)) < GATE_CLEAR_M for q in self.people.values() if q.inside):
            return False
        if spec.staff:
            colour = _hsv_bgr(0.58, 0.8, 0.45)     # dark blue uniform
        else:
            colour = _hsv_bgr(rng.random(), rng.uniform(0.3, 0.95), rng.uniform(0.35, 0.95))
        hair = _hsv_bgr(rng.uniform(0.02, 0.12), rng.uniform(0.3, 0.8), rng.uniform(0.1, 0.6))
        p = Person(id=spec.id, staff=spec.staff,
                   radius=spec.radius_m if spec.radius_m is not None else float(rng.uniform(0.18, 0.26)),
                   speed=spec.speed_mps if spec.speed_mps is not None else float(rng.uniform(0.8, 1.4)),
                   colour=colour, hair=hair, pos=pos, spec=spec)
        p.proc = self._life(p, spec)
        self.people[p.id] = p
        log.debug('t=%.2f person %d enters at %s', self.t, p.id, gate.id)
        return True

    def _event(self, rec: TruthEventRec) -> None:
        rec.event_id = f'{self.scn.name}-{len(self.events):05d}'
        self.events.append(rec)

    # -- behaviour
    def _life(self, p: Person, spec: PersonSpec) -> Iterator[None]:
        handlers: dict[str, Callable[[Person, Step], Iterator[None]]] = {
            'pick': self._pick, 'put_back': self._put_back, 'restock': self._restock,
            'handover': self._handover, 'receive': self._receive, 'wait': self._wait,
            'checkout': self._checkout_step}
        yield
        for step in spec.plan:
            yield from handlers[step.kind](p, step)
            p.spot = None
        if not spec.staff and not spec.skip_checkout and not p.paid:
            yield from self._checkout(p)
        gates = self.layout.gates_of_kind('staff' if spec.staff else 'exit') or self.layout.gates_of_kind('exit')
        gate = min(gates, key=lambda g: float(np.linalg.norm(np.array(g.polygon.centroid) - p.pos)))
        yield from self._walk(p, np.array(gate.polygon.centroid))
        self._event(TruthEventRec(self.t, self.t, KIND_EXIT, p.id))
        p.inside = False
        log.debug('t=%.2f person %d leaves (paid=%s, %d items)', self.t, p.id, p.paid, len(p.basket))

    def _ticks(self, seconds: float) -> int:
        return max(1, int(round(seconds / self.dt)))

    def _wait(self, p: Person, step: Step) -> Iterator[None]:
        for _ in range(self._ticks(step.seconds)):
            yield

    def _walk(self, p: Person, goal: np.ndarray) -> Iterator[None]:
        """Follow a planned path to ``goal``. Someone in the way: wait, step aside, after
        DETOUR_AFTER_S plan a detour around the people nearby, after WAIT_GIVE_UP_S squeeze past
        for a second (bodies may touch in a crush). Never cuts through a shelf."""
        goal = self.planner.reachable(goal)
        blocked = 0.0
        squeeze_until = next_detour = -1.0
        path = self.planner.path(p.pos, goal)
        while True:
            replan = False
            for wp in path:
                while not replan:
                    d = wp - p.pos
                    dist = float(np.linalg.norm(d))
                    if dist < 1e-6:
                        break
                    u = d / dist
                    if self.t >= squeeze_until and self._someone_ahead(p, u):
                        blocked += self.dt
                        if blocked >= WAIT_GIVE_UP_S:
                            squeeze_until, blocked = self.t + 1.0, 0.0
                        elif blocked >= DETOUR_AFTER_S and self.t >= next_detour:
                            next_detour = self.t + DETOUR_RETRY_S
                            if self._detour(p, goal):
                                replan = True
                                break
                        if self._step_aside(p, u) and not self.planner.line_free(p.pos, wp):
                            replan = True               # stepped off the straight line to the waypoint
                        yield
                        continue
                    blocked = max(0.0, blocked - 0.25 * self.dt)   # forget a blockage slowly (no livelock)
                    stepd = min(dist, p.speed * self.dt)
                    p.pos = p.pos + u * stepd
                    p.heading = math.atan2(u[1], u[0])
                    yield
                    if stepd >= dist:
                        break
                if replan:
                    break
            if not replan:
                return
            path = self._detour_path if self._detour_path is not None else self.planner.path(p.pos, goal)
            self._detour_path = None

    def _detour(self, p: Person, goal: np.ndarray) -> bool:
        """A path to ``goal`` around the people within 2 m (kept in ``_detour_path``), if any."""
        avoid = [(q.pos, q.radius + p.radius + 0.05) for q in self.people.values()
                 if q is not p and q.inside and float(np.linalg.norm(q.pos - p.pos)) < 2.0]
        if not avoid:
            return False
        path = self.planner.path(p.pos, goal, avoid=avoid)
        if path is None:
            return False
        length = sum(float(np.linalg.norm(b - a)) for a, b in zip([p.pos] + path[:-1], path, strict=True))
        if length > float(np.linalg.norm(goal - p.pos)) * 1.5 + DETOUR_EXTRA_M:
            return False                        # a long way round: rather wait
        self._detour_path = path
        return True

    def _step_aside(self, p: Person, u: np.ndarray) -> bool:
        """Blocked: step to the right (else left) if that is free and gets away from the others."""
        others = np.array([q.pos for q in self.people.values() if q is not p and q.inside])
        if not len(others):
            return False
        now = float(np.min(np.linalg.norm(others - p.pos, axis=1)))
        for side in (np.array([u[1], -u[0]]), np.array([-u[1], u[0]])):
            cand = p.pos + side * p.speed * self.dt * 0.7
            if self.planner.free[self.planner.cell(cand)] and \
                    float(np.min(np.linalg.norm(others - cand, axis=1))) > now:
                p.pos = cand
                return True
        return False

    def _someone_ahead(self, p: Person, u: np.ndarray) -> bool:
        """Someone close in front (a 120 degree cone) of a walker moving along ``u``."""
        for q in self.people.values():
            if q is p or not q.inside:
                continue
            d = q.pos - p.pos
            dist = float(np.hypot(d[0], d[1]))
            if dist < p.radius + q.radius + 0.12 and float(d @ u) > 0.5 * dist:
                return True
        return False

    def _stand_point(self, p: Person, shelf_id: str, lane: int, shift: bool = True) -> tuple[np.ndarray, float]:
        """Where to stand for a lane: in front of it, shifted along the shelf if someone stands there."""
        s = self.layout.shelf(shelf_id)
        base = s.lane_position(lane)[:2] + s.front_normal * STAND_OFF_M + s.axis * self.rng.uniform(-0.04, 0.04)
        spots = [q.spot if q.spot is not None else q.pos for q in self.people.values() if q is not p and q.inside]
        best = base
        for off in STAND_SHIFTS_M if shift else ():
            cand = base + s.axis * off
            if not self.planner.free[self.planner.cell(cand)]:
                continue
            if all(float(np.linalg.norm(cand - o)) >= 2 * p.radius + 0.08 for o in spots):
                best = cand
                break
        n = -s.front_normal
        return self.planner.reachable(best), math.atan2(n[1], n[0])

    def _go_to_lane(self, p: Person, step: Step) -> Iterator[None]:
        stand_lane = step.stand_lane if step.stand_lane >= 0 else step.lane
        pt, heading = self._stand_point(p, step.shelf, stand_lane, shift=step.stand_lane < 0)
        p.spot = pt
        yield from self._walk(p, pt)
        p.heading = heading
        for _ in range(self._ticks(self.rng.uniform(0.3, 1.2))):   # look at the shelf
            yield
        while self.t < step.at_s - 1e-9:                            # synchronised reach
            yield

    def _reach(self, p: Person, target: np.ndarray, z: float, hold_s: float,
               on_touch: Callable[[float], None], carry_out: str = '', carry_hold: bool = False,
               carry_back: Callable[[], str] | None = None, delay_s: float = 0.0) -> Iterator[None]:
        """Arm out to ``target`` (after ``delay_s``), touch, hold, arm back. The hand shows ``carry_out`` on
        the way out (and during the hold with ``carry_hold``) and what ``carry_back()`` returns on the way
        back."""
        for _ in range(self._ticks(delay_s)):
            yield
        target = np.asarray(target[:2], float)
        d = target - p.pos
        u = d / max(1e-6, float(np.linalg.norm(d)))
        p.heading = math.atan2(u[1], u[0])
        p.hand_z = z
        n_out = self._ticks(REACH_OUT_S)
        p.hand_item = carry_out
        for k in range(1, n_out + 1):
            shoulder = p.pos + u * p.radius * 0.5
            p.hand = shoulder + (target - shoulder) * (k / n_out)
            yield
        on_touch(self.t)
        if not carry_hold:
            p.hand_item = ''
        for _ in range(self._ticks(hold_s)):
            yield
        p.hand_item = carry_back() if carry_back is not None else ''
        n_back = self._ticks(REACH_BACK_S)
        for k in range(n_back - 1, 0, -1):
            shoulder = p.pos + u * p.radius * 0.5
            p.hand = shoulder + (target - shoulder) * (k / n_back)
            yield
        p.hand = None
        p.hand_item = ''

    def _lane_target(self, shelf_id: str, lane: int) -> tuple[np.ndarray, float]:
        s = self.layout.shelf(shelf_id)
        lp = s.lane_position(lane)
        return lp[:2] - s.front_normal * 0.03, float(lp[2])     # just over the front edge

    def _pick(self, p: Person, step: Step) -> Iterator[None]:
        yield from self._go_to_lane(p, step)
        target, z = self._lane_target(step.shelf, step.lane)
        grabs = [step.quantity] if step.grab else [1] * step.quantity
        for q in grabs:
            def touch(t: float, q: int = q) -> None:
                lane_items = self.lanes[(step.shelf, step.lane)]
                if not lane_items:
                    log.warning('t=%.2f person %d: lane %s/%d is empty, nothing taken',
                                t, p.id, step.shelf, step.lane)
                    return
                taken = [lane_items.pop() for _ in range(min(q, len(lane_items)))]
                p.basket.extend(taken)
                delta = -sum(i.weight_g for i in taken)
                t_lift = t + LIFT_AFTER_TOUCH_S
                self.lane_actions.append(LaneAction((step.shelf, step.lane), t, [(t_lift, delta)]))
                self.stock_changed.add((step.shelf, step.lane))
                self._event(TruthEventRec(t, t_lift + SETTLE_S, KIND_PICK, p.id, 0, step.shelf, step.lane,
                                          taken[0].product_id, len(taken), delta))
            n_before = len(p.basket)
            yield from self._reach(p, target, z, REACH_HOLD_S + 0.3 * (q - 1), touch,
                                   carry_back=lambda n=n_before: p.basket[-1].product_id if len(p.basket) > n else '')
            for _ in range(self._ticks(self.rng.uniform(0.3, 0.8))):
                yield

    def _put_back(self, p: Person, step: Step) -> Iterator[None]:
        if not p.basket:
            log.warning('person %d: put_back on %s/%d with empty hands, skipped', p.id, step.shelf, step.lane)
            return
        yield from self._go_to_lane(p, step)
        lane_pid = self.layout.shelf(step.shelf).lanes[step.lane].product_id
        target, z = self._lane_target(step.shelf, step.lane)

        def touch(t: float) -> None:
            if not p.basket:
                return
            same = [i for i in p.basket if i.product_id == lane_pid]
            item = same[-1] if same else p.basket[-1]
            p.basket.remove(item)
            self.lanes[(step.shelf, step.lane)].append(item)
            t_put = t + LIFT_AFTER_TOUCH_S
            self.lane_actions.append(LaneAction((step.shelf, step.lane), t, [(t_put, item.weight_g)]))
            self.stock_changed.add((step.shelf, step.lane))
            kind = KIND_PUT_BACK if item.product_id == lane_pid else KIND_PUT_MISPLACED
            self._event(TruthEventRec(t, t_put + SETTLE_S, kind, p.id, 0, step.shelf, step.lane,
                                      item.product_id, 1, item.weight_g))
        same = [i for i in p.basket if i.product_id == lane_pid]
        yield from self._reach(p, target, z, REACH_HOLD_S, touch,
                               carry_out=(same[-1] if same else p.basket[-1]).product_id)

    def _restock(self, p: Person, step: Step) -> Iterator[None]:
        yield from self._go_to_lane(p, step)
        shelf = self.layout.shelf(step.shelf)
        prod = self.layout.product(shelf.lanes[step.lane].product_id)
        target, z = self._lane_target(step.shelf, step.lane)
        room = int((shelf.capacity_kg * 1000.0 * 0.95 - sum(i.weight_g for i in self.lanes[(step.shelf, step.lane)]))
                   // (prod.unit_weight_g + prod.tolerance_g))
        n = max(0, min(step.quantity, room))
        if n < step.quantity:
            log.warning('staff %d: restock of %s/%d clipped from %d to %d items (cell capacity)',
                        p.id, step.shelf, step.lane, step.quantity, n)
        if n == 0:
            return
        interval = 0.25

        def touch(t: float) -> None:
            items = [self._new_item(prod.id) for _ in range(n)]
            self.lanes[(step.shelf, step.lane)].extend(items)
            steps = [(t + LIFT_AFTER_TOUCH_S + k * interval, it.weight_g) for k, it in enumerate(items)]
            self.lane_actions.append(LaneAction((step.shelf, step.lane), t, steps))
            self.stock_changed.add((step.shelf, step.lane))
            self._event(TruthEventRec(t, steps[-1][0] + SETTLE_S, KIND_RESTOCK, p.id, 0, step.shelf, step.lane,
                                      prod.id, n, sum(i.weight_g for i in items)))
        yield from self._reach(p, target, z, REACH_HOLD_S + interval * n, touch, carry_out=prod.id)

    # -- handover
    def _rendezvous(self, p: Person, giver: int, receiver: int) -> Iterator[None]:
        key = (giver, receiver)
        waited = 0.0
        while key not in self._rdv:
            if p.id == giver:
                other = self.people.get(receiver)
                near = (p.pos + other.pos) / 2 if other is not None and other.inside else p.pos
                mp = self.planner.meeting_point(near)
                u = mp - p.pos
                u = u / np.linalg.norm(u) if np.linalg.norm(u) > 1e-3 else np.array([1.0, 0.0])
                # the two bodies stand on the free axis through the meeting point
                for cand in (u, np.array([1.0, 0.0]), np.array([0.0, 1.0])):
                    a, b = mp - cand * HANDOVER_GAP_M, mp + cand * HANDOVER_GAP_M
                    if self.planner.free[self.planner.cell(a)] and self.planner.free[self.planner.cell(b)]:
                        u = cand
                        break
                self._rdv[key] = {'mp': mp, 'u': u, 'arrived': set(), 'cancel': False}
                break
            waited += self.dt
            if waited > RENDEZVOUS_TIMEOUT_S:
                log.warning('person %d: gave up waiting for a handover from %d', p.id, giver)
                return
            yield
        r = self._rdv[key]
        sign = -1.0 if p.id == giver else 1.0
        yield from self._walk(p, r['mp'] + sign * r['u'] * HANDOVER_GAP_M)
        r['arrived'].add(p.id)
        waited = 0.0
        while len(r['arrived']) < 2 and not r['cancel']:
            p.heading = math.atan2(-sign * r['u'][1], -sign * r['u'][0])
            waited += self.dt
            if waited > RENDEZVOUS_TIMEOUT_S:
                log.warning('person %d: handover %s timed out', p.id, key)
                r['cancel'] = True
            yield
        if r['cancel']:
            return
        hand = r['mp'] + sign * r['u'] * 0.05
        giving = self.people[giver].basket[-1].product_id if self.people[giver].basket else ''

        def touch(t: float) -> None:
            if p.id != giver:
                return
            rec = self.people[receiver]
            item = p.basket.pop()
            rec.basket.append(item)
            self._event(TruthEventRec(t, t + HANDOVER_HOLD_S, KIND_HANDOVER, giver, receiver, '', -1,
                                      item.product_id, 1, 0.0))
        # the giver holds the item out; the receiver reaches for it a moment later and takes it back
        if p.id == giver:
            yield from self._reach(p, hand, 1.0, HANDOVER_HOLD_S, touch, carry_out=giving, carry_hold=True)
        else:
            yield from self._reach(p, hand, 1.0, HANDOVER_HOLD_S - HANDOVER_TAKE_DELAY_S, touch,
                                   carry_back=lambda: giving, delay_s=HANDOVER_TAKE_DELAY_S)

    def _handover(self, p: Person, step: Step) -> Iterator[None]:
        if not p.basket:
            log.warning('person %d: handover to %d with empty hands, skipped', p.id, step.other)
            self._rdv[(p.id, step.other)] = {'mp': p.pos, 'u': np.array([1.0, 0.0]), 'arrived': set(),
                                             'cancel': True}
            return
        yield from self._rendezvous(p, p.id, step.other)

    def _receive(self, p: Person, step: Step) -> Iterator[None]:
        yield from self._rendezvous(p, step.other, p.id)

    # -- checkout
    def _checkout_step(self, p: Person, step: Step) -> Iterator[None]:
        yield from self._checkout(p)

    def _queue_slots(self, zone) -> list[np.ndarray]:
        """Waiting spots near a checkout zone, >= QUEUE_GAP_M apart, off the shelf fronts and other zones."""
        pl = self.planner
        c = np.array(zone.polygon.centroid)
        taken = [q for slots in self._slots.values() for q in slots]
        for min_shelf in (0.6, CLEARANCE_M):
            ok = pl.free & (pl.zone_dist > 0.3) & (pl.shelf_dist >= min_shelf)
            rr, cc = np.nonzero(ok)
            pts = pl.origin + (np.stack([cc, rr], axis=1) + 0.5) * pl.res
            d = np.linalg.norm(pts - c, axis=1)
            order = np.argsort(d, kind='stable')
            slots: list[np.ndarray] = []
            for k in order:
                if d[k] > QUEUE_RADIUS_M or len(slots) >= QUEUE_SLOTS:
                    break
                q = pts[k]
                if all(np.linalg.norm(q - o) >= QUEUE_GAP_M for o in slots + taken):
                    slots.append(q)
            if slots:
                return slots
        return [c]

    def _checkout(self, p: Person) -> Iterator[None]:
        """Queue for the checkout zone with the shortest line, stand in it 6..10 s, pay."""
        zones = self.layout.checkout_zones
        if not zones:
            return
        zone = min(zones, key=lambda z: (len(self._queues[z.id]), float(np.linalg.norm(
            np.array(z.polygon.centroid) - p.pos))))
        line = self._queues[zone.id]
        line.append(p.id)
        if zone.id not in self._slots:
            self._slots[zone.id] = self._queue_slots(zone)
        slots = self._slots[zone.id]
        place = -1
        while line[0] != p.id:
            k = line.index(p.id) - 1         # 0: next in line
            if k != place and k < len(slots):
                place = k
                yield from self._walk(p, slots[k])
            else:
                yield               # the line is full: wait where you are until a spot frees up
        x0, y0, x1, y1 = zone.polygon.bounds
        target = np.array(zone.polygon.centroid) + self.rng.uniform(-0.15, 0.15, 2) * [x1 - x0, y1 - y0]
        yield from self._walk(p, target)
        self._event(TruthEventRec(self.t, self.t, KIND_CHECKOUT, p.id))
        n = self._ticks(self.rng.uniform(*self.scn.checkout_dwell_s))
        # someone holding products presents the card at the zone's terminal (within the stay)
        tap = min(int(round(self.scn.card_tap_after_s / self.dt)), n - 1) if p.basket else -1
        for k in range(n):
            if k == tap:
                self.card_taps.append((self.t, zone.id))
            yield
        p.paid = True
        line.remove(p.id)
