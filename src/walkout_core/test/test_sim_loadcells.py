"""Load-cell model in simulator bags: noise level, bad readings, status flags."""
from __future__ import annotations

import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from walkout_core.bagio import typestore
from walkout_core.sim.engine import simulate
from walkout_core.sim.scenario import load_scenario


def _cells(bag):
    ts = typestore()
    rows = []
    with Reader(bag) as r:
        conns = [c for c in r.connections if c.topic == '/shelves/load_cells']
        for c, t, raw in r.messages(connections=conns):
            m = ts.deserialize_cdr(raw, c.msgtype)
            for sid, lane, w, st in zip(m.shelf_ids, m.lanes, m.weights_g, m.status, strict=True):
                rows.append((t / 1e9, f'{sid}/{lane}', float(w), int(st)))
    return rows


def test_idle_lane_noise_is_the_shelf_accuracy(tmp_path):
    scn = load_scenario('single_shopper')
    simulate(scn, tmp_path / 'b', duration_s=30.0, cameras=False)
    rows = _cells(tmp_path / 'b')
    w = np.array([r[2] for r in rows if r[1] == 'S7/0' and r[3] == 0])   # nobody touches S7
    assert len(w) == 30 * 20 + 1
    d = np.diff(w)
    d = d[np.abs(d) < 100]                           # ignore the rare stuck / bad samples
    assert np.std(d) / np.sqrt(2) == pytest.approx(scn.layout.shelf('S7').accuracy_g, rel=0.2)


def test_noisy_scenario_has_flagged_bad_readings(tmp_path):
    scn = load_scenario('noisy_drifting_cells')
    simulate(scn, tmp_path / 'b', duration_s=30.0, cameras=False)
    rows = _cells(tmp_path / 'b')
    w = np.array([r[2] for r in rows])
    st = np.array([r[3] for r in rows])
    nan = np.isnan(w)
    assert nan.any() and np.all(st[nan] == 1) and np.all(np.isnan(w[st == 1]))
    oor = st == 2
    assert oor.any() and np.all((w[oor] > 30000.0) | (w[oor] < -1000.0))
    assert np.all(np.isfinite(w[st == 0])) and np.all(w[st == 0] > 0) and np.all(w[st == 0] < 30000.0)
    # stuck episodes: the very same value repeated on a lane
    by_lane: dict[str, list[float]] = {}
    for _, key, v, s in rows:
        by_lane.setdefault(key, []).append(v)
    repeats = sum(int(np.sum(np.diff(np.array(v)) == 0)) for v in by_lane.values())
    assert repeats >= 10
