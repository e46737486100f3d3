"""Scenario files: who enters the simulated store, when, and what they do.

A scenario is a YAML file under ``params/scenarios/<name>.yaml`` (see docs/SIMULATOR.md).
:func:`load_scenario` reads and validates it against its layout; every problem is a
:class:`ScenarioError` (a ``ValueError``) naming the file, the key and the bad value.
:func:`expand_persons` turns the explicit persons plus the optional ``random_shoppers``
block into concrete :class:`PersonSpec` plans, drawing from the scenario's generator.
"""
from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

from walkout_core.layout import Layout, load_layout, params_dir

__all__ = [
    'ScenarioError', 'Step', 'PersonSpec', 'RandomShoppers', 'CellNoise', 'CameraFault', 'SensorSpec',
    'Scenario', 'load_scenario', 'scenario_from_dict', 'scenario_names', 'resolve_scenario_path',
    'expand_persons', 'STEP_KINDS',
]

#: Step kinds of a person's plan.
STEP_KINDS = ('pick', 'put_back', 'handover', 'receive', 'wait', 'restock', 'checkout')


class ScenarioError(ValueError):
    """A scenario file is invalid. The message names the file, the key and the value."""


@dataclass(frozen=True)
class Step:
    """One step of a plan. ``shelf``/``lane`` for pick, put_back, restock; ``other`` for handovers."""

    kind: str
    shelf: str = ''
    lane: int = -1
    quantity: int = 1
    grab: bool = False              # pick: take all ``quantity`` items in one reach
    stand_lane: int = -1            # pick/put_back: stand in front of this lane (-1: the target lane)
    other: int = 0                  # handover: receiver id; receive: giver id
    seconds: float = 0.0            # wait: duration [s]
    at_s: float = 0.0               # pick/put_back/restock: reach no earlier than this sim time [s]


@dataclass(frozen=True)
class PersonSpec:
    id: int
    enter_s: float                  # [s] time the person appears at the gate
    plan: tuple[Step, ...]
    staff: bool = False
    skip_checkout: bool = False
    speed_mps: float | None = None  # [m/s] None: drawn
    radius_m: float | None = None   # [m] half shoulder width; None: drawn


@dataclass(frozen=True)
class RandomShoppers:
    count: int
    enter_s: tuple[float, float]    # [s] arrival window
    picks: tuple[int, int]          # [items] picks per shopper, inclusive range
    put_back_prob: float = 0.1      # [-] per pick: put it back on its lane later
    misplace_prob: float = 0.03     # [-] per pick: put it back on another product's lane
    pair_prob: float = 0.1          # [-] the next shopper is a companion who receives a handover
    skip_checkout_prob: float = 0.0  # [-]
    first_id: int = 100


@dataclass(frozen=True)
class CellNoise:
    drift_g_per_sqrt_s: float = 0.4   # [g/sqrt(s)] random-walk drift
    thermal_amplitude_g: float = 3.0  # [g] slow sinusoidal thermal drift
    thermal_period_s: float = 900.0   # [s]
    press_g: tuple[float, float] = (60.0, 250.0)  # [g] hand press spike range
    nan_prob: float = 2e-5            # [-] per cell and sample
    out_of_range_prob: float = 1e-5   # [-] per cell and sample
    stuck_prob: float = 1e-5          # [-] per cell and sample: start of a stuck episode
    stuck_s: float = 1.0              # [s] length of a stuck episode
    noise_scale: float = 1.0          # [-] multiplies each shelf's accuracy_g


@dataclass(frozen=True)
class CameraFault:
    camera: str
    start_s: float
    end_s: float
    mode: str = 'silent'              # silent (no frames) | black (black frames)


@dataclass(frozen=True)
class SensorSpec:
    jpeg_quality: int = 80            # [-] 1..100
    image_noise_sigma: float = 3.0    # [grey levels]
    lighting_drift: float = 0.06      # [-] relative amplitude of the global lighting change
    lighting_period_s: float = 60.0   # [s]
    drop_prob: float = 0.005          # [-] per frame
    camera_faults: tuple[CameraFault, ...] = ()
    cells: CellNoise = field(default_factory=CellNoise)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    layout: Layout
    seed: int
    duration_s: float
    persons: tuple[PersonSpec, ...]
    random_shoppers: RandomShoppers | None = None
    sensors: SensorSpec = field(default_factory=SensorSpec)
    stress: bool = False
    checkout_dwell_s: tuple[float, float] = (6.0, 10.0)
    card_tap_after_s: float = 1.0   # [s] a paying shopper presents the card this long after reaching the zone
    source: str = '<dict>'

    def with_seed(self, seed: int) -> 'Scenario':
        return replace(self, seed=int(seed))


# --------------------------------------------------------------------------- loading
@functools.lru_cache(maxsize=8)
def _cached_layout(name_or_path: str) -> Layout:
    """Layouts are immutable: load each once per process (flash takes about a second)."""
    return load_layout(name_or_path)


def scenario_dir() -> Path:
    return params_dir() / 'scenarios'


def scenario_names() -> list[str]:
    return sorted(p.stem for p in scenario_dir().glob('*.yaml'))


def resolve_scenario_path(name_or_path: str | os.PathLike[str]) -> Path:
    p = Path(name_or_path)
    if p.suffix in ('.yaml', '.yml') or p.exists():
        return p
    return scenario_dir() / f'{name_or_path}.yaml'


def load_scenario(name_or_path: str | os.PathLike[str]) -> Scenario:
    path = resolve_scenario_path(name_or_path)
    try:
        text = path.read_text()
    except OSError as exc:
        known = ', '.join(scenario_names())
        raise ScenarioError(f'{path}: cannot read scenario: {exc} (known scenarios: {known})') from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f'{path}: not valid YAML: {exc}') from exc
    return scenario_from_dict(data, source=str(path))


class _Ctx:
    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, value: Any, reason: str) -> ScenarioError:
        return ScenarioError(f'{self.source}: {key}: {value!r}: {reason}')

    def number(self, d: Mapping[str, Any], key: str, where: str, default: Any = ..., *,
               lo: float | None = None, hi: float | None = None, integer: bool = False) -> float:
        k = f'{where}.{key}' if where else key
        if not isinstance(d, Mapping):
            raise self.fail(where or '<root>', d, 'expected a mapping')
        if key not in d or d[key] is None:
            if default is ...:
                raise self.fail(k, None, 'missing key')
            return default
        v = d[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise self.fail(k, v, 'expected a finite number')
        if integer and float(v) != int(v):
            raise self.fail(k, v, 'expected an integer')
        if lo is not None and v < lo:
            raise self.fail(k, v, f'must be >= {lo}')
        if hi is not None and v > hi:
            raise self.fail(k, v, f'must be <= {hi}')
        return int(v) if integer else float(v)

    def pair(self, d: Mapping[str, Any], key: str, where: str, default: Any, *, lo: float = 0.0,
             integer: bool = False) -> tuple:
        k = f'{where}.{key}'
        v = d.get(key, default)
        if (not isinstance(v, (list, tuple)) or len(v) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
                or v[0] > v[1] or v[0] < lo):
            raise self.fail(k, v, f'expected [min, max] with {lo} <= min <= max')
        return (int(v[0]), int(v[1])) if integer else (float(v[0]), float(v[1]))


def _lane_ref(ctx: _Ctx, layout: Layout, ref: Any, key: str) -> tuple[str, int]:
    if not isinstance(ref, str) or '/' not in ref:
        raise ctx.fail(key, ref, 'expected "<shelf>/<lane>", e.g. "S1/0"')
    shelf_id, lane_s = ref.rsplit('/', 1)
    try:
        shelf = layout.shelf(shelf_id)
    except KeyError:
        raise ctx.fail(key, ref, f'unknown shelf {shelf_id!r} in layout {layout.name!r}') from None
    if not lane_s.isdigit() or int(lane_s) >= len(shelf.lanes):
        raise ctx.fail(key, ref, f'lane must be 0..{len(shelf.lanes) - 1} on shelf {shelf_id}')
    return shelf_id, int(lane_s)


def _step(ctx: _Ctx, layout: Layout, raw: Any, where: str) -> Step:
    if not isinstance(raw, Mapping):
        raise ctx.fail(where, raw, f'expected a mapping with one of {STEP_KINDS}')
    kinds = [k for k in STEP_KINDS if k in raw]
    if len(kinds) != 1:
        raise ctx.fail(where, raw, f'expected exactly one of {STEP_KINDS}')
    kind = kinds[0]
    unknown = set(raw) - {kind, 'quantity', 'grab', 'stand_lane', 'at_s'}
    if unknown:
        raise ctx.fail(where, sorted(unknown), 'unknown step option')
    if kind in ('pick', 'put_back', 'restock'):
        shelf, lane = _lane_ref(ctx, layout, raw[kind], f'{where}.{kind}')
        qty = ctx.number(raw, 'quantity', where, 1, lo=1, hi=200, integer=True)
        stand = ctx.number(raw, 'stand_lane', where, -1, lo=-1, integer=True)
        if stand >= len(layout.shelf(shelf).lanes):
            raise ctx.fail(f'{where}.stand_lane', stand, f'no such lane on shelf {shelf}')
        at_s = ctx.number(raw, 'at_s', where, 0.0, lo=0.0)
        return Step(kind, shelf, lane, qty, bool(raw.get('grab', False)), stand, at_s=at_s)
    if kind in ('handover', 'receive'):
        other = ctx.number(raw, kind, where, lo=1, integer=True)
        return Step(kind, other=other)
    if kind == 'wait':
        return Step(kind, seconds=ctx.number(raw, kind, where, lo=0.0))
    return Step(kind)


def _sensors(ctx: _Ctx, layout: Layout, raw: Any) -> SensorSpec:
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise ctx.fail('sensors', raw, 'expected a mapping')
    d = SensorSpec()
    faults = []
    for i, f in enumerate(raw.get('camera_faults') or []):
        w = f'sensors.camera_faults[{i}]'
        cam = str(f.get('camera')) if isinstance(f, Mapping) else None
        if cam not in {c.id for c in layout.cameras}:
            raise ctx.fail(f'{w}.camera', cam, f'unknown camera in layout {layout.name!r}')
        mode = str(f.get('mode', 'silent'))
        if mode not in ('silent', 'black'):
            raise ctx.fail(f'{w}.mode', mode, 'must be silent or black')
        start = ctx.number(f, 'start_s', w, lo=0.0)
        end = ctx.number(f, 'end_s', w, lo=start)
        faults.append(CameraFault(cam, start, end, mode))
    cells_raw = raw.get('cells') or {}
    cd = CellNoise()
    w = 'sensors.cells'
    cells = CellNoise(
        drift_g_per_sqrt_s=ctx.number(cells_raw, 'drift_g_per_sqrt_s', w, cd.drift_g_per_sqrt_s, lo=0.0),
        thermal_amplitude_g=ctx.number(cells_raw, 'thermal_amplitude_g', w, cd.thermal_amplitude_g, lo=0.0),
        thermal_period_s=ctx.number(cells_raw, 'thermal_period_s', w, cd.thermal_period_s, lo=1.0),
        press_g=ctx.pair(cells_raw, 'press_g', w, cd.press_g),
        nan_prob=ctx.number(cells_raw, 'nan_prob', w, cd.nan_prob, lo=0.0, hi=1.0),
        out_of_range_prob=ctx.number(cells_raw, 'out_of_range_prob', w, cd.out_of_range_prob, lo=0.0, hi=1.0),
        stuck_prob=ctx.number(cells_raw, 'stuck_prob', w, cd.stuck_prob, lo=0.0, hi=1.0),
        stuck_s=ctx.number(cells_raw, 'stuck_s', w, cd.stuck_s, lo=0.0),
        noise_scale=ctx.number(cells_raw, 'noise_scale', w, cd.noise_scale, lo=0.0))
    return SensorSpec(
        jpeg_quality=ctx.number(raw, 'jpeg_quality', 'sensors', d.jpeg_quality, lo=1, hi=100, integer=True),
        image_noise_sigma=ctx.number(raw, 'image_noise_sigma', 'sensors', d.image_noise_sigma, lo=0.0, hi=64.0),
        lighting_drift=ctx.number(raw, 'lighting_drift', 'sensors', d.lighting_drift, lo=0.0, hi=0.5),
        lighting_period_s=ctx.number(raw, 'lighting_period_s', 'sensors', d.lighting_period_s, lo=1.0),
        drop_prob=ctx.number(raw, 'drop_prob', 'sensors', d.drop_prob, lo=0.0, hi=1.0),
        camera_faults=tuple(faults), cells=cells)


def scenario_from_dict(data: Any, source: str = '<dict>', layout: Layout | None = None) -> Scenario:
    """Build and validate a :class:`Scenario` from parsed YAML."""
    ctx = _Ctx(source)
    if not isinstance(data, Mapping):
        raise ctx.fail('<root>', data, 'expected a mapping at the top level')
    allowed = {'name', 'description', 'layout', 'seed', 'duration_s', 'persons', 'random_shoppers',
               'sensors', 'stress', 'checkout_dwell_s', 'card_tap_after_s'}
    unknown = set(data) - allowed
    if unknown:
        raise ctx.fail('<root>', sorted(unknown), f'unknown key(s); allowed: {sorted(allowed)}')
    name = str(data.get('name') or Path(source).stem)
    if layout is None:
        try:
            layout = _cached_layout(str(data.get('layout', 'small')))
        except (ValueError, FileNotFoundError) as exc:
            raise ctx.fail('layout', data.get('layout'), f'cannot load layout: {exc}') from exc
    seed = ctx.number(data, 'seed', '', 0, lo=0, integer=True)
    duration = ctx.number(data, 'duration_s', '', lo=1.0, hi=24 * 3600.0)
    persons: list[PersonSpec] = []
    for i, p in enumerate(data.get('persons') or []):
        w = f'persons[{i}]'
        if not isinstance(p, Mapping):
            raise ctx.fail(w, p, 'expected a mapping')
        pid = ctx.number(p, 'id', w, lo=1, hi=2 ** 32 - 1, integer=True)
        plan_raw = p.get('plan') or []
        if not isinstance(plan_raw, list):
            raise ctx.fail(f'{w}.plan', plan_raw, 'expected a list of steps')
        plan = tuple(_step(ctx, layout, s, f'{w}.plan[{j}]') for j, s in enumerate(plan_raw))
        staff = bool(p.get('staff', False))
        for j, s in enumerate(plan):
            if staff and s.kind != 'restock' and s.kind != 'wait':
                raise ctx.fail(f'{w}.plan[{j}]', s.kind, 'staff only restock or wait')
            if not staff and s.kind == 'restock':
                raise ctx.fail(f'{w}.plan[{j}]', s.kind, 'only staff (staff: true) restock')
        speed = ctx.number(p, 'speed_mps', w, None, lo=0.2, hi=3.0)
        radius = ctx.number(p, 'radius_m', w, None, lo=0.1, hi=0.4)
        enter = ctx.number(p, 'enter_s', w, 0.0, lo=0.0)
        if enter >= duration:
            raise ctx.fail(f'{w}.enter_s', enter, f'must be < duration_s {duration}')
        persons.append(PersonSpec(pid, enter, plan, staff, bool(p.get('skip_checkout', False)), speed, radius))
    ids = [p.id for p in persons]
    if len(set(ids)) != len(ids):
        raise ctx.fail('persons', ids, 'duplicate person id')
    by_id = {p.id: p for p in persons}
    for i, p in enumerate(persons):
        for j, s in enumerate(p.plan):
            if s.kind in ('handover', 'receive'):
                other = by_id.get(s.other)
                want = 'receive' if s.kind == 'handover' else 'handover'
                if other is None or not any(o.kind == want and o.other == p.id for o in other.plan):
                    raise ctx.fail(f'persons[{i}].plan[{j}].{s.kind}', s.other,
                                   f'person {s.other} needs a matching "{want}: {p.id}" step')
    rs = None
    if data.get('random_shoppers'):
        r = data['random_shoppers']
        w = 'random_shoppers'
        rs = RandomShoppers(
            count=ctx.number(r, 'count', w, lo=0, hi=10000, integer=True),
            enter_s=ctx.pair(r, 'enter_s', w, [0.0, duration * 0.5]),
            picks=ctx.pair(r, 'picks', w, [1, 3], integer=True),
            put_back_prob=ctx.number(r, 'put_back_prob', w, 0.1, lo=0.0, hi=1.0),
            misplace_prob=ctx.number(r, 'misplace_prob', w, 0.03, lo=0.0, hi=1.0),
            pair_prob=ctx.number(r, 'pair_prob', w, 0.1, lo=0.0, hi=1.0),
            skip_checkout_prob=ctx.number(r, 'skip_checkout_prob', w, 0.0, lo=0.0, hi=1.0),
            first_id=ctx.number(r, 'first_id', w, max(ids, default=0) + 1, lo=1, integer=True))
        if rs.enter_s[1] >= duration:
            raise ctx.fail(f'{w}.enter_s', list(rs.enter_s), f'must end before duration_s {duration}')
        if set(range(rs.first_id, rs.first_id + rs.count)) & set(ids):
            raise ctx.fail(f'{w}.first_id', rs.first_id, 'random shopper ids collide with persons ids')
    if not persons and rs is None:
        raise ctx.fail('persons', None, 'a scenario needs persons or random_shoppers')
    return Scenario(
        name=name, description=str(data.get('description', '')).strip(), layout=layout, seed=seed,
        duration_s=duration, persons=tuple(persons), random_shoppers=rs,
        sensors=_sensors(ctx, layout, data.get('sensors')), stress=bool(data.get('stress', False)),
        checkout_dwell_s=ctx.pair(data, 'checkout_dwell_s', 'checkout_dwell_s', [6.0, 10.0]) if
        'checkout_dwell_s' in data else (6.0, 10.0),
        card_tap_after_s=ctx.number(data, 'card_tap_after_s', '', 1.0, lo=0.0, hi=60.0),
        source=source)


# --------------------------------------------------------------------------- random shoppers
def expand_persons(scn: Scenario, rng: np.random.Generator) -> tuple[PersonSpec, ...]:
    """Explicit persons plus the drawn random shoppers, sorted by entry time (then id)."""
    out = list(scn.persons)
    rs = scn.random_shoppers
    if rs is not None and rs.count:
        layout = scn.layout
        lanes = [(s.id, i) for s in layout.shelves for i in range(len(s.lanes))]
        enters = np.sort(rng.uniform(rs.enter_s[0], rs.enter_s[1], rs.count))
        pid = rs.first_id
        k = 0
        while k < rs.count:
            n_picks = int(rng.integers(rs.picks[0], rs.picks[1] + 1))
            plan: list[Step] = []
            for _ in range(n_picks):
                shelf, lane = lanes[int(rng.integers(len(lanes)))]
                plan.append(Step('pick', shelf, lane))
                u = rng.random()
                if u < rs.put_back_prob:
                    plan.append(Step('put_back', shelf, lane))
                elif u < rs.put_back_prob + rs.misplace_prob:
                    pid_here = layout.shelf(shelf).lanes[lane].product_id
                    others = [x for x in lanes if layout.shelf(x[0]).lanes[x[1]].product_id != pid_here]
                    o = others[int(rng.integers(len(others)))]
                    plan.append(Step('put_back', o[0], o[1]))
            skip = bool(rng.random() < rs.skip_checkout_prob)
            if k + 1 < rs.count and rng.random() < rs.pair_prob and plan and plan[-1].kind == 'pick':
                partner = pid + 1
                plan.append(Step('handover', other=partner))
                shelf, lane = lanes[int(rng.integers(len(lanes)))]
                out.append(PersonSpec(pid, float(enters[k]), tuple(plan), skip_checkout=skip))
                out.append(PersonSpec(partner, float(enters[k]) + 1.0,
                                      (Step('pick', shelf, lane), Step('receive', other=pid))))
                pid += 2
                k += 2
                continue
            out.append(PersonSpec(pid, float(enters[k]), tuple(plan), skip_checkout=skip))
            pid += 1
            k += 1
    return tuple(sorted(out, key=lambda p: (p.enter_s, p.id)))
