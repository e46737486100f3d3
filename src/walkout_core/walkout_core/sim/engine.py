"""The simulation loop: world ticks, sensors sampled on their own schedules, all written to one bag."""
from __future__ import annotations

import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from walkout_core.sim.bagwriter import TOPIC_TYPES, BagWriter, header as _hdr
from walkout_core.sim.loadcells import LoadCellModel
from walkout_core.sim.provenance import write_provenance
from walkout_core.sim.render import CameraRenderer
from walkout_core.sim.scenario import Scenario, expand_persons
from walkout_core.sim.truth import baskets_msg, event_msg, persons_msg
from walkout_core.sim.world import World

__all__ = ['simulate', 'SimResult', 'TRUTH_RATE_HZ']

log = logging.getLogger(__name__)

TRUTH_RATE_HZ = 10.0   # [Hz] /truth/persons


@dataclass
class SimResult:
    bag: Path
    scenario: str
    seed: int
    duration_s: float
    persons: int
    events: int
    counts: dict[str, int] = field(default_factory=dict)
    frames_dropped: int = 0


def _tick(scn: Scenario) -> float:
    """World tick: the shortest sensor period (all streams are sampled on the nearest tick)."""
    rates = [c.fps for c in scn.layout.cameras] + [s.rate_hz for s in scn.layout.shelves] + [TRUTH_RATE_HZ]
    return 1.0 / max(rates)


def simulate(scn: Scenario, out: str | os.PathLike[str], *, seed: int | None = None, raw_images: bool = False,
             duration_s: float | None = None, overwrite: bool = True, cameras: bool = True) -> SimResult:
    """Run ``scn`` and write one rosbag2 MCAP bag directory at ``out``.

    ``seed`` overrides the scenario seed; ``duration_s`` shortens (or lengthens) the run;
    ``cameras=False`` skips rendering (load cells and truth only). Next to the bag's metadata goes
    ``walkout_sim.json`` (:mod:`walkout_core.sim.provenance`): which simulator, scenario and seed made it.
    """
    if seed is not None:
        scn = scn.with_seed(seed)
    out = Path(out)
    if out.exists():
        if not overwrite:
            raise FileExistsError(f'{out} exists')
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    duration = float(duration_s if duration_s is not None else scn.duration_s)
    # one generator per run, split into independent streams so that the people and the load cells
    # do not depend on whether (or how) frames are rendered
    world_rng, cell_rng, rng = np.random.default_rng(scn.seed).spawn(3)
    persons = expand_persons(scn, world_rng)
    dt = _tick(scn)
    world = World(scn, persons, world_rng, dt)
    cells = LoadCellModel(scn.layout, world.lanes, scn.sensors.cells, cell_rng)
    renderers = [CameraRenderer(c, scn.layout, scn.sensors, rng) for c in scn.layout.cameras] if cameras else []
    cam_next = [0.0] * len(renderers)
    faults = scn.sensors.camera_faults
    truth_next = 0.0
    n_events = 0
    n_taps = 0
    dropped = 0
    jpeg = [int(cv2.IMWRITE_JPEG_QUALITY), scn.sensors.jpeg_quality]
    n_ticks = int(math.floor(duration / dt + 1e-9)) + 1
    log.info('simulating %s (seed %d): %.1f s, %d persons, tick %.3f s, %d cameras, %d cells',
             scn.name, scn.seed, duration, len(persons), dt, len(renderers), scn.layout.n_load_cells)
    with BagWriter(out) as bag:
        T = bag.types
        for topic, msgtype in TOPIC_TYPES.items():     # every documented topic, in a stable order
            if '<cam>' not in topic:
                bag.declare(topic, msgtype)
            elif topic.endswith('/compressed') != raw_images:
                for r in renderers:
                    bag.declare(topic.replace('<cam>', r.cam.id), msgtype)
        for k in range(n_ticks):
            t = k * dt
            world.step(t)
            if world.lane_actions:
                cells.ingest(world.lane_actions)
                world.lane_actions.clear()
            while n_taps < len(world.card_taps):
                tap_t, zone_id = world.card_taps[n_taps]
                msg = T['walkout_msgs/msg/CardPresented'](header=_hdr(tap_t), checkout_zone_id=zone_id)
                bag.write('/checkout/card_presented', 'walkout_msgs/msg/CardPresented', msg, tap_t)
                n_taps += 1
            while n_events < len(world.events):
                bag.write('/truth/events', 'walkout_msgs/msg/TruthEvent', event_msg(T, world.events[n_events]), t)
                n_events += 1
            for ci in cells.due(t):
                s = cells.sample(t, ci)
                msg = T['walkout_msgs/msg/LoadCellReadings'](
                    header=_hdr(t), controller_id=s.controller_id, sequence=s.sequence, shelf_ids=s.shelf_ids,
                    lanes=np.asarray(s.lanes, np.uint16), weights_g=s.weights_g, status=s.status)
                bag.write('/shelves/load_cells', 'walkout_msgs/msg/LoadCellReadings', msg, t)
            if t >= truth_next - 1e-9:
                truth_next += 1.0 / TRUTH_RATE_HZ
                bag.write('/truth/persons', 'walkout_msgs/msg/TruthPersonArray', persons_msg(T, world, t), t)
            if world.stock_changed:
                for r in renderers:
                    r.invalidate(world.stock_changed)
                world.stock_changed = set()
            inside = None
            for i, r in enumerate(renderers):
                if t < cam_next[i] - 1e-9:
                    continue
                cam_next[i] += 1.0 / r.cam.fps
                mode = next((f.mode for f in faults if f.camera == r.cam.id and f.start_s <= t < f.end_s), None)
                if mode == 'silent' or rng.random() < scn.sensors.drop_prob:
                    dropped += 1
                    continue
                if inside is None:
                    inside = world.inside()
                    stock = {key: len(v) for key, v in world.lanes.items()}
                img = r.render(t, inside, stock, rng, black=(mode == 'black'))
                _write_frame(bag, r.cam.id, img, t, raw_images, jpeg)
        end_t = (n_ticks - 1) * dt
        bag.write('/truth/baskets', 'walkout_msgs/msg/TruthBasketArray', baskets_msg(T, world, end_t), end_t)
        counts = dict(bag.counts)
    write_provenance(out, scn.name, scn.source, scn.seed, duration, raw_images, cameras)
    res = SimResult(out, scn.name, scn.seed, duration, len(world.people), n_events, counts, dropped)
    log.info('wrote %s: %d persons entered, %d truth events, %d frames dropped', out, res.persons, res.events,
             dropped)
    return res


def _write_frame(bag: BagWriter, cam_id: str, img: np.ndarray, t: float, raw: bool, jpeg: list[int]) -> None:
    T = bag.types
    if raw:
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        msg = T['sensor_msgs/msg/Image'](header=_hdr(t, cam_id), height=rgb.shape[0], width=rgb.shape[1],
                                         encoding='rgb8', is_bigendian=0, step=rgb.shape[1] * 3,
                                         data=rgb.reshape(-1))
        bag.write(f'/camera/{cam_id}/image', 'sensor_msgs/msg/Image', msg, t)
    else:
        ok, buf = cv2.imencode('.jpg', img, jpeg)
        if not ok:
            raise RuntimeError(f'JPEG encoding failed for camera {cam_id}')
        msg = T['sensor_msgs/msg/CompressedImage'](header=_hdr(t, cam_id), format='jpeg', data=buf.reshape(-1))
        bag.write(f'/camera/{cam_id}/image/compressed', 'sensor_msgs/msg/CompressedImage', msg, t)
