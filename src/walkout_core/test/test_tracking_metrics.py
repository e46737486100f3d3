"""tracking_metrics with py-motmetrics: perfect tracks, an identity switch, reach error, nothing to score."""
from types import SimpleNamespace as NS

import pytest

from walkout_core.eval.tracking_metrics import avatar_outputs_to_arrays, tracking_metrics
from walkout_core.tracking.tracker import AvatarState, TrackerOutput


def stamp(t):
    return NS(sec=int(t), nanosec=int(round((t - int(t)) * 1e9)))


def person(pid, x, y, reach=None):
    return NS(person_id=pid, is_staff=False, inside=True, position=NS(x=x, y=y, z=0.0), reaching=reach is not None,
              reach_point=NS(x=reach[0], y=reach[1], z=1.0) if reach else NS(x=0.0, y=0.0, z=0.0))


def avatar(aid, x, y, reach=None):
    return NS(id=aid, state=1, track_status=1, position=NS(x=x, y=y, z=0.0), has_reach=reach is not None,
              reach_point=NS(x=reach[0], y=reach[1], z=1.0) if reach else NS(x=x, y=y, z=0.0))


def scene(n=600, switch_at=None, reach_err=0.05):
    truth, avs = [], []
    for k in range(n):
        t = 100.0 + 0.1 * k
        x = 0.5 + 0.005 * k
        r = (x, 2.5) if 100 <= k < 200 else None
        truth.append(NS(header=NS(stamp=stamp(t)), persons=[person(1, x, 1.0, r), person(2, x, 3.0)]))
        a1 = 7 if switch_at is None or k < switch_at else 9
        ra = (x + reach_err, 2.5) if r else None
        avs.append(NS(header=NS(stamp=stamp(t + 0.02)), avatars=[avatar(a1, x + 0.03, 1.0, ra), avatar(8, x, 3.02)]))
    return truth, avs


def test_perfect_tracking():
    m = tracking_metrics(*scene())
    assert m['mota'] == pytest.approx(1.0) and m['idf1'] == pytest.approx(1.0)
    assert m['id_switches_per_100_min'] == 0.0
    assert m['reach_error_p95_m'] == pytest.approx(0.05, abs=1e-6)
    assert m['reach_recall'] == pytest.approx(1.0)
    assert m['shopper_minutes'] == pytest.approx(2.0, rel=0.01)   # 2 persons x 60 s


def test_identity_switch_is_counted():
    m = tracking_metrics(*scene(switch_at=300))
    assert m['id_switches_per_100_min'] == pytest.approx(1 / 2.0 * 100, rel=0.01)
    assert m['idf1'] < 0.8 and m['mota'] > 0.99


def test_missed_person_lowers_mota():
    truth, avs = scene()
    for a in avs:
        a.avatars = a.avatars[:1]
    m = tracking_metrics(truth, avs)
    assert m['mota'] == pytest.approx(0.5, abs=0.01)


def test_nothing_to_score_gives_none():
    m = tracking_metrics([], [])
    assert set(m) >= {'mota', 'idf1', 'id_switches_per_100_min', 'reach_error_p95_m'}
    assert all(v is None for v in m.values())
    truth, _ = scene(20)
    m = tracking_metrics(truth, [])
    assert m['mota'] == pytest.approx(0.0) and m['reach_error_p95_m'] is None


def test_core_outputs_convert_to_message_like_arrays():
    st = AvatarState(3, (1, 0, 0), 1, 1, False, '', 1.0, 2.0, 0.0, 0.0, (0.01, 0, 0, 0.01), True, 1.5, 2.5, 0.0, 1.0)
    arr = avatar_outputs_to_arrays([TrackerOutput(1_780_000_000.25, (st,))])
    assert arr[0].header.stamp.sec == 1_780_000_000 and arr[0].header.stamp.nanosec == 250_000_000
    assert arr[0].avatars[0].reach_point.x == 1.5 and arr[0].avatars[0].id == 3
