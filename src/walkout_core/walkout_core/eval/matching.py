"""Match the graph's anonymous avatars to the simulator's true persons, for scoring only."""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Iterable

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ['stamp_s', 'frames_by_time', 'match_avatars_to_persons']


def stamp_s(stamp: Any) -> float:
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def frames_by_time(arrays: Iterable[Any], attr: str) -> tuple[np.ndarray, list[list[Any]]]:
    """Sort message arrays (``AvatarArray``/``TruthPersonArray``) by stamp: times and item lists."""
    items = sorted(((stamp_s(a.header.stamp), list(getattr(a, attr))) for a in arrays), key=lambda x: x[0])
    return np.array([t for t, _ in items]), [x for _, x in items]


def match_avatars_to_persons(truth_arrays: Iterable[Any], avatar_arrays: Iterable[Any],
                             max_dist_m: float = 0.6, max_dt_s: float = 0.15) -> dict[int, int]:
    """Avatar id -> person id, by majority of per-frame optimal matches within ``max_dist_m``.

    For every truth frame the avatar frame nearest in time (within ``max_dt_s``) is matched
    with the Hungarian method on floor distance; each avatar goes to the person it matched
    most often.
    """
    t_truth, truth = frames_by_time(truth_arrays, 'persons')
    t_av, avatars = frames_by_time(avatar_arrays, 'avatars')
    votes: dict[int, Counter[int]] = defaultdict(Counter)
    if len(t_av) == 0:
        return {}
    for t, persons in zip(t_truth, truth):
        k = int(np.clip(np.searchsorted(t_av, t), 0, len(t_av) - 1))
        if k > 0 and abs(t_av[k - 1] - t) < abs(t_av[k] - t):
            k -= 1
        if abs(t_av[k] - t) > max_dt_s:
            continue
        persons = [p for p in persons if getattr(p, 'inside', True)]
        avs = avatars[k]
        if not persons or not avs:
            continue
        P = np.array([[p.position.x, p.position.y] for p in persons])
        A = np.array([[a.position.x, a.position.y] for a in avs])
        d = np.linalg.norm(P[:, None, :] - A[None, :, :], axis=2)
        rows, cols = linear_sum_assignment(d)
        for r, c in zip(rows, cols):
            if d[r, c] <= max_dist_m:
                votes[int(avs[c].id)][int(persons[r].person_id)] += 1
    return {aid: c.most_common(1)[0][0] for aid, c in votes.items()}
