"""Simulator world: paths avoid shelves, stand points, meeting points, queue spots."""
from __future__ import annotations

import numpy as np
import pytest

from walkout_core.layout import load_layout
from walkout_core.sim.scenario import load_scenario
from walkout_core.sim.world import HANDOVER_CLEAR_M, Planner, World


@pytest.mark.parametrize('layout_name', ['small', 'flash'])
def test_paths_never_cross_shelves(layout_name):
    layout = load_layout(layout_name)
    planner = Planner(layout)
    rng = np.random.default_rng(0)
    free = np.argwhere(planner.free)
    feet = {s.footprint.points: s.footprint for s in layout.shelves}.values()
    for _ in range(30):
        a, b = (planner.centre(tuple(free[rng.integers(len(free))])) for _ in range(2))
        path = planner.path(a, b)
        assert np.allclose(path[-1], b)
        pts = [a] + path
        for p, q in zip(pts[:-1], pts[1:], strict=True):
            seg = p[None, :] + (q - p)[None, :] * np.linspace(0, 1, 50)[:, None]
            for f in feet:
                assert not np.any(f.contains(seg))


def test_meeting_point_is_far_from_shelf_fronts():
    layout = load_layout('small')
    planner = Planner(layout)
    _, fronts = layout.all_lane_positions()
    for near in ([1.0, 1.0], [4.0, 4.5], [7.5, 3.0]):
        mp = planner.meeting_point(np.array(near))
        assert np.min(np.linalg.norm(fronts[:, :2] - mp, axis=1)) >= 0.8
        assert planner.shelf_dist[planner.cell(mp)] >= HANDOVER_CLEAR_M - planner.res
        assert layout.checkout_zone_at(mp) is None


def test_queue_spots_are_outside_zones_and_apart():
    scn = load_scenario('flash_20_shoppers')
    world = World(scn, (), np.random.default_rng(0), 0.05)
    spots = []
    for z in scn.layout.checkout_zones:
        world._slots[z.id] = world._queue_slots(z)
        spots += world._slots[z.id]
        for q in world._slots[z.id]:
            assert scn.layout.checkout_zone_at(q) is None
            assert np.linalg.norm(q - np.array(z.polygon.centroid)) <= 2.5 + 1e-9
    d = np.linalg.norm(np.array(spots)[:, None] - np.array(spots)[None], axis=2)
    assert np.all(d[~np.eye(len(spots), dtype=bool)] >= 0.55 - 1e-9)
