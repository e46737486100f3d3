"""Store layout model: floor, gates, checkout zones, cameras, shelves, planogram, catalogue.

A layout is a YAML file under ``params/layouts/``. :func:`load_layout` reads and
validates it; every error is a :class:`LayoutError` (a ``ValueError``) whose
message names the file, the key and the bad value.

Frames: everything is in the ``map`` frame, metres, x to the right of the
entrance, y into the store, z up. Image coordinates are pixels, u to the right,
v down, origin at the top-left pixel corner.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import yaml

__all__ = [
    'LayoutError', 'Polygon', 'Gate', 'CheckoutZone', 'Camera', 'Product', 'Lane', 'Shelf',
    'Layout', 'load_layout', 'layout_from_dict', 'params_dir', 'resolve_layout_path',
]

GATE_KINDS = ('entry', 'exit', 'staff')
#: Shelves whose footprints overlap must be at least this far apart in height [m].
MIN_LEVEL_GAP_M = 0.1
#: libyaml's loader when available (the flash layout parses 10x faster with it).
_YAML_LOADER = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
#: A homography whose condition number exceeds this is treated as singular [-].
MAX_HOMOGRAPHY_COND = 1e9


class LayoutError(ValueError):
    """A layout file is invalid. The message names the file, the key and the value."""


# --------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class Polygon:
    """A simple polygon on the floor [m], vertices counter-clockwise or clockwise."""

    points: tuple[tuple[float, float], ...]

    @property
    def array(self) -> np.ndarray:
        return np.asarray(self.points, dtype=float)

    @property
    def area(self) -> float:
        p = self.array
        x, y = p[:, 0], p[:, 1]
        return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))

    @property
    def centroid(self) -> tuple[float, float]:
        p = self.array
        return float(p[:, 0].mean()), float(p[:, 1].mean())

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        p = self.array
        return float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max())

    def contains(self, xy: Sequence[float] | np.ndarray) -> np.ndarray | bool:
        """Even-odd point-in-polygon test; ``xy`` is one point (2,) or many (N, 2)."""
        pts = np.atleast_2d(np.asarray(xy, dtype=float))
        poly = self.array
        x, y = pts[:, 0:1], pts[:, 1:2]
        x1, y1 = poly[:, 0], poly[:, 1]
        x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
        with np.errstate(divide='ignore', invalid='ignore'):
            cond = ((y1 > y) != (y2 > y)) & (x < (x2 - x1) * (y - y1) / (y2 - y1) + x1)
        inside = (np.count_nonzero(cond, axis=1) % 2) == 1
        return bool(inside[0]) if np.asarray(xy).ndim == 1 else inside


def _convex_overlap(a: np.ndarray, b: np.ndarray, eps: float = 1e-9) -> bool:
    """Separating-axis test: do two convex polygons overlap with positive area?"""
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        normals = np.stack([-edges[:, 1], edges[:, 0]], axis=1)
        for n in normals:
            pa, pb = a @ n, b @ n
            if pa.max() <= pb.min() + eps or pb.max() <= pa.min() + eps:
                return False
    return True


# --------------------------------------------------------------------------- elements
@dataclass(frozen=True)
class Gate:
    id: str
    kind: str                      # entry | exit | staff
    polygon: Polygon


@dataclass(frozen=True)
class CheckoutZone:
    id: str
    polygon: Polygon
    tablet_topic: str              # topic of the zone's tablet (walkout_msgs/TabletCart)


@dataclass(frozen=True)
class Camera:
    """An overhead camera. ``homography`` maps image pixels (u, v, 1) to floor (x, y, 1)."""

    id: str
    width: int                     # [px]
    height: int                    # [px]
    fps: float                     # [Hz]
    homography: np.ndarray = field(repr=False)  # 3x3, image -> floor
    mount_height_m: float = 3.0    # [m] height of the lens above the floor
    host: str = 'core'             # compute host that runs its detection node

    @property
    def inverse_homography(self) -> np.ndarray:
        return np.linalg.inv(self.homography)

    def image_to_floor(self, uv: np.ndarray) -> np.ndarray:
        """Pixels (N, 2) -> floor metres (N, 2)."""
        uv = np.atleast_2d(np.asarray(uv, dtype=float))
        h = np.hstack([uv, np.ones((uv.shape[0], 1))]) @ self.homography.T
        return h[:, :2] / h[:, 2:3]

    def floor_to_image(self, xy: np.ndarray) -> np.ndarray:
        """Floor metres (N, 2) -> pixels (N, 2)."""
        xy = np.atleast_2d(np.asarray(xy, dtype=float))
        h = np.hstack([xy, np.ones((xy.shape[0], 1))]) @ self.inverse_homography.T
        return h[:, :2] / h[:, 2:3]

    @property
    def footprint(self) -> Polygon:
        """The floor area the image covers."""
        corners = np.array([[0, 0], [self.width, 0], [self.width, self.height], [0, self.height]], float)
        return Polygon(tuple(map(tuple, self.image_to_floor(corners).tolist())))

    @property
    def metres_per_pixel(self) -> float:
        """Mean floor size of one pixel at the image centre [m/px]."""
        c = np.array([[self.width / 2, self.height / 2], [self.width / 2 + 1, self.height / 2 + 1]])
        f = self.image_to_floor(c)
        return float(np.linalg.norm(f[1] - f[0]) / math.sqrt(2))


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    unit_weight_g: float           # [g]
    tolerance_g: float             # [g] +- of one unit's weight
    price: float                   # [currency] unit price
    age_restricted: bool = False
    category: str = ''
    colour_rgb: tuple[float, float, float] | None = None   # [0..1] packaging colour seen from above (None: unknown)


@dataclass(frozen=True)
class Lane:
    index: int
    product_id: str
    initial_stock: int             # [items]


@dataclass(frozen=True)
class Shelf:
    """One shelf board. Lanes run along its length, one load cell per lane.

    ``(x, y)`` is the centre of the board's footprint; ``yaw`` the direction of
    its length; shoppers stand on the ``front`` side, whose outward normal is
    the length direction turned by -90 degrees (to the right of the length
    direction).
    """

    id: str
    x: float                       # [m]
    y: float                       # [m]
    z: float                       # [m] board height above the floor
    yaw: float                     # [rad]
    length: float                  # [m]
    depth: float                   # [m]
    lanes: tuple[Lane, ...]
    rate_hz: float = 20.0          # [Hz] load-cell sample rate
    capacity_kg: float = 30.0      # [kg] per load cell
    accuracy_g: float = 10.0       # [g] 1-sigma noise of one load cell
    unit: str = ''                 # gondola bay (shelf controller) the board belongs to

    @property
    def axis(self) -> np.ndarray:
        return np.array([math.cos(self.yaw), math.sin(self.yaw)])

    @property
    def front_normal(self) -> np.ndarray:
        a = self.axis
        return np.array([a[1], -a[0]])

    @property
    def footprint(self) -> Polygon:
        c = np.array([self.x, self.y])
        a, n = self.axis * self.length / 2, self.front_normal * self.depth / 2
        pts = [c - a - n, c + a - n, c + a + n, c - a + n]
        return Polygon(tuple(tuple(map(float, p)) for p in pts))

    @property
    def lane_width(self) -> float:
        return self.length / len(self.lanes)

    def lane_position(self, lane: int) -> np.ndarray:
        """Floor point (x, y, z) of the middle of a lane's front edge [m]."""
        along = -self.length / 2 + (lane + 0.5) * self.lane_width
        p = np.array([self.x, self.y]) + self.axis * along + self.front_normal * self.depth / 2
        return np.array([p[0], p[1], self.z])

    def lane_positions(self) -> np.ndarray:
        return np.stack([self.lane_position(i) for i in range(len(self.lanes))])


@dataclass(frozen=True)
class Layout:
    name: str
    source: str                    # file it was loaded from
    frame_id: str
    currency: str
    floor: Polygon
    gates: tuple[Gate, ...]
    checkout_zones: tuple[CheckoutZone, ...]
    cameras: tuple[Camera, ...]
    shelves: tuple[Shelf, ...]
    catalogue: Mapping[str, Product]
    contactless_limit: float = 50.0  # [currency] above it a PIN is required

    # -- look-ups
    def shelf(self, shelf_id: str) -> Shelf:
        for s in self.shelves:
            if s.id == shelf_id:
                return s
        raise KeyError(f'unknown shelf id {shelf_id!r} in layout {self.name!r}')

    def camera(self, camera_id: str) -> Camera:
        for c in self.cameras:
            if c.id == camera_id:
                return c
        raise KeyError(f'unknown camera id {camera_id!r} in layout {self.name!r}')

    def product(self, product_id: str) -> Product:
        try:
            return self.catalogue[product_id]
        except KeyError:
            raise KeyError(f'unknown product id {product_id!r} in layout {self.name!r}') from None

    def lane_product(self, shelf_id: str, lane: int) -> Product:
        return self.product(self.shelf(shelf_id).lanes[lane].product_id)

    def gates_of_kind(self, kind: str) -> tuple[Gate, ...]:
        return tuple(g for g in self.gates if g.kind == kind)

    def controllers(self) -> dict[str, tuple[Shelf, ...]]:
        """Shelf controllers (one per shelf unit) and the shelves each one reads, in layout order."""
        out: dict[str, list[Shelf]] = {}
        for s in self.shelves:
            out.setdefault(s.unit, []).append(s)
        return {k: tuple(v) for k, v in out.items()}

    @property
    def n_load_cells(self) -> int:
        return sum(len(s.lanes) for s in self.shelves)

    @property
    def area_m2(self) -> float:
        return self.floor.area

    def all_lane_positions(self) -> tuple[list[tuple[str, int]], np.ndarray]:
        """Every lane as ``(shelf_id, lane)`` and its (x, y, z) front position, (N, 3)."""
        keys, pos = [], []
        for s in self.shelves:
            for i in range(len(s.lanes)):
                keys.append((s.id, i))
                pos.append(s.lane_position(i))
        return keys, np.asarray(pos).reshape(-1, 3)

    def checkout_zone_at(self, xy: Sequence[float]) -> CheckoutZone | None:
        for z in self.checkout_zones:
            if z.polygon.contains(np.asarray(xy[:2], float)):
                return z
        return None


# --------------------------------------------------------------------------- loading
def params_dir() -> Path:
    """Directory of the parameter files: ``$WALKOUT_PARAMS_DIR``, the source tree, or the install."""
    env = os.environ.get('WALKOUT_PARAMS_DIR')
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / 'params' / 'layouts').is_dir():
            return parent / 'params'
    try:  # installed with colcon / rosdep in a full ROS 2 install
        from ament_index_python.packages import get_package_share_directory  # noqa: WPS433
        return Path(get_package_share_directory('walkout_bringup')) / 'params'
    except Exception:  # noqa: BLE001 - no ament index: fall through to the error below
        pass
    raise FileNotFoundError('cannot find the params/ directory: set WALKOUT_PARAMS_DIR')


def resolve_layout_path(name_or_path: str | os.PathLike[str]) -> Path:
    p = Path(name_or_path)
    if p.suffix in ('.yaml', '.yml') or p.exists():
        return p
    return params_dir() / 'layouts' / f'{name_or_path}.yaml'


def load_layout(name_or_path: str | os.PathLike[str]) -> Layout:
    """Load and validate a layout by name (``small``, ``flash``) or path."""
    path = resolve_layout_path(name_or_path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise LayoutError(f'{path}: cannot read layout: {exc}') from exc
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise LayoutError(f'{path}: not valid YAML: {exc}') from exc
    return layout_from_dict(data, source=str(path))


class _Ctx:
    """Error helper: knows the file and builds 'file: key: value: reason' messages."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, value: Any, reason: str) -> LayoutError:
        return LayoutError(f'{self.source}: {key}: {value!r}: {reason}')

    def get(self, d: Mapping[str, Any], key: str, where: str, default: Any = ...) -> Any:
        if not isinstance(d, Mapping):
            raise self.fail(where, d, 'expected a mapping')
        if key not in d or d[key] is None:
            if default is ...:
                raise self.fail(f'{where}.{key}' if where else key, None, 'missing key')
            return default
        return d[key]

    def number(self, d: Mapping[str, Any], key: str, where: str, default: Any = ..., *,
               min_value: float | None = None, strict_min: bool = False) -> float:
        v = self.get(d, key, where, default)
        k = f'{where}.{key}' if where else key
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise self.fail(k, v, 'expected a finite number')
        v = float(v)
        if min_value is not None and (v < min_value or (strict_min and v <= min_value)):
            raise self.fail(k, v, f'must be {">" if strict_min else ">="} {min_value}')
        return v

    def polygon(self, v: Any, key: str) -> Polygon:
        if not isinstance(v, (list, tuple)) or len(v) < 3:
            raise self.fail(key, v, 'expected a list of at least 3 [x, y] points')
        pts = []
        for i, p in enumerate(v):
            if (not isinstance(p, (list, tuple)) or len(p) != 2
                    or not all(isinstance(c, (int, float)) and math.isfinite(c) for c in p)):
                raise self.fail(f'{key}[{i}]', p, 'expected [x, y] in metres')
            pts.append((float(p[0]), float(p[1])))
        poly = Polygon(tuple(pts))
        if poly.area <= 1e-9:
            raise self.fail(key, v, 'polygon has no area')
        return poly


def _camera_homography(ctx: _Ctx, cam: Mapping[str, Any], where: str, width: int, height: int
                       ) -> tuple[np.ndarray, float]:
    if 'homography' in cam and cam['homography'] is not None:
        h = np.asarray(cam['homography'], dtype=float) if isinstance(cam['homography'], list) else None
        if h is None or h.shape != (3, 3) or not np.all(np.isfinite(h)):
            raise ctx.fail(f'{where}.homography', cam['homography'], 'expected a finite 3x3 matrix')
        mount = ctx.number(cam, 'mount_height_m', where, 3.0, min_value=0.0, strict_min=True)
    else:
        pose = ctx.get(cam, 'pose', where)
        w = f'{where}.pose'
        x, y = ctx.number(pose, 'x', w), ctx.number(pose, 'y', w)
        mount = ctx.number(pose, 'z', w, min_value=0.0, strict_min=True)
        yaw = math.radians(ctx.number(pose, 'yaw_deg', w, 0.0))
        hfov = ctx.number(pose, 'hfov_deg', w, min_value=1.0)
        if hfov >= 179.0:
            raise ctx.fail(f'{w}.hfov_deg', hfov, 'must be < 179')
        # Pinhole camera looking straight down: metres per pixel on the floor.
        mpp = 2.0 * mount * math.tan(math.radians(hfov) / 2.0) / width
        c, s = math.cos(yaw), math.sin(yaw)
        # floor = centre + R(yaw) @ [ (u - w/2) * mpp, -(v - h/2) * mpp ]
        h = np.array([
            [c * mpp, s * mpp, x - c * mpp * width / 2 - s * mpp * height / 2],
            [s * mpp, -c * mpp, y - s * mpp * width / 2 + c * mpp * height / 2],
            [0.0, 0.0, 1.0],
        ])
    if abs(np.linalg.det(h)) < 1e-12 or np.linalg.cond(h) > MAX_HOMOGRAPHY_COND:
        raise ctx.fail(f'{where}.homography', h.tolist(), 'homography is singular')
    return h, mount


def layout_from_dict(data: Any, source: str = '<dict>') -> Layout:
    """Build and validate a :class:`Layout` from parsed YAML."""
    ctx = _Ctx(source)
    if not isinstance(data, Mapping):
        raise ctx.fail('<root>', data, 'expected a mapping at the top level')
    name = str(ctx.get(data, 'name', ''))
    frame_id = str(data.get('frame_id', 'map'))
    currency = str(data.get('currency', 'EUR'))
    contactless_limit = ctx.number(data, 'contactless_limit', '', 50.0, min_value=0.0)

    floor = ctx.polygon(ctx.get(ctx.get(data, 'floor', ''), 'polygon', 'floor'), 'floor.polygon')

    # catalogue (inline list, or a file relative to the layout)
    cat_raw = data.get('catalogue')
    cat_key = 'catalogue'
    if cat_raw is None and 'catalogue_file' in data:
        cat_path = Path(source).parent / str(data['catalogue_file'])
        try:
            cat_raw = yaml.load(cat_path.read_text(), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
        except (OSError, yaml.YAMLError) as exc:
            raise ctx.fail('catalogue_file', str(data['catalogue_file']), f'cannot load: {exc}') from exc
        if isinstance(cat_raw, Mapping):
            cat_raw = cat_raw.get('products')
        cat_key = f'{cat_path.name}:products'
    if not isinstance(cat_raw, list) or not cat_raw:
        raise ctx.fail(cat_key, cat_raw, 'missing or empty product catalogue')
    catalogue: dict[str, Product] = {}
    for i, p in enumerate(cat_raw):
        w = f'{cat_key}[{i}]'
        pid = str(ctx.get(p, 'id', w))
        if pid in catalogue:
            raise ctx.fail(f'{w}.id', pid, 'duplicate product id')
        weight = ctx.number(p, 'unit_weight_g', w, min_value=0.0, strict_min=True)
        tol = ctx.number(p, 'tolerance_g', w, max(5.0, 0.02 * weight), min_value=0.0, strict_min=True)
        price = ctx.number(p, 'price', w, min_value=0.0)
        catalogue[pid] = Product(
            id=pid, name=str(p.get('name', pid)), unit_weight_g=weight, tolerance_g=tol,
            price=price, age_restricted=bool(p.get('age_restricted', False)),
            category=str(p.get('category', '')), colour_rgb=_colour(ctx, p, w))

    gates = []
    for i, g in enumerate(ctx.get(data, 'gates', '')):
        w = f'gates[{i}]'
        kind = str(ctx.get(g, 'kind', w))
        if kind not in GATE_KINDS:
            raise ctx.fail(f'{w}.kind', kind, f'must be one of {GATE_KINDS}')
        gates.append(Gate(str(ctx.get(g, 'id', w)), kind, ctx.polygon(ctx.get(g, 'polygon', w), f'{w}.polygon')))
    for kind in ('entry', 'exit'):
        if not any(g.kind == kind for g in gates):
            raise ctx.fail('gates', [g.id for g in gates], f'needs at least one {kind} gate')

    zones = []
    for i, z in enumerate(data.get('checkout_zones') or []):
        w = f'checkout_zones[{i}]'
        zid = str(ctx.get(z, 'id', w))
        zones.append(CheckoutZone(zid, ctx.polygon(ctx.get(z, 'polygon', w), f'{w}.polygon'),
                                  str(z.get('tablet_topic', f'/checkout/{zid}/tablet'))))

    cameras = []
    for i, c in enumerate(ctx.get(data, 'cameras', '')):
        w = f'cameras[{i}]'
        width = int(ctx.number(c, 'width', w, min_value=8))
        height = int(ctx.number(c, 'height', w, min_value=8))
        fps = ctx.number(c, 'fps', w, min_value=0.0, strict_min=True)
        h, mount = _camera_homography(ctx, c, w, width, height)
        cameras.append(Camera(str(ctx.get(c, 'id', w)), width, height, fps, h, mount,
                              str(c.get('host', 'core'))))

    defaults = data.get('shelf_defaults') or {}
    shelves = []
    for i, s in enumerate(ctx.get(data, 'shelves', '')):
        w = f'shelves[{i}]'
        merged = {**defaults, **s} if isinstance(s, Mapping) else s
        sid = str(ctx.get(merged, 'id', w))
        lanes_raw = ctx.get(merged, 'lanes', w)
        if not isinstance(lanes_raw, list) or not lanes_raw:
            raise ctx.fail(f'{w}.lanes', lanes_raw, 'expected a non-empty list of lanes')
        lanes = []
        for j, ln in enumerate(lanes_raw):
            lw = f'{w}.lanes[{j}]'
            if isinstance(ln, str):
                ln = {'product': ln}
            pid = ctx.get(ln, 'product', lw)
            if str(pid) not in catalogue:
                raise ctx.fail(f'{lw}.product', pid, 'product not in the catalogue')
            lanes.append(Lane(j, str(pid), int(ctx.number(ln, 'stock', lw, 10, min_value=0))))
        shelf = Shelf(
            id=sid, x=ctx.number(merged, 'x', w), y=ctx.number(merged, 'y', w),
            z=ctx.number(merged, 'z', w, 1.0, min_value=0.0),
            yaw=math.radians(ctx.number(merged, 'yaw_deg', w, 0.0)),
            length=ctx.number(merged, 'length', w, min_value=0.0, strict_min=True),
            depth=ctx.number(merged, 'depth', w, min_value=0.0, strict_min=True),
            lanes=tuple(lanes),
            rate_hz=ctx.number(merged, 'rate_hz', w, 20.0, min_value=0.0, strict_min=True),
            capacity_kg=ctx.number(merged, 'capacity_kg', w, 30.0, min_value=0.0, strict_min=True),
            accuracy_g=ctx.number(merged, 'accuracy_g', w, 10.0, min_value=0.0, strict_min=True),
            unit=str(merged.get('unit', sid)))
        for j, ln in enumerate(shelf.lanes):
            load = catalogue[ln.product_id].unit_weight_g * ln.initial_stock / 1000.0
            if load > shelf.capacity_kg:
                raise ctx.fail(f'{w}.lanes[{j}].stock', ln.initial_stock,
                               f'{load:.1f} kg exceeds the load cell capacity {shelf.capacity_kg} kg')
        shelves.append(shelf)

    _check_unique(ctx, 'gates', [g.id for g in gates])
    _check_unique(ctx, 'checkout_zones', [z.id for z in zones])
    _check_unique(ctx, 'cameras', [c.id for c in cameras])
    _check_unique(ctx, 'shelves', [s.id for s in shelves])
    _check_shelf_overlap(ctx, shelves)
    return Layout(name=name, source=source, frame_id=frame_id, currency=currency, floor=floor,
                  gates=tuple(gates), checkout_zones=tuple(zones), cameras=tuple(cameras),
                  shelves=tuple(shelves), catalogue=catalogue, contactless_limit=contactless_limit)


def _colour(ctx: _Ctx, product: Mapping[str, Any], where: str) -> tuple[float, float, float] | None:
    """A product's optional ``colour: '#rrggbb'`` -> RGB in 0..1."""
    raw = product.get('colour')
    if raw is None:
        return None
    text = str(raw)
    if len(text) != 7 or text[0] != '#':
        raise ctx.fail(f'{where}.colour', raw, "must be '#rrggbb'")
    try:
        v = int(text[1:], 16)
    except ValueError:
        raise ctx.fail(f'{where}.colour', raw, "must be '#rrggbb'") from None
    return ((v >> 16 & 255) / 255.0, (v >> 8 & 255) / 255.0, (v & 255) / 255.0)


def _check_unique(ctx: _Ctx, key: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i, x in enumerate(ids):
        if x in seen:
            raise ctx.fail(f'{key}[{i}].id', x, 'duplicate id')
        seen.add(x)


def _check_shelf_overlap(ctx: _Ctx, shelves: list[Shelf]) -> None:
    if len(shelves) < 2:
        return
    feet = [s.footprint.array for s in shelves]
    boxes = np.array([[f[:, 0].min(), f[:, 1].min(), f[:, 0].max(), f[:, 1].max()] for f in feet])
    z = np.array([s.z for s in shelves])
    for i in range(len(shelves)):
        j = np.arange(i + 1, len(shelves))
        cand = j[(boxes[j, 0] < boxes[i, 2]) & (boxes[j, 2] > boxes[i, 0])
                 & (boxes[j, 1] < boxes[i, 3]) & (boxes[j, 3] > boxes[i, 1])
                 & (np.abs(z[j] - z[i]) < MIN_LEVEL_GAP_M)]
        for k in cand:
            if _convex_overlap(feet[i], feet[k]):
                raise ctx.fail(f'shelves[{k}]', shelves[k].id, f'overlaps shelf {shelves[i].id!r} at the same height')
