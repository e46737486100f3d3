"""From shelf events and avatar tracks to basket changes (no ROS).

Feed avatar frames (:meth:`Associator.add_frame`, stamp order) and shelf events
(:meth:`Associator.add_shelf_event`, any order); :meth:`Associator.advance` returns the basket
changes of every job (shelf event or detected handover) whose stamp the avatar stream has
passed by ``decision_margin_s``, in stamp order, so that a handover sees the picks before it.
"""
from __future__ import annotations

import heapq
import json
import math
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Union

import numpy as np

from walkout_core.basket.model import (RESOLVED_SUFFIX, AlertInfo, AlertKind, BasketChange, Cause, ShelfFlag,
                                       review_alert_id)
from walkout_core.layout import Layout

from .config import AssociationConfig
from .handover import HandoverDetector, HandoverMeeting, chroma_distance
from .history import AvatarFrame, AvatarHistory
from .ledger import Ledger, Unit
from .scoring import Candidate, posterior, score_candidates

__all__ = ['ShelfEventIn', 'Associator']


@dataclass(frozen=True)
class ShelfEventIn:
    """The fields of a ``ShelfEvent`` the association needs; stamps in seconds."""
    event_id: str
    t: float                          # [s] hand time (weight started to change)
    shelf_id: str
    lane: int
    product_id: str
    quantity: int                     # > 0 taken from the shelf, < 0 put back
    lane_xy: tuple[float, float]      # [m] lane front
    flags: int = 0
    planogram_product_id: str = ''
    confidence: float = 1.0
    decided_t: float = 0.0            # [s] stamp of the reading that completed the event
    lane_z: float = 0.0               # [m]
    weight_change_g: float = math.nan  # [g] signed settled weight change (NaN: unknown)


Job = Union[ShelfEventIn, HandoverMeeting]


@dataclass(frozen=True)
class _OpenReview:
    """A pick sent to review, kept until it is resolved (by staff, or by later evidence here)."""
    basket_event_id: str
    shelf_event_id: str
    t: float                          # [s] stamp of the shelf event
    product_id: str
    quantity: int
    candidates: dict[int, float]      # avatar id -> posterior at the decision


class Associator:
    def __init__(self, cfg: AssociationConfig, layout: Layout):
        self.cfg = cfg
        self.layout = layout
        self.history = AvatarHistory(cfg.history_s)
        self.handovers = HandoverDetector(cfg, layout)
        self.ledger = Ledger()
        self.stats: Counter[str] = Counter()
        self._jobs: list[tuple[float, int, float, Job]] = []   # (stamp, seq, ready stamp, job)
        self._n = 0
        self._seen_events: set[str] = set()
        self._max_input_t = -math.inf
        self._recent: list[tuple[float, int, tuple[str, int]]] = []   # (stamp, avatar, lane) of decided events
        # picks sent to review and not resolved yet: basket event id -> the review (for later evidence)
        self._open_reviews: dict[str, _OpenReview] = {}
        self._own_resolutions: set[str] = set()    # REVIEW_RESOLVED event ids this associator emitted
        # products put back on a lane that is not theirs, still lying there: (shelf, lane) -> product -> count
        self._misplaced_on_lane: dict[tuple[str, int], Counter[str]] = {}

    # ------------------------------------------------------------------ inputs
    def add_frame(self, frame: AvatarFrame) -> bool:
        """Add a tracker update; False (and nothing changes) if its stamp is not newer."""
        if not self.history.add(frame):
            self.stats['frames_out_of_order'] += 1
            return False
        self._max_input_t = max(self._max_input_t, frame.t)
        for m in self.handovers.update(frame):
            self._push(m.t_detect, m, m.t_detect)
        return True

    def add_shelf_event(self, ev: ShelfEventIn) -> bool:
        """Queue a shelf event; False for a duplicate id or a zero quantity."""
        if ev.event_id in self._seen_events:
            self.stats['events_duplicate'] += 1
            return False
        if ev.quantity == 0:
            self.stats['events_zero_quantity'] += 1
            return False
        self._seen_events.add(ev.event_id)
        self._max_input_t = max(self._max_input_t, ev.decided_t)
        # a faulty cell's event looks further after its stamp, so it waits that much longer (and the
        # jobs after it wait for it: basket changes stay in stamp order)
        extra = (self.cfg.sensor_fault_time_scale - 1.0) * self.cfg.window_after_s \
            if ev.flags & ShelfFlag.SENSOR_FAULT else 0.0
        self._push(ev.t, ev, ev.t + extra)
        return True

    def apply_external(self, change: BasketChange) -> None:
        """A change decided elsewhere (a review resolved by staff): keep the ledger in step. Its review is
        no longer open; a resolution this associator emitted itself is already in the ledger."""
        if change.event_id in self._own_resolutions:
            return
        if change.cause == Cause.REVIEW_RESOLVED:
            self._open_reviews.pop(change.event_id.split(RESOLVED_SUFFIX)[0], None)
        if change.avatar_id and not change.needs_review:
            self.ledger.apply(change.avatar_id, change.product_id, change.quantity, change.t)

    @property
    def pending(self) -> int:
        return len(self._jobs)

    def _push(self, t: float, job: Job, ready_t: float) -> None:
        self._n += 1
        heapq.heappush(self._jobs, (t, self._n, ready_t, job))

    # ------------------------------------------------------------------ decisions
    def advance(self) -> list[BasketChange]:
        stream_t = self.history.latest_t
        horizon = self._max_input_t - self.cfg.max_wait_s
        if stream_t is not None:
            horizon = max(horizon, stream_t - self.cfg.decision_margin_s)
        out: list[BasketChange] = []
        while self._jobs and self._jobs[0][2] <= horizon:
            _, _, _, job = heapq.heappop(self._jobs)
            if isinstance(job, ShelfEventIn):
                out.extend(self.decide_event(job))
            else:
                out.extend(self.decide_handover(job))
        return out

    def replay(self, frames: Iterable[AvatarFrame], events: Iterable[ShelfEventIn]) -> list[BasketChange]:
        """A whole recorded stream: every frame in order, each shelf event added once the avatar stream reaches
        its decision stamp (as its message would arrive), then everything left decided -> all the changes."""
        pending = sorted(events, key=lambda e: e.decided_t)
        out: list[BasketChange] = []
        k = 0
        for frame in frames:
            while k < len(pending) and pending[k].decided_t <= frame.t:
                self.add_shelf_event(pending[k])
                k += 1
            self.add_frame(frame)
            out.extend(self.advance())
        for ev in pending[k:]:
            self.add_shelf_event(ev)
        out.extend(self.flush())
        return out

    def flush(self) -> list[BasketChange]:
        """Decide every queued job now (end of a replay), meetings still going on included."""
        for m in self.handovers.finish():
            self._push(m.t_detect, m, m.t_detect)
        saved, self._max_input_t = self._max_input_t, math.inf
        try:
            return self.advance()
        finally:
            self._max_input_t = saved

    def decide_event(self, ev: ShelfEventIn) -> list[BasketChange]:
        """A shelf event -> its basket change (one; two when a multi-unit pick is split between two shoppers)."""
        cfg = self.cfg
        self.stats['events'] += 1
        product = ev.product_id or ev.planogram_product_id
        unknown = bool(ev.flags & ShelfFlag.UNKNOWN) or not ev.product_id or product not in self.layout.catalogue
        fault = bool(ev.flags & ShelfFlag.SENSOR_FAULT)
        cands = score_candidates(self.history, cfg, ev.t, ev.lane_xy,
                                 cfg.sensor_fault_time_scale if fault else 1.0)
        weights = {c.avatar_id: 1.0 for c in cands}
        if ev.quantity < 0:
            for c in cands:
                if not c.is_staff and self.ledger.holds(c.avatar_id, product) == 0:
                    weights[c.avatar_id] *= cfg.put_back_non_holder_weight
        # one hand, one lane at a time: an avatar just given an event on another lane is less likely
        lane = (ev.shelf_id, ev.lane)
        self._recent = [r for r in self._recent if r[0] >= ev.t - cfg.busy_window_s]
        busy = {a for t, a, ln in self._recent if ln != lane and abs(t - ev.t) <= cfg.busy_window_s}
        for c in cands:
            if c.avatar_id in busy:
                weights[c.avatar_id] *= cfg.busy_weight
        carrying = self._carrying(product, ev) if not unknown and cfg.carry_colour_weight != 1.0 else set()
        for aid in carrying:
            if aid in weights:
                weights[aid] *= cfg.carry_colour_weight
        ranked, p_nobody = posterior(cands, cfg, weights)
        factor = 1.0
        if fault:
            factor *= cfg.sensor_fault_factor
        if unknown:
            factor *= cfg.unknown_product_factor
        if not ranked or p_nobody >= ranked[0][1]:
            best, conf, cause = None, p_nobody, Cause.UNASSIGNED
        else:
            best, conf = ranked[0]
            if best.is_staff:
                cause = Cause.RESTOCK
            elif ev.quantity > 0:
                cause = Cause.PICK
            else:
                cause = Cause.PUT_BACK_MISPLACED if ev.flags & ShelfFlag.MISPLACED else Cause.PUT_BACK
        conf *= factor
        if (cause == Cause.PICK and ev.quantity >= 2 and not unknown and cfg.split_min_share > 0
                and len(ranked) >= 2 and not ranked[1][0].is_staff and ranked[1][1] >= cfg.split_min_share
                and conf < cfg.review_confidence <= (ranked[0][1] + ranked[1][1]) * factor):
            return self._split_pick(ev, product, ranked, factor)
        review = best is None or conf < cfg.review_confidence
        quantity = int(ev.quantity)
        if not review and cause in (Cause.PICK, Cause.PUT_BACK, Cause.PUT_BACK_MISPLACED) and not unknown:
            product, quantity, cause = self._reinterpret(ev, best.avatar_id, product, quantity, cause)
        ch = BasketChange(
            event_id=f'b:{ev.event_id}', t=ev.t, avatar_id=best.avatar_id if best else 0,
            product_id=product, quantity=quantity, cause=cause, shelf_event_id=ev.event_id,
            confidence=float(conf), needs_review=review,
            candidate_avatar_ids=[c.avatar_id for c, _ in ranked],
            candidate_scores=[float(p) for _, p in ranked])
        if review:
            self.stats['events_review'] += 1
            ch.review = self._review_alert(ev, ch, ranked, p_nobody, unknown, carrying)
            if quantity > 0 and not unknown and ranked:
                self._open_reviews[ch.event_id] = _OpenReview(ch.event_id, ev.event_id, ev.t, product, quantity,
                                                              {c.avatar_id: float(p) for c, p in ranked})
        elif cause == Cause.RESTOCK:
            self.stats['events_restock'] += 1
        else:
            self.ledger.apply(ch.avatar_id, product, ch.quantity, ev.t)
        if not review:
            self._recent.append((ev.t, ch.avatar_id, lane))
        return [ch]

    def _split_pick(self, ev: ShelfEventIn, product: str, ranked: list[tuple[Candidate, float]],
                    factor: float) -> list[BasketChange]:
        """Several units left the lane at once and the two most likely shoppers were both there
        (``split_min_share``): two shoppers each took some, not one of them all. One unit each at least, the
        rest by likelihood; confidence = the chance that the pickers are these two."""
        (a, pa), (b, pb) = ranked[:2]
        n = int(ev.quantity)
        na = max(1, min(n - 1, int(round(n * pa / (pa + pb)))))
        conf = float((pa + pb) * factor)
        self.stats['events_split'] += 1
        out = []
        for suffix, cand, q in (('', a, na), (':split', b, n - na)):
            out.append(BasketChange(
                event_id=f'b:{ev.event_id}{suffix}', t=ev.t, avatar_id=cand.avatar_id, product_id=product,
                quantity=q, cause=Cause.PICK, shelf_event_id=ev.event_id, confidence=conf, needs_review=False,
                candidate_avatar_ids=[c.avatar_id for c, _ in ranked], candidate_scores=[float(p) for _, p in ranked]))
            self.ledger.apply(cand.avatar_id, product, q, ev.t)
            self._recent.append((ev.t, cand.avatar_id, (ev.shelf_id, ev.lane)))
        return out

    def _carrying(self, product_id: str, ev: ShelfEventIn) -> set[int]:
        """Avatars whose hand is seen holding the product near the lane: within ``carry_window_s`` after a
        pick (the product comes out in the hand), or before a put-back (it goes in); the hand within
        ``carry_radius_m`` of the lane and its colour within ``carry_colour_match`` of the packaging colour,
        and clearly nearer to it than that hand ever was on the other side of the event stamp (by
        ``carry_colour_gain``): a hand of that colour all along (a sleeve, or shelf stock under a shadow taken
        for a hand) is no evidence."""
        cfg = self.cfg
        colour = self._packaging_colour(product_id)
        if colour is None:
            return set()
        lx, ly = ev.lane_xy

        def best_match(t0: float, t1: float) -> dict[int, float]:
            """Avatar -> smallest chromaticity distance of its hand near the lane to the packaging colour."""
            out: dict[int, float] = {}
            for fr in self.history.window(t0, t1):
                for a in fr.avatars:
                    if (a.has_reach and a.hand_rgb is not None
                            and math.hypot(a.reach_x - lx, a.reach_y - ly) <= cfg.carry_radius_m):
                        out[a.id] = min(out.get(a.id, math.inf), chroma_distance(a.hand_rgb, colour))
            return out

        before = best_match(ev.t - cfg.carry_window_s, ev.t)
        after = best_match(ev.t + 1e-6, ev.t + cfg.carry_window_s)
        holding, other = (after, before) if ev.quantity > 0 else (before, after)
        return {a for a, d in holding.items()
                if d <= cfg.carry_colour_match and other.get(a, math.inf) > d + cfg.carry_colour_gain}

    def _fit(self, product_id: str, weight_g: float, max_units: int) -> tuple[int, float] | None:
        """Units k (1..max_units) of a product that explain ``weight_g``, and the misfit in tolerances."""
        p = self.layout.catalogue.get(product_id)
        if p is None or max_units < 1:
            return None
        k = int(round(weight_g / p.unit_weight_g))
        if not 1 <= k <= max_units:
            return None
        tol = p.tolerance_g * math.sqrt(k) + self.cfg.reinterpret_margin_g
        err = abs(weight_g - k * p.unit_weight_g)
        return (k, err / tol) if err <= tol else None

    def _reinterpret(self, ev: ShelfEventIn, avatar_id: int, product: str, quantity: int,
                     cause: Cause) -> tuple[str, int, Cause]:
        """Explain the weight change with what the avatar holds (put-back) or the lane holds (pick).

        Load cells cannot tell 1 x 1025 g rice from 2 x 515 g pasta. A put-back of a product the
        avatar does not hold is re-explained by the products it does hold; a pick from a lane on
        which a misplaced item lies is re-explained by that item when it needs fewer units.
        Also keeps the record of misplaced items per lane.
        """
        lane = (ev.shelf_id, ev.lane)
        on_lane = self._misplaced_on_lane.setdefault(lane, Counter())
        w = abs(ev.weight_change_g)
        planogram = ev.planogram_product_id or product
        if self.cfg.reinterpret_by_weight and math.isfinite(w) and w > 0:
            if quantity < 0 and self.ledger.holds(avatar_id, product) < -quantity:
                held = self.ledger.held(avatar_id)
                fits = [(f[1], pid, f[0]) for pid, n in held.items() if (f := self._fit(pid, w, n))]
                if fits:
                    _, pid, k = min(fits)
                    self.stats['reinterpreted_put_backs'] += 1
                    product, quantity = pid, -k
                    cause = Cause.PUT_BACK if pid == planogram else Cause.PUT_BACK_MISPLACED
            elif quantity > 0 and on_lane:
                fits = [(f[0], f[1], pid) for pid, n in on_lane.items() if n > 0 and (f := self._fit(pid, w, n))]
                if fits and min(fits)[0] < quantity:
                    k, _, pid = min(fits)
                    self.stats['reinterpreted_picks'] += 1
                    product, quantity = pid, k
        if product != planogram:
            if quantity < 0:
                on_lane[product] += -quantity
            elif on_lane.get(product, 0) > 0:
                on_lane[product] = max(0, on_lane[product] - quantity)
        return product, quantity, cause

    def _review_alert(self, ev: ShelfEventIn, ch: BasketChange, ranked: list[tuple[Candidate, float]],
                      p_nobody: float, unknown: bool, carrying: set[int] = frozenset()) -> AlertInfo:
        why = ('nobody near the shelf' if ch.avatar_id == 0 else
               'product not identified' if unknown else
               f'best candidate only {ch.confidence:.2f} likely')
        verb = 'taken from' if ev.quantity > 0 else 'put back on'
        evidence = {
            'event_stamp_s': ev.t, 'lane_position': list(ev.lane_xy), 'flags': ev.flags,
            'shelf_confidence': ev.confidence, 'nobody_posterior': p_nobody,
            'candidates': [{'avatar_id': c.avatar_id, 'posterior': p, 'is_staff': c.is_staff,
                            'used_reach': c.used_reach, 'best_stamp_s': c.best_t,
                            'best_distance_m': c.best_dist_m, 'body_distance_m': c.body_dist_m,
                            'position': list(c.position), 'reach_point': list(c.reach) if c.reach else None,
                            'hand_showed_product': c.avatar_id in carrying}
                           for c, p in ranked],
        }
        return AlertInfo(
            alert_id=review_alert_id(ch.event_id), kind=AlertKind.REVIEW_NEEDED,
            message=f'{abs(ev.quantity)} x {ch.product_id or "unknown product"} {verb} {ev.shelf_id} '
                    f'lane {ev.lane}: {why}',
            shelf_id=ev.shelf_id, lane=int(ev.lane), location=(ev.lane_xy[0], ev.lane_xy[1], ev.lane_z),
            product_ids=[ch.product_id] if ch.product_id else [],
            avatar_ids=list(ch.candidate_avatar_ids), avatar_scores=list(ch.candidate_scores),
            event_ids=[ev.event_id, ch.event_id], stamp=ev.t,
            evidence_start=ev.t - self.cfg.window_before_s, evidence_end=ev.t + self.cfg.window_after_s,
            evidence_json=json.dumps(evidence, sort_keys=True))

    def _nothing_held_seen(self, m: HandoverMeeting) -> bool:
        """The meeting hands were seen in colour ``handover_colour_veto_n`` times or more and not once in the
        colour of a product either of the two holds: what met was no held product."""
        cfg = self.cfg
        if cfg.handover_colour_veto_n <= 0 or len(m.hand_rgbs) < cfg.handover_colour_veto_n:
            return False
        return bool(self._held_colours([m.avatar_a, m.avatar_b])) and not self._held_product_seen(m)

    def _held_product_seen(self, m: HandoverMeeting) -> bool:
        """Did a colour seen at the meeting hands match (``handover_colour_match``) a product either holds?"""
        return any(self._colour_votes(m, c) for c in self._held_colours([m.avatar_a, m.avatar_b]).values())

    def _packaging_colour(self, product_id: str) -> tuple[float, float, float] | None:
        """The catalogue packaging colour of a product (None: unknown product, or no colour)."""
        p = self.layout.catalogue.get(product_id)
        return None if p is None else p.colour_rgb

    def _colour_votes(self, m: HandoverMeeting, rgb: tuple[float, float, float]) -> int:
        """How many of the colours seen at the meeting hands are ``rgb`` (within ``handover_colour_match``)."""
        return sum(chroma_distance(seen, rgb) <= self.cfg.handover_colour_match for seen in m.hand_rgbs)

    def _held_colours(self, avatars: list[int]) -> dict[str, tuple[float, float, float]]:
        """Product -> catalogue packaging colour, for the units the avatars picked (products without one
        left out)."""
        out = {}
        for a in avatars:
            for u in self.ledger.handable(a):
                colour = self._packaging_colour(u.product_id)
                if colour is not None:
                    out[u.product_id] = colour
        return out

    def _handed_by_colour(self, m: HandoverMeeting) -> tuple[bool, Unit, float] | None:
        """Which held product crossed, from the colours seen at the meeting hands -> (avatar_a gives, the
        unit, confidence), or None when the colours do not tell. Each colour votes for the candidate
        product (a unit either of the two picked) whose catalogue packaging colour it matches within
        ``handover_colour_match`` and better than every other candidate's by ``handover_colour_margin``
        (chromaticity distance). The product with most votes, if exactly one of the two holds it, is the
        one handed; confidence (votes + 1) / (all votes + 2)."""
        cfg = self.cfg
        if cfg.handover_colour_match <= 0 or not m.hand_rgbs:
            return None
        units = {m.avatar_a: self.ledger.handable(m.avatar_a), m.avatar_b: self.ledger.handable(m.avatar_b)}
        colours = self._held_colours([m.avatar_a, m.avatar_b])
        if not colours:
            return None
        votes: Counter[str] = Counter()
        for rgb in m.hand_rgbs:
            ds = sorted((chroma_distance(rgb, c), p) for p, c in colours.items())
            if ds[0][0] <= cfg.handover_colour_match and (
                    len(ds) == 1 or ds[1][0] - ds[0][0] >= cfg.handover_colour_margin):
                votes[ds[0][1]] += 1
        if not votes:
            return None
        pid, v = votes.most_common(1)[0]
        holders = [aid for aid, us in units.items() if any(u.product_id == pid for u in us)]
        if len(holders) != 1:
            return None
        unit = next(u for u in units[holders[0]] if u.product_id == pid)
        return holders[0] == m.avatar_a, unit, (v + 1) / (sum(votes.values()) + 2)

    def decide_handover(self, m: HandoverMeeting) -> list[BasketChange]:
        self.stats['handovers'] += 1
        base = f'h:{m.avatar_a}:{m.avatar_b}:{int(round(m.t_start * 1000))}'
        seen = self._handed_by_colour(m)
        if seen is None and (third := self._third_holder(m)) is not None:
            giver, receiver, unit, conf = third
            self.stats['handovers_third_holder'] += 1
            return self._handover_changes(m, base, giver, receiver, unit, conf)
        if seen is None and (hind := self._review_hindsight(m)) is not None:
            review, picker, receiver, conf = hind
            self.stats['reviews_resolved_by_handover'] += 1
            del self._open_reviews[review.basket_event_id]
            resolved = BasketChange(
                event_id=review.basket_event_id + RESOLVED_SUFFIX, t=review.t, avatar_id=picker,
                product_id=review.product_id, quantity=review.quantity, cause=Cause.REVIEW_RESOLVED,
                shelf_event_id=review.shelf_event_id, confidence=float(conf), candidate_avatar_ids=[picker],
                candidate_scores=[float(conf)])
            self._own_resolutions.add(resolved.event_id)
            self.ledger.add(picker, review.product_id, review.quantity, review.t)
            unit = next(u for u in self.ledger.handable(picker) if u.product_id == review.product_id)
            return [resolved] + self._handover_changes(m, base, picker, receiver, unit, conf)
        ua, ub = self.ledger.last_handable(m.avatar_a), self.ledger.last_handable(m.avatar_b)
        if ua is None and ub is None:
            self.stats['handovers_empty'] += 1
            return []
        if m.short and seen is None and not self._held_product_seen(m):
            self.stats['handovers_short_unconfirmed'] += 1     # a short hold the colours do not confirm
            return []
        if self._nothing_held_seen(m):
            self.stats['handovers_vetoed'] += 1
            return []
        unclear = False
        if seen is not None:                # the product seen crossing at the hands: its holder gives it
            a_gives, unit, conf = seen
            ua, ub = (unit, ub) if a_gives else (ua, unit)
        elif ua is None or ub is None:      # one of them holds something: that one gives
            conf, a_gives = 1.0, ub is None
        else:
            # both hold items and nothing seen tells who gives: the more recent picker is a guess (0.5)
            conf, a_gives, unclear = 0.5, ua.seq > ub.seq, True
        if a_gives:
            giver, receiver, unit = m.avatar_a, m.avatar_b, ua
        else:
            giver, receiver, unit = m.avatar_b, m.avatar_a, ub
        assert unit is not None
        if unclear and self.cfg.handover_review_unclear:
            self.stats['handovers_review'] += 1
            return [self._handover_review(m, base, giver, receiver, unit)]
        return self._handover_changes(m, base, giver, receiver, unit, conf)

    def _handover_changes(self, m: HandoverMeeting, base: str, giver: int, receiver: int, unit: Unit,
                          conf: float) -> list[BasketChange]:
        """Move ``unit`` from giver to receiver: in the ledger, and as HANDOVER_OUT + HANDOVER_IN."""
        self.ledger.move(giver, receiver, unit, m.t_detect)
        common = dict(t=m.t_start, product_id=unit.product_id, confidence=float(conf),
                      candidate_avatar_ids=[giver, receiver], candidate_scores=[float(conf), float(1 - conf)])
        return [BasketChange(event_id=f'{base}:out', avatar_id=giver, counterpart_avatar_id=receiver,
                             quantity=-1, cause=Cause.HANDOVER_OUT, **common),
                BasketChange(event_id=f'{base}:in', avatar_id=receiver, counterpart_avatar_id=giver,
                             quantity=1, cause=Cause.HANDOVER_IN, **common)]

    def _third_holder(self, m: HandoverMeeting) -> tuple[int, int, Unit, float] | None:
        """The meeting hands showed (within ``handover_colour_match``) a product neither of the two holds,
        but a third shopper standing within ``handover_third_holder_m`` of one of them does: the tracker
        put that one's hand on its neighbour (two bodies that close merge in the cameras). The third
        shopper gives it to the other of the two -> (giver, receiver, unit, confidence), or None."""
        cfg = self.cfg
        if cfg.handover_third_holder_m <= 0 or cfg.handover_colour_match <= 0 or not m.hand_rgbs:
            return None
        tracks = self.history.tracks(m.t_start, m.t_detect)
        if m.avatar_a not in tracks or m.avatar_b not in tracks:
            return None
        mean = {aid: (float(np.mean([s.x for s in ss])), float(np.mean([s.y for s in ss])))
                for aid, (_, ss) in tracks.items() if not ss[-1].is_staff}
        best = None
        for c, (x, y) in mean.items():
            if c in (m.avatar_a, m.avatar_b):
                continue
            da, db = (math.hypot(x - mean[k][0], y - mean[k][1]) for k in (m.avatar_a, m.avatar_b))
            if min(da, db) > cfg.handover_third_holder_m:
                continue
            for u in self.ledger.handable(c):
                colour = self._packaging_colour(u.product_id)
                n = 0 if colour is None else self._colour_votes(m, colour)
                if n and (best is None or (n, -min(da, db)) > best[0]):
                    receiver = m.avatar_b if da <= db else m.avatar_a   # c stands in for its nearer neighbour
                    best = ((n, -min(da, db)), c, receiver, u)
        if best is None:
            return None
        (n, _), giver, receiver, unit = best
        return giver, receiver, unit, (n + 1) / (len(m.hand_rgbs) + 2)

    def _review_hindsight(self, m: HandoverMeeting) -> tuple[_OpenReview, int, int, float] | None:
        """The meeting hands showed (within ``handover_colour_match``) the product of a pick still under
        review, and one of the two was that review's candidate at least ``review_hindsight_ratio`` times as
        likely as the other: that one picked it and now hands it over -> (review, picker, receiver,
        confidence = its share of the two's posteriors), or None."""
        cfg = self.cfg
        if cfg.review_hindsight_ratio <= 0 or cfg.handover_colour_match <= 0 or not m.hand_rgbs:
            return None
        for k in [k for k, r in self._open_reviews.items() if r.t < m.t_start - cfg.review_hindsight_window_s]:
            del self._open_reviews[k]      # too long ago to be what is handed now
        best = None
        for r in self._open_reviews.values():
            colour = self._packaging_colour(r.product_id)
            if colour is None or r.quantity != 1:
                continue
            n = self._colour_votes(m, colour)
            pa, pb = r.candidates.get(m.avatar_a, 0.0), r.candidates.get(m.avatar_b, 0.0)
            hi, lo = max(pa, pb), min(pa, pb)
            if not n or hi <= 0 or hi < cfg.review_hindsight_ratio * lo:
                continue
            if best is None or (n, hi) > best[0]:
                picker, receiver = (m.avatar_a, m.avatar_b) if pa > pb else (m.avatar_b, m.avatar_a)
                best = ((n, hi), r, picker, receiver, hi / (pa + pb))
        return None if best is None else best[1:]

    def _handover_review(self, m: HandoverMeeting, base: str, giver: int, receiver: int, unit: Unit) -> BasketChange:
        """A handover whose product nothing seen tells: one HANDOVER_IN change under review, proposing
        ``unit`` from ``giver`` to ``receiver``. Staff name who received it (the other one gave it) or
        0 (no handover); until then both baskets stay as they are (and neither can pay)."""
        held = {a: [u.product_id for u in self.ledger.handable(a)] for a in (giver, receiver)}
        ch = BasketChange(event_id=f'{base}:review', t=m.t_start, avatar_id=receiver, counterpart_avatar_id=giver,
                          product_id=unit.product_id, quantity=1, cause=Cause.HANDOVER_IN, confidence=0.5,
                          needs_review=True, candidate_avatar_ids=[receiver, giver], candidate_scores=[0.5, 0.5])
        evidence = {'meeting_start_s': m.t_start, 'meeting_end_s': m.t_detect, 'meeting_point': list(m.point),
                    'hand_colours_seen': len(m.hand_rgbs), 'held': {str(a): p for a, p in held.items()},
                    'proposed': {'giver': giver, 'receiver': receiver, 'product_id': unit.product_id}}
        ch.review = AlertInfo(
            alert_id=review_alert_id(ch.event_id), kind=AlertKind.REVIEW_NEEDED,
            message=f'handover between avatars {giver} and {receiver}: both hold items and the hands did not show '
                    f'which crossed (proposed: {unit.product_id} from {giver} to {receiver}); resolve with the '
                    f'avatar who received it, 0 = no handover',
            location=(m.point[0], m.point[1], 1.0),
            product_ids=list(dict.fromkeys([unit.product_id, *held[giver], *held[receiver]])),
            avatar_ids=[receiver, giver], avatar_scores=[0.5, 0.5], event_ids=[ch.event_id], stamp=m.t_start,
            evidence_start=m.t_start, evidence_end=m.t_detect, evidence_json=json.dumps(evidence, sort_keys=True))
        return ch
