"""Likelihood of each avatar having made a shelf event, and the posterior with a "nobody" hypothesis.

Model (per avatar, over its samples in a window around the event stamp ``t_e``):

* each sample is weighted by a time prior ``N(t - t_e; 0, sigma_t)`` (normalised over the window):
  which sample is the moment the hand touched the lane;
* a sample with the arm seen extended has likelihood ``exp(-d2/2)``,
  ``d2 = |reach - lane|^2 / (sigma_r^2 + w * var_pos)``: the reach point decides, the body does not
  (crossing arms); an arm extended elsewhere gives ~0;
* a sample without a seen arm has ``missed_reach_likelihood * exp(-d2/2)`` with
  ``d2 = max(0, |body - lane| - arm_reach)^2 / (sigma_b^2 + w * var_pos)`` (a missed detection);

the avatar's likelihood is the weighted mixture (mean) over its samples, which averages the noise of
single samples instead of picking the luckiest one. The nobody hypothesis has the likelihood of an avatar whose best
evidence is ``nobody_sigmas`` away. Posteriors are normalised over avatars + nobody, after an
optional per-avatar prior weight (put-backs favour avatars holding the product).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import AssociationConfig
from .history import AvatarHistory, STATE_EXITED

__all__ = ['Candidate', 'score_candidates', 'posterior']


@dataclass(frozen=True)
class Candidate:
    avatar_id: int
    is_staff: bool
    log_likelihood: float
    used_reach: bool
    best_t: float                     # [s] stamp of the best sample
    best_dist_m: float                # [m] reach (or body) distance to the lane at the best sample
    body_dist_m: float                # [m] body distance to the lane at the best sample
    position: tuple[float, float]     # [m] body at the best sample
    reach: tuple[float, float] | None  # [m] reach point at the best sample


def score_candidates(history: AvatarHistory, cfg: AssociationConfig, t_event: float,
                     lane_xy: tuple[float, float], time_scale: float = 1.0) -> list[Candidate]:
    """Every avatar that came within ``candidate_radius_m`` of the lane in the window, scored.
    ``time_scale`` widens the window and the time prior (an event stamp that is less sure)."""
    lx, ly = lane_xy
    out: list[Candidate] = []
    sigma_t = cfg.time_sigma_s * time_scale
    t0, t1 = t_event - cfg.window_before_s * time_scale, t_event + cfg.window_after_s * time_scale
    tracks = history.tracks(t0, t1)
    # one normaliser for everybody: the time prior summed over every frame of the window, so an
    # avatar seen in only part of the window is not credited for the frames it missed
    frame_t = np.array([f.t for f in history.window(t0, t1)])
    z = float(np.exp(-0.5 * ((frame_t - t_event) / sigma_t) ** 2).sum()) if len(frame_t) else 0.0
    for aid, (ts, samples) in tracks.items():
        live = [(t, s) for t, s in zip(ts, samples) if s.state != STATE_EXITED]
        if not live:
            continue
        t = np.array([x[0] for x in live])
        px = np.array([x[1].x for x in live])
        py = np.array([x[1].y for x in live])
        var = np.array([x[1].position_variance for x in live]) * cfg.covariance_weight
        body = np.hypot(px - lx, py - ly)
        if body.min() > cfg.candidate_radius_m:
            continue
        # time prior of "this sample is the moment the hand was at the lane"
        w = np.exp(-0.5 * ((t - t_event) / sigma_t) ** 2)
        w = w / z if z > 0 else np.full(len(t), 1.0 / len(t))
        reach_mask = np.array([x[1].has_reach for x in live])
        rx = np.array([x[1].reach_x for x in live])
        ry = np.array([x[1].reach_y for x in live])
        rd = np.hypot(rx - lx, ry - ly)
        gap = np.maximum(0.0, body - cfg.arm_reach_m)
        d2_reach = rd ** 2 / (cfg.reach_sigma_m ** 2 + var)
        d2_body = gap ** 2 / (cfg.body_sigma_m ** 2 + var)
        # per sample: a seen hand must be at the lane; an unseen one may be (missed detection) if the
        # body is within arm's reach. The avatar's likelihood is the time-weighted mixture over samples.
        lik = np.where(reach_mask, np.exp(-0.5 * d2_reach), cfg.missed_reach_likelihood * np.exp(-0.5 * d2_body))
        total = float(np.dot(w, lik))
        ll = math.log(total) if total > 0 else -math.inf
        score = w * lik
        k = int(np.argmax(score)) if total > 0 else int(np.argmin(body))
        reach = (float(rx[k]), float(ry[k])) if reach_mask[k] else None
        best = float(rd[k]) if reach_mask[k] else float(body[k])
        s = live[k][1]
        out.append(Candidate(avatar_id=int(aid), is_staff=bool(s.is_staff), log_likelihood=ll,
                             used_reach=reach is not None, best_t=float(t[k]), best_dist_m=best,
                             body_dist_m=float(body[k]), position=(float(px[k]), float(py[k])),
                             reach=reach))
    return out


def posterior(cands: list[Candidate], cfg: AssociationConfig,
              weights: dict[int, float] | None = None) -> tuple[list[tuple[Candidate, float]], float]:
    """Candidates with their posterior, best first, and the posterior of "nobody"."""
    ll0 = -0.5 * cfg.nobody_sigmas ** 2
    lls = []
    for c in cands:
        w = 1.0 if weights is None else weights.get(c.avatar_id, 1.0)
        lls.append(c.log_likelihood + (math.log(w) if w > 0 else -math.inf))
    all_ll = np.array(lls + [ll0], dtype=float)
    m = np.max(all_ll)
    p = np.exp(all_ll - m)
    p /= p.sum()
    ranked = sorted(zip(cands, p[:-1].tolist()), key=lambda x: -x[1])
    return ranked, float(p[-1])
