"""Tracker contract: updates every frame, per-instance ids, input checks before state changes,
stamp time, gates, occlusion, standing still, fusion, states, colours, retention, synchronisation."""
import copy
import math

import pytest

from walkout_core.config import from_mapping
from walkout_core.layout import load_layout
from walkout_core.tracking.config import TrackerConfig
from walkout_core.tracking.sync import StampSynchroniser
from walkout_core.tracking.tracker import (STATE_AT_CHECKOUT, STATE_ENTERING, STATE_EXITED, STATE_SHOPPING,
                                           TRACK_CONFIRMED, TRACK_DELETED, TRACK_OCCLUDED, AvatarTracker,
                                           CameraFrame, TrackerInputError)
from walkout_core.vision.detector import Detection

T0 = 1_780_000_000.0


@pytest.fixture(scope='module')
def small():
    return load_layout('small')


def det(x, y, sigma=0.05, hand=None):
    if hand is None:
        return Detection(x, y, sigma, 0.2, 0.12, 1.0)
    return Detection(x, y, sigma, 0.2, 0.12, 1.0, True, hand[0], hand[1])


def frame(*dets, cam='cam0'):
    return [CameraFrame(cam, True, list(dets))]


def walk(a, b, n):
    return [(a[0] + (b[0] - a[0]) * k / (n - 1), a[1] + (b[1] - a[1]) * k / (n - 1)) for k in range(n)]


def run(tr, path, t0=T0, dt=0.1):
    outs = []
    for k, p in enumerate(path):
        outs.append(tr.update(t0 + k * dt, frame(det(*p)) if p is not None else []))
    return outs


def enter(tr, t0=T0):
    """A shopper walks in through the entry gate (x 0.6..1.8, y 0..0.4) to (1.2, 1.5)."""
    return run(tr, walk((1.2, 0.2), (1.2, 1.5), 14), t0)


def test_born_at_entry_confirmed_and_shopping(small):
    tr = AvatarTracker(small)
    outs = enter(tr)
    assert outs[0].avatars == ()                       # tentative avatars are not published
    a = outs[-1].avatars
    assert len(a) == 1 and a[0].track_status == TRACK_CONFIRMED and a[0].id == 1
    assert a[0].state == STATE_SHOPPING and not a[0].is_staff
    assert outs[3].avatars[0].state == STATE_ENTERING
    assert abs(a[0].x - 1.2) < 0.05 and abs(a[0].y - 1.5) < 0.08
    assert a[0].first_seen == T0 and a[0].last_seen == pytest.approx(T0 + 1.3)


def test_no_birth_away_from_gates_and_staff_at_staff_door(small):
    tr = AvatarTracker(small)
    outs = run(tr, [(4.0, 3.0)] * 10)
    assert all(o.avatars == () for o in outs)
    outs = run(tr, walk((0.2, 5.1), (1.2, 5.1), 10), T0 + 2.0)
    assert len(outs[-1].avatars) == 1 and outs[-1].avatars[0].is_staff


def test_update_every_frame_without_detections_and_occlusion_keeps_the_avatar(small):
    tr = AvatarTracker(small)
    enter(tr)
    t = T0 + 1.4
    out = None
    for k in range(300):                               # 30 s hidden, updates with no detections
        out = tr.update(t + 0.1 * k, [])
        assert len(out.avatars) == 1
    assert out.avatars[0].track_status == TRACK_OCCLUDED
    assert tr.last_stamp == pytest.approx(t + 29.9)
    out = tr.update(t + 30.0, frame(det(1.3, 1.7)))   # reappears a little further: same avatar
    assert [a.id for a in out.avatars] == [1] and out.avatars[0].track_status == TRACK_CONFIRMED


def test_occlusion_while_walking_then_reappearance_keeps_the_id(small):
    tr = AvatarTracker(small)
    enter(tr)
    path = walk((1.2, 1.6), (4.0, 1.6), 30)
    seen = [p if not 10 <= k < 25 else None for k, p in enumerate(path)]  # hidden 1.5 s
    outs = run(tr, seen, T0 + 1.4)
    assert {a.id for o in outs for a in o.avatars} == {1}
    assert outs[-1].avatars[0].track_status == TRACK_CONFIRMED


def test_standing_still_for_minutes_is_not_lost(small):
    tr = AvatarTracker(small)
    enter(tr)
    outs = run(tr, [(1.2, 1.5)] * 3000, T0 + 1.4)     # 5 minutes at 10 Hz
    assert [a.id for a in outs[-1].avatars] == [1]
    assert outs[-1].avatars[0].track_status == TRACK_CONFIRMED


def test_exit_reported_once_then_gone(small):
    tr = AvatarTracker(small)
    enter(tr)
    outs = run(tr, walk((1.3, 1.5), (6.8, 0.2), 50) + [None] * 10, T0 + 1.4)
    exited = [a for o in outs for a in o.avatars if a.state == STATE_EXITED]
    assert len(exited) == 1 and exited[0].track_status == TRACK_DELETED and exited[0].id == 1
    assert outs[-1].avatars == ()
    assert tr.exited and tr.exited[0][1] == 1


def test_lost_near_the_exit_is_out_only_after_the_slow_miss(small):
    # the exit gate is y 0..0.4; lost at y 0.85 (0.45 from it: inside exit_slow_margin_m, outside exit_margin_m)
    cfg = TrackerConfig(exit_margin_m=0.3, exit_miss_s=0.3, exit_slow_margin_m=0.5, exit_slow_miss_s=1.0)
    tr = AvatarTracker(small, cfg)
    enter(tr)
    outs = run(tr, walk((1.3, 1.5), (6.8, 0.85), 40) + [(6.8, 0.85)] * 10 + [None] * 7, T0 + 1.4)
    assert not any(a.state == STATE_EXITED for o in outs for a in o.avatars)       # 0.7 s: hidden in the crowd
    outs = run(tr, [(6.85, 0.9)] + [None] * 12, outs[-1].stamp + 0.1)               # seen again, then lost 1.2 s
    exited = [(o.stamp, a) for o in outs for a in o.avatars if a.state == STATE_EXITED]
    assert len(exited) == 1 and exited[0][1].id == 1
    assert 1.0 - 1e-6 <= exited[0][0] - outs[0].stamp <= 1.1 + 1e-6               # the first tick after 1 s
    # lost at the door itself (within exit_margin_m): out after exit_miss_s
    tr = AvatarTracker(small, cfg)
    enter(tr)
    outs = run(tr, walk((1.3, 1.5), (6.8, 0.5), 40) + [None] * 5, T0 + 1.4)
    exited = [(o.stamp, a) for o in outs for a in o.avatars if a.state == STATE_EXITED]
    assert len(exited) == 1 and 0.3 - 1e-6 <= exited[0][0] - outs[39].stamp <= 0.4 + 1e-6


def test_ids_are_per_tracker_instance(small):
    a, b = AvatarTracker(small), AvatarTracker(small)
    enter(a)
    enter(b)
    enter(a, T0 + 5.0)
    assert [x.id for x in b.update(T0 + 10, []).avatars] == [1]
    assert sorted(x.id for x in a.update(T0 + 10, []).avatars) == [1, 2]


def test_bad_input_is_rejected_before_any_state_change(small):
    tr = AvatarTracker(small)
    enter(tr)
    before = (copy.deepcopy([(t.id, t.kf.x.copy(), t.kf.P.copy(), t.status, t.last_seen) for t in tr.tracks]),
              tr.last_stamp)
    for bad in (float('nan'), T0 + 1.3, T0 - 5, 'x'):  # NaN, repeated, going back, not a number
        with pytest.raises(TrackerInputError):
            tr.update(bad, frame(det(1.2, 1.6)))
    after = [(t.id, t.kf.x, t.kf.P, t.status, t.last_seen) for t in tr.tracks]
    assert tr.last_stamp == before[1]
    for (i0, x0, p0, s0, l0), (i1, x1, p1, s1, l1) in zip(before[0], after):
        assert (i0, s0, l0) == (i1, s1, l1) and (x0 == x1).all() and (p0 == p1).all()
    out = tr.update(T0 + 1.4, frame(det(float('nan'), 1.0), det(1.2, 1.6), det(50.0, 50.0)))
    assert out.rejected == 2 and len(out.avatars) == 1 and out.avatars[0].track_status == TRACK_CONFIRMED


def test_time_comes_from_stamps_only(small):
    """The same detections at another epoch give the same avatars (no wall clock)."""
    path = walk((1.2, 0.2), (3.0, 1.5), 25)
    a = run(AvatarTracker(small), path, T0)
    b = run(AvatarTracker(small), path, T0 + 12345.0)
    for x, y in zip(a, b):
        assert [(v.id, round(v.x, 9), round(v.y, 9), round(v.vx, 9)) for v in x.avatars] == \
            [(v.id, round(v.x, 9), round(v.y, 9), round(v.vx, 9)) for v in y.avatars]
    slow = run(AvatarTracker(small), walk((1.2, 0.2), (3.0, 1.5), 13), T0, dt=0.2)
    assert slow[-1].avatars[0].vx == pytest.approx(a[-1].avatars[0].vx, rel=0.15)


def test_overlapping_cameras_give_one_avatar(small):
    tr = AvatarTracker(small)
    for k, (x, y) in enumerate(walk((1.2, 0.2), (1.2, 1.5), 14)):
        out = tr.update(T0 + 0.1 * k, [CameraFrame('cam0', True, [det(x + 0.04, y)]),
                                       CameraFrame('cam1', True, [det(x - 0.04, y + 0.03, sigma=0.25)])])
    assert len(out.avatars) == 1 and abs(out.avatars[0].x - 1.2) < 0.05
    assert out.measurements == 1


def test_reach_point_follows_its_avatar(small):
    tr = AvatarTracker(small)
    enter(tr)
    out = tr.update(T0 + 1.4, frame(det(1.2, 1.5, hand=(1.3, 2.0))))
    a = out.avatars[0]
    assert a.has_reach and (a.reach_x, a.reach_y) == (1.3, 2.0)
    out = tr.update(T0 + 1.5, frame(det(1.2, 1.5)))
    assert not out.avatars[0].has_reach


def test_checkout_zone_state(small):
    tr = AvatarTracker(small)
    enter(tr)
    outs = run(tr, walk((1.3, 1.5), (4.5, 1.0), 30), T0 + 1.4)
    a = outs[-1].avatars[0]
    assert a.state == STATE_AT_CHECKOUT and a.checkout_zone_id == 'checkout_1'


def test_nearby_avatars_get_distinct_colours(small):
    tr = AvatarTracker(small)
    for k in range(14):
        tr.update(T0 + 0.1 * k, frame(det(0.8, 0.2 + 0.1 * k), det(1.6, 0.2 + 0.1 * k)))
    cols = [a.colour for a in tr.update(T0 + 1.4, frame(det(0.8, 1.6), det(1.6, 1.6))).avatars]
    assert len(cols) == 2 and math.dist(cols[0], cols[1]) > 0.3


def test_exited_summaries_are_purged_after_retention(small):
    tr = AvatarTracker(small, TrackerConfig(exited_retention_s=10.0))
    enter(tr)
    run(tr, walk((1.3, 1.5), (6.8, 0.2), 50) + [None] * 10, T0 + 1.4)
    assert len(tr.exited) == 1
    tr.update(T0 + 30.0, [])
    assert tr.exited == []


def test_config_ranges():
    with pytest.raises(ValueError, match='gate_chi2'):
        from_mapping(TrackerConfig, {'gate_chi2': -1.0})
    with pytest.raises(ValueError, match='reacquire_base_m'):
        from_mapping(TrackerConfig, {'reacquire_base_m': 5.0, 'reacquire_max_m': 1.0})
    with pytest.raises(Exception):
        TrackerConfig().gate_chi2 = 3.0                # frozen


def test_sync_waits_for_live_cameras_and_not_for_dead_ones():
    s = StampSynchroniser(['a', 'b'], latency_window_s=0.3, dead_after_s=1.0, tolerance_s=0.01)
    assert s.add('a', 10.0, 'a0') == []
    assert s.add('b', 10.0, 'b0') == [(10.0, {'a': 'a0', 'b': 'b0'})]
    assert s.add('b', 10.05, 'late?') == []           # b alone at a new stamp: waits for a
    out = s.add('a', 10.1, 'a1')                      # a moved on: 10.05 is complete
    assert out == [(10.05, {'b': 'late?'})]
    # b dies: a's instants are released once the latency window passes, then without waiting
    got = []
    for k in range(2, 30):
        got += s.add('a', 10.0 + 0.1 * k, k)
    stamps = [g[0] for g in got]
    assert stamps == sorted(stamps) and stamps[-1] == pytest.approx(12.9)  # b dead: no waiting at all
    assert s.live_cameras() == ['a']
    assert s.add('b', 10.2, 'old') == [] and s.late == 1  # too late: dropped, counted
    assert s.flush() == []


def test_sync_flush_releases_what_is_pending():
    s = StampSynchroniser(['a', 'b'], latency_window_s=5.0, dead_after_s=10.0)
    s.add('a', 1.0, 1)
    s.add('a', 2.0, 2)
    assert [g[0] for g in s.flush()] == [1.0, 2.0]


def test_fused_hand_is_the_one_most_cameras_see():
    """Four cameras see one person: the sharpest sees a false hand to the side (a shadow, a sleeve), the other
    three the hand at the shelf. The fused reach point is the three's, not the sharpest camera's (flash seed
    159: the pick went to a neighbour while the picker's fused hand stayed 0.57 m off the lane)."""
    from walkout_core.tracking.fusion import Measurement, fuse

    def m(cam, sigma, reach):
        return Measurement(4.05, 4.14, sigma, cam, True, reach[0], reach[1], 1.0, 1, 0.1)

    dets = [m(0, 0.05, (3.71, 4.16)), m(1, 0.06, (4.02, 4.47)), m(2, 0.06, (4.08, 4.64)), m(3, 0.07, (4.04, 4.64))]
    (z,) = fuse(dets, 0.35)
    assert z.has_reach and z.reach_y > 4.4 and abs(z.reach_x - 4.05) < 0.05
    # two cameras that disagree: the sharper one's hand, as before
    (z,) = fuse(dets[:2], 0.35)
    assert (z.reach_x, z.reach_y) == (3.71, 4.16)


def _taken_back_far_away(small, restart_m):
    """Enter, hide for 8 s, take back a detection 2.5 m away, then 0.2 s with no detection: the avatar."""
    tr = AvatarTracker(small, from_mapping(TrackerConfig, {'reacquire_restart_m': restart_m}))
    enter(tr)
    t = T0 + 1.4
    for k in range(80):
        tr.update(t + 0.1 * k, [])
    out = tr.update(t + 8.0, frame(det(3.7, 1.5)))
    assert [a.id for a in out.avatars] == [1] and out.avatars[0].track_status == TRACK_CONFIRMED
    return tr.update(t + 8.2, []).avatars[0]


def test_taken_back_far_away_the_avatar_starts_there_at_rest(small):
    """Taken back farther than reacquire_restart_m, the filter restarts at the detection at rest. Updated across
    the jump instead, its velocity and covariance (grown while hidden) fling it off at speed."""
    a = _taken_back_far_away(small, 0.7)
    assert math.hypot(a.x - 3.7, a.y - 1.5) < 0.1 and math.hypot(a.vx, a.vy) < 0.2
    b = _taken_back_far_away(small, 100.0)             # restart off
    assert math.hypot(b.vx, b.vy) > 5 * max(math.hypot(a.vx, a.vy), 0.1)
