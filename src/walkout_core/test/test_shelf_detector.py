"""Vectorised change detection on synthetic load-cell signals."""
import dataclasses

import numpy as np
import pytest

from walkout_core.shelf.config import ShelfEventConfig
from walkout_core.shelf.detector import CellBlockDetector
from walkout_core.shelf.protocol import STATUS_NAN, STATUS_NO_DATA, STATUS_SATURATED
from walkout_core.shelf.synth import Step, lane_signal

T0 = 1_780_000_000.0
RATE = 20.0


def run(x, t=None, status=None, cfg=None, sigma=10.0):
    """Feed readings (T, n) through a detector; return (changes, faults, detector)."""
    x = np.atleast_2d(np.asarray(x, float))
    t = T0 + np.arange(x.shape[0]) / RATE if t is None else t
    d = CellBlockDetector(np.full(x.shape[1], sigma), np.full(x.shape[1], 30000.0), cfg or ShelfEventConfig())
    changes, faults = [], []
    for i in range(x.shape[0]):
        c, f = d.update(float(t[i]), x[i], None if status is None else status[i])
        changes += c
        faults += f
    return changes, faults, d


def times(duration_s):
    return T0 + np.arange(0.0, duration_s, 1.0 / RATE)


def test_single_pick_is_detected_with_start_settle_and_decision_times():
    t = times(10)
    step = Step(T0 + 4.0, -526.0, ramp_s=0.3)
    changes, faults, _ = run(lane_signal(t, 6000, [step])[:, None], t)
    assert len(changes) == 1 and not faults
    c = changes[0]
    assert c.delta_g == pytest.approx(-526, abs=15)
    assert abs(c.start_t - step.t) <= 0.15                      # stamped when the weight started to change
    assert abs(c.settled_t - step.settled_t) <= 0.15
    assert 0 < c.decided_t - step.settled_t <= 0.5              # decided within 0.5 s of settling


def test_pure_noise_on_many_cells_gives_no_event():
    t = times(120)
    rng = np.random.default_rng(3)
    x = 5000 + rng.normal(0, 10, (t.size, 64))
    changes, faults, _ = run(x, t)
    assert changes == [] and faults == []


def test_slow_drift_is_followed_without_events():
    t = times(300)
    x = lane_signal(t, 3000, [], drift_g_per_s=0.5)             # 150 g over five minutes
    x2 = lane_signal(t, 3000, [], drift_g_per_s=-0.5, rng=np.random.default_rng(5))
    changes, _, d = run(np.stack([x, x2], 1), t)
    assert changes == []
    assert d.baseline == pytest.approx([3150, 2850], abs=8)


def test_pick_during_drift_measures_the_step_not_the_drift():
    t = times(200)
    x = lane_signal(t, 3000, [Step(T0 + 150, -300.0)], drift_g_per_s=0.5)
    changes, _, _ = run(x[:, None], t)
    cfg = ShelfEventConfig()
    # 3 sigma of the estimate plus the lag of the exponential baseline behind a linear drift
    tol = 3 * changes[0].sigma_delta_g + 0.5 * cfg.baseline_time_constant_s
    assert len(changes) == 1 and changes[0].delta_g == pytest.approx(-300, abs=tol)


@pytest.mark.parametrize('press, swing', [(250.0, 0.0), (0.0, 120.0), (200.0, 80.0)])
def test_press_and_swing_transients_do_not_change_the_measured_step(press, swing):
    t = times(10)
    step = Step(T0 + 3.0, -1600.0, ramp_s=0.4, press_g=press, swing_g=swing)
    changes, _, _ = run(lane_signal(t, 9000, [step])[:, None], t)
    assert len(changes) == 1
    assert changes[0].delta_g == pytest.approx(-1600, abs=15)
    assert changes[0].decided_t - step.settled_t <= 0.6


def test_transient_that_returns_to_baseline_is_ignored():
    t = times(10)
    press = Step(T0 + 3.0, 0.0, ramp_s=0.8, press_g=250.0)     # a hand leans on the lane and lets go
    touch = Step(T0 + 6.0, 0.0, ramp_s=0.5, swing_g=80.0)      # an item swings and stops
    changes, _, d = run(lane_signal(t, 4000, [press, touch])[:, None], t)
    assert changes == []
    assert d.counters['transients'] >= 1


def test_two_neighbouring_lanes_at_once():
    t = times(8)
    a = lane_signal(t, 5000, [Step(T0 + 3.0, -400.0, press_g=150)])
    b = lane_signal(t, 5000, [Step(T0 + 3.1, 700.0, press_g=100)], rng=np.random.default_rng(9))
    changes, _, _ = run(np.stack([a, b], 1), t)
    assert sorted((c.cell, round(c.delta_g, -1)) for c in changes) == [(0, -400.0), (1, 700.0)]


def test_quick_successive_picks_on_one_lane_are_two_changes():
    t = times(10)
    changes, _, _ = run(lane_signal(t, 5000, [Step(T0 + 3.0, -500.0), Step(T0 + 4.5, -500.0)])[:, None], t)
    assert [round(c.delta_g, -2) for c in changes] == [-500, -500]


def test_many_cells_random_picks_are_all_found():
    rng = np.random.default_rng(4)
    t = times(40)
    truth, cols = [], []
    for c in range(32):
        steps = [Step(T0 + 3 + 12 * k + rng.uniform(0, 6), float(rng.choice([-1, 1]) * rng.uniform(67, 1700)),
                      press_g=float(rng.uniform(60, 250))) for k in range(3)]
        truth += [(c, s.delta_g) for s in steps]
        cols.append(lane_signal(t, 10000, steps, rng=rng))
    changes, faults, _ = run(np.stack(cols, 1), t)
    assert not faults and len(changes) == len(truth)
    got = sorted((c.cell, c.delta_g) for c in changes)
    for (c0, d0), (c1, d1) in zip(sorted(truth), got):
        assert c0 == c1 and d1 == pytest.approx(d0, abs=20)


def test_isolated_bad_readings_are_skipped_without_fault():
    t = times(10)
    x = lane_signal(t, 5000, [])
    st = np.zeros((t.size, 1), np.uint8)
    x[50] = np.nan                    # NaN
    x[80] = 1e6                       # above capacity
    x[120] = -900.0                   # negative beyond noise
    st[150, 0] = STATUS_NO_DATA
    changes, faults, _ = run(x[:, None], t, st)
    assert changes == [] and faults == []


@pytest.mark.parametrize('kind', ['nan', 'high', 'negative', 'no_data', 'saturated', 'stuck'])
def test_fault_episode_raises_once_and_flags_the_change(kind):
    t = times(30)
    x = lane_signal(t, 5000, [Step(T0 + 6.0, -800.0)])
    st = np.zeros((t.size, 1), np.uint8)
    bad = slice(100, 160)             # 5 s .. 8 s: the pick happens during the fault
    if kind == 'nan':
        x[bad] = np.nan
    elif kind == 'high':
        x[bad] = 45000.0
    elif kind == 'negative':
        x[bad] = -2000.0
    elif kind == 'no_data':
        st[bad, 0] = STATUS_NO_DATA
    elif kind == 'saturated':
        st[bad, 0] = STATUS_SATURATED
    else:
        x[bad] = x[99]
    changes, faults, _ = run(x[:, None], t, st)
    starts = [f for f in faults if f.start]
    assert len(starts) == 1 and starts[0].reason
    assert [f.start for f in faults] == [True, False]          # the episode ends after fault_clear_s
    assert len(changes) == 1 and changes[0].fault
    assert changes[0].delta_g == pytest.approx(-800, abs=15)


def test_dead_cell_stays_one_episode():
    t = times(20)
    x = lane_signal(t, 5000, [])
    x[40:] = np.nan
    st = np.zeros((t.size, 1), np.uint8)
    st[40:, 0] = STATUS_NAN
    changes, faults, _ = run(x[:, None], t, st)
    assert changes == [] and len(faults) == 1 and faults[0].start


def test_config_change_keeps_running():
    t = times(10)
    x = lane_signal(t, 5000, [Step(T0 + 6.0, -500.0)])
    d = CellBlockDetector(np.array([10.0]), np.array([30000.0]), ShelfEventConfig())
    out = []
    for i, tt in enumerate(t):
        if i == 60:
            d.set_config(dataclasses.replace(ShelfEventConfig(), window_samples=6))
        out += d.update(float(tt), x[i:i + 1])[0]
    assert len(out) == 1 and out[0].delta_g == pytest.approx(-500, abs=15)
