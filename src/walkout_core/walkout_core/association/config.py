"""Configuration of event association (the ``association_node`` parameters)."""
from __future__ import annotations

from dataclasses import dataclass

from walkout_core.config import param

__all__ = ['AssociationConfig']


@dataclass(frozen=True)
class AssociationConfig:
    layout: str = param('small', '-', 'store layout name or path')
    reliable_sensors: bool = param(False, '-', 'reliable QoS on inputs (replay for scoring)')
    history_s: float = param(30.0, 's', 'avatar history kept behind the newest stamp', min_value=2.0,
                             max_value=600.0)
    decision_margin_s: float = param(2.0, 's', 'an event (or handover) is decided once the avatar stream '
                                     'has passed its stamp by this much', min_value=0.0, max_value=30.0)
    max_wait_s: float = param(10.0, 's', 'decide anyway when any input stamp is this far past the event '
                              '(avatar stream stalled)', min_value=0.5, max_value=120.0)
    idle_flush_s: float = param(5.0, 's', 'node only: after this long (steady clock) without any input, queued '
                                'events are decided with what is known (end of a replay); 0 = never',
                                min_value=0.0, max_value=600.0)
    window_before_s: float = param(1.5, 's', 'avatar samples considered before the event stamp',
                                   min_value=0.0, max_value=10.0)
    window_after_s: float = param(1.5, 's', 'avatar samples considered after the event stamp',
                                  min_value=0.0, max_value=10.0)
    candidate_radius_m: float = param(2.0, 'm', 'avatars whose body came this near the lane are candidates',
                                      min_value=0.2, max_value=10.0)
    reach_sigma_m: float = param(0.12, 'm', '1-sigma distance of a reach point from the lane front when '
                                 'that hand made the event', min_value=0.01, max_value=2.0)
    body_sigma_m: float = param(0.25, 'm', '1-sigma of the body-to-lane distance beyond arm_reach_m',
                                min_value=0.01, max_value=2.0)
    arm_reach_m: float = param(0.7, 'm', 'body-to-lane distance an arm covers without a seen reach',
                               min_value=0.0, max_value=2.0)
    time_sigma_s: float = param(0.3, 's', '1-sigma of the time between the hand at the lane and the '
                                'event stamp', min_value=0.01, max_value=5.0)
    covariance_weight: float = param(1.0, '-', 'weight of the tracker position covariance added to the '
                                     'distance variances', min_value=0.0, max_value=10.0)
    missed_reach_likelihood: float = param(0.02, '-', 'likelihood factor for an avatar whose arm was not '
                                           'seen extended in the window', min_value=0.0, max_value=1.0)
    nobody_sigmas: float = param(3.5, 'sigma', 'the "nobody" hypothesis is as likely as an avatar whose '
                                 'best evidence is this many sigmas away', min_value=0.5, max_value=20.0)
    put_back_non_holder_weight: float = param(0.05, '-', 'prior weight of a put-back candidate who holds '
                                              'none of the product (holders weigh 1)', min_value=0.0,
                                              max_value=1.0)
    busy_window_s: float = param(0.6, 's', 'an avatar just given an event on another lane this close in time is '
                                 '"busy" for the next one', min_value=0.0, max_value=5.0)
    carry_colour_weight: float = param(10.0, '-', 'prior weight of an avatar whose hand is seen with the event\'s '
                                       'product colour near the lane (after a pick, before a put-back; 1 = off)',
                                       min_value=1.0, max_value=1000.0)
    carry_window_s: float = param(1.5, 's', '... within this long after a pick (before a put-back)',
                                  min_value=0.0, max_value=10.0)
    carry_radius_m: float = param(0.6, 'm', '... with the hand this near the lane', min_value=0.0, max_value=5.0)
    carry_colour_match: float = param(0.06, '-', '... and its colour this near the product\'s packaging colour '
                                      '(chromaticity distance)', min_value=0.0, max_value=1.5)
    carry_colour_gain: float = param(0.02, '-', '... and nearer than that hand ever was on the other side of the '
                                     'event stamp by this much (chromaticity distance; a hand of that colour all '
                                     'along is no evidence)', min_value=0.0, max_value=1.5)
    busy_weight: float = param(0.1, '-', 'prior weight of a busy avatar (one hand, one lane at a time; 1 = off)',
                               min_value=0.0, max_value=1.0)
    sensor_fault_factor: float = param(0.9, '-', 'confidence factor for events flagged SENSOR_FAULT',
                                       min_value=0.0, max_value=1.0)
    sensor_fault_time_scale: float = param(3.0, '-', 'time window and time_sigma_s are this many times wider for '
                                           'events flagged SENSOR_FAULT (their stamp is less sure)', min_value=1.0,
                                           max_value=10.0)
    unknown_product_factor: float = param(0.0, '-', 'confidence factor for events flagged UNKNOWN or '
                                          'without a product (0: always review)', min_value=0.0,
                                          max_value=1.0)
    reinterpret_by_weight: bool = param(True, '-', 'when the avatar cannot have put back the identified '
                                        'product, or a lane holds a misplaced item, explain the weight change '
                                        'by the products the avatar holds (or the lane holds) instead')
    reinterpret_margin_g: float = param(12.0, 'g', 'load-cell margin added to k x the product tolerance when '
                                        're-explaining a weight change', min_value=0.0, max_value=200.0)
    review_confidence: float = param(0.55, '-', 'below this confidence an event goes to staff review',
                                     min_value=0.0, max_value=1.0)
    split_min_share: float = param(0.25, '-', 'a pick of several units at once where the second candidate is at '
                                   'least this likely and the two together reach review_confidence: the two '
                                   'each took some (one unit each at least, the rest by likelihood; 0 = off)',
                                   min_value=0.0, max_value=1.0)
    handover_reach_dist_m: float = param(0.35, 'm', 'two reach points this near meet for a handover',
                                         min_value=0.05, max_value=2.0)
    handover_reach_body_dist_m: float = param(0.5, 'm', 'when only one hand is seen: it meets the other person '
                                              'if this near their body (0 = both hands needed)', min_value=0.0,
                                              max_value=2.0)
    handover_hand_min_body_dist_m: float = param(0.2, 'm', 'when only one hand is seen: at least this far from the '
                                                 'other person\'s body centre (a "hand" on their body is two people '
                                                 'merged in one blob)', min_value=0.0, max_value=2.0)
    handover_off_line_m: float = param(0.2, 'm', 'when only one hand is seen: at most this far off the line '
                                       'between the two bodies', min_value=0.0, max_value=2.0)
    handover_crossed_hands: bool = param(True, '-', 'both hands seen, each on the way to and within '
                                         'handover_reach_body_dist_m of the other person\'s body (two arms '
                                         'reaching into each other, the tracker\'s hand points swapped or '
                                         'on the far body): the hands met between the two')
    handover_body_dist_m: float = param(1.2, 'm', 'two people stand at most this far apart (body to body) for a '
                                        'handover', min_value=0.1, max_value=5.0)
    handover_min_hold_s: float = param(0.6, 's', 'a hand is seen meeting the other person in consecutive frames '
                                       'for this long (the hold of a handover)', min_value=0.0, max_value=10.0)
    handover_short_hold_s: float = param(0.3, 's', 'a shorter hold, at least this long, is a handover only if '
                                         'the colours seen at the hands show a product one of the two holds '
                                         '(within handover_colour_match; = handover_min_hold_s: off)',
                                         min_value=0.0, max_value=10.0)
    handover_hold_gap_s: float = param(0.3, 's', 'largest break between two frames of one hold',
                                       min_value=0.0, max_value=5.0)
    handover_max_evidence_s: float = param(3.0, 's', 'hands seen between two people for longer than this are '
                                           'people standing close (a queue), not a handover', min_value=0.1,
                                           max_value=60.0)
    handover_crowd_m: float = param(0.0, 'm', 'a third person\'s body this near the meeting hands in most evidence '
                                    'frames makes the meeting no handover (whose hand met whom is unsure; 0 = off)',
                                    min_value=0.0, max_value=5.0)
    handover_colour_match: float = param(0.03, '-', 'a colour seen at the meeting hands is a product whose '
                                         'catalogue packaging colour is within this chromaticity distance (0 = '
                                         'colours unused)', min_value=0.0, max_value=1.5)
    handover_colour_margin: float = param(0.03, '-', '... and nearer than any other candidate product\'s by this '
                                          'much', min_value=0.0, max_value=1.5)
    handover_colour_veto_n: int = param(6, '-', 'the meeting hands seen in colour this many times and never in '
                                        'the colour of a product either person holds: no handover (0 = off)',
                                        min_value=0, max_value=1000)
    handover_third_holder_m: float = param(0.4, 'm', 'the meeting hands show a product neither of the two holds but a '
                                           'shopper this near one of them does: that shopper gives it (0 = off)',
                                           min_value=0.0, max_value=2.0)
    review_hindsight_ratio: float = param(2.0, '-', 'a handover showing the product of a pick still under review '
                                          'resolves that review for the one of the two whose posterior in it was '
                                          'this many times the other\'s; that one hands it over (0 = off)',
                                          min_value=0.0, max_value=1000.0)
    review_hindsight_window_s: float = param(300.0, 's', '... a pick at most this long before the handover',
                                             min_value=0.0, max_value=86400.0)
    handover_review_unclear: bool = param(True, '-', 'a handover where both hold items and nothing seen tells which '
                                          'crossed goes to staff review (else the more recent picker gives, a '
                                          'guess at confidence 0.5)')
    handover_in_checkout_zones: bool = param(True, '-', 'people inside checkout zones can hand over (else their hands '
                                             'are taken to be on the terminal)')
    handover_max_move_m: float = param(0.3, 'm', 'both people move at most this much during a handover meeting '
                                       '(passers-by are not handovers)', min_value=0.0, max_value=5.0)
    handover_min_shelf_dist_m: float = param(0.6, 'm', 'a handover meeting point is at least this far from '
                                             'every shelf front', min_value=0.0, max_value=5.0)
    handover_min_duration_s: float = param(0.7, 's', 'the two people stand together this long for a handover',
                                           min_value=0.0, max_value=10.0)
    handover_max_gap_s: float = param(0.5, 's', 'a meeting survives a gap in the reach points this long',
                                      min_value=0.0, max_value=5.0)
