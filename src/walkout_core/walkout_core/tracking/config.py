"""Frozen configuration of the multi-camera avatar tracker and of tracker_node."""
from __future__ import annotations

from dataclasses import dataclass

from walkout_core.config import param

__all__ = ['TrackerConfig', 'TrackerNodeConfig']


@dataclass(frozen=True)
class TrackerConfig:
    """Fusion of the cameras' floor detections and the Kalman avatar tracker."""

    fusion_radius_m: float = param(0.35, 'm', 'detections of different cameras closer than this are one person',
                                   min_value=0.0, max_value=3.0)
    fusion_sigmas: float = param(2.0, '-', '... or within this many of the detection\'s own sigma (bodies cut by '
                                 'the image border)', min_value=0.0, max_value=10.0)
    min_measurement_sigma_m: float = param(0.06, 'm', 'floor on a detection 1-sigma', min_value=0.001,
                                           max_value=5.0)
    accel_sigma_m_s2: float = param(1.0, 'm/s^2', 'white acceleration noise of the constant-velocity model',
                                    min_value=0.01, max_value=50.0)
    initial_velocity_sigma_m_s: float = param(1.0, 'm/s', '1-sigma of the velocity of a new avatar',
                                              min_value=0.01, max_value=10.0)
    gate_chi2: float = param(13.8, '-', 'Mahalanobis gate (chi-square, 2 dof; 13.8 = 99.9 %)', min_value=0.1,
                             max_value=1000.0)
    max_gate_distance_m: float = param(0.7, 'm', 'largest distance of a visible avatar to its detection',
                                       min_value=0.05, max_value=10.0)
    person_area_m2: float = param(0.1, 'm^2', 'floor area of one person\'s blob (merged blobs are shared)',
                                  min_value=0.0, max_value=10.0)
    merged_area_factor: float = param(1.8, '-', 'a detection this many persons large may update several avatars',
                                      min_value=1.0, max_value=10.0)
    max_merged_share: int = param(3, '-', 'most avatars one merged detection may update', min_value=1, max_value=10)
    shared_hand_margin_m: float = param(0.25, 'm', 'the hand of a merged blob goes to the avatar sharing it whose body '
                                        'is nearest that hand, when the next nearest is at least this much farther '
                                        '(else to none; 0 = a merged blob\'s hand is never used)', min_value=0.0,
                                        max_value=5.0)
    appearance_weight: float = param(400.0, '1/rgb^2', 'assignment cost per squared RGB distance (0..1 units) '
                                     'between an avatar\'s clothing colour and a detection\'s (0 = off)',
                                     min_value=0.0, max_value=1.0e5)
    appearance_split_weight: float = param(2000.0, '1/rgb^2', 'the same cost for an avatar that shared a merged blob '
                                           'within the last appearance_split_s: its position was the blob\'s, so '
                                           'its colour tells who is who when the blob splits', min_value=0.0,
                                           max_value=1.0e5)
    appearance_split_s: float = param(1.0, 's', '... how long after the merged blob', min_value=0.0, max_value=30.0)
    appearance_gate: float = param(0.15, 'rgb', 'largest RGB distance of a detection to an avatar\'s clothing colour '
                                   '(once known)', min_value=0.0, max_value=2.0)
    appearance_ema_alpha: float = param(0.15, '-', 'weight of a new sample in an avatar\'s clothing colour '
                                        '(exponential moving average)', min_value=0.0, max_value=1.0)
    appearance_min_samples: int = param(3, 'frames', 'samples before an avatar\'s clothing colour gates and '
                                        'costs', min_value=1, max_value=1000)
    appearance_isolation_m: float = param(0.5, 'm', 'an avatar with no other avatar this close learns its clothing '
                                          'colour and is gated by it only loosely (appearance_alone_gate); closer '
                                          'avatars (blobs that may merge) are gated at appearance_gate',
                                          min_value=0.0, max_value=10.0)
    appearance_alone_gate: float = param(0.25, 'rgb', 'largest RGB distance of a detection to the clothing colour '
                                         'of a visible avatar with no other avatar near (a loose gate: its look '
                                         'may drift; 2 = off)', min_value=0.0, max_value=2.0)
    appearance_reacquire_gate: float = param(0.3, 'rgb', 'largest RGB distance of a detection taken back by an '
                                             'occluded avatar that has no other avatar near', min_value=0.0,
                                             max_value=2.0)
    appearance_reacquire_weight_m: float = param(1.0, 'm', 'an occluded avatar\'s reacquisition cost: colour '
                                                 'distance at the gate counts like this distance',
                                                 min_value=0.0, max_value=20.0)
    fusion_appearance_gate: float = param(0.3, 'rgb', 'detections of different cameras whose clothing colours '
                                          'differ more than this are not fused', min_value=0.0, max_value=2.0)
    confirm_hits: int = param(2, 'frames', 'detections before a tentative avatar is confirmed', min_value=1,
                              max_value=100)
    tentative_max_miss_s: float = param(0.5, 's', 'a tentative avatar unseen this long is dropped', min_value=0.0,
                                        max_value=60.0)
    occluded_after_s: float = param(0.35, 's', 'a confirmed avatar unseen this long is occluded', min_value=0.0,
                                    max_value=60.0)
    occluded_velocity_time_constant_s: float = param(0.7, 's', 'velocity of an occluded avatar decays with this '
                                                     'time constant (it stops where it was hidden)',
                                                     min_value=0.01, max_value=600.0)
    max_position_sigma_m: float = param(1.5, 'm', 'cap on the 1-sigma position uncertainty of an avatar',
                                        min_value=0.05, max_value=100.0)
    reacquire_base_m: float = param(0.6, 'm', 'an occluded avatar takes back a detection this close ...',
                                    min_value=0.0, max_value=20.0)
    reacquire_speed_m_s: float = param(0.8, 'm/s', '... plus this speed times the time it was hidden ...',
                                       min_value=0.0, max_value=10.0)
    reacquire_max_m: float = param(3.0, 'm', '... up to this distance', min_value=0.0, max_value=50.0)
    reacquire_colour_max_m: float = param(6.0, 'm', '... or up to this distance for a detection whose clothing '
                                          'colour matches the avatar\'s within appearance_gate',
                                          min_value=0.0, max_value=50.0)
    reacquire_restart_m: float = param(0.7, 'm', 'an occluded avatar taking back a detection farther than this from '
                                       'where it was hidden restarts its filter there, at rest (its velocity and '
                                       'covariance grew while hidden: updated across the jump it flies off)',
                                       min_value=0.0, max_value=100.0)
    max_hidden_s: float = param(1800.0, 's', 'an avatar unseen this long (not at an exit) is deleted',
                                min_value=1.0, max_value=86400.0)
    birth_margin_m: float = param(0.5, 'm', 'births within this distance of the entry (or staff) gate',
                                  min_value=0.0, max_value=5.0)
    spawn_exclusion_m: float = param(0.45, 'm', 'no birth this close to an existing avatar', min_value=0.0,
                                     max_value=5.0)
    exit_margin_m: float = param(0.3, 'm', 'an avatar lost within this distance of its exit gate has exited',
                                 min_value=0.0, max_value=5.0)
    exit_miss_s: float = param(0.3, 's', 'unseen this long at the exit: exited', min_value=0.0, max_value=60.0)
    exit_slow_margin_m: float = param(0.5, 'm', 'an avatar lost within this distance of its exit gate (in the '
                                      'crowd near the door) ...', min_value=0.0, max_value=5.0)
    exit_slow_miss_s: float = param(1.0, 's', '... and unseen this long has exited', min_value=0.0, max_value=600.0)
    exit_via_entry: bool = param(True, '-', 'a shopper who was inside may also leave through the entry gate')
    staff_exit_via_exit: bool = param(True, '-', 'staff may also leave through the shoppers\' exit')
    max_reach_m: float = param(1.3, 'm', 'a reach point farther than this from its avatar is ignored',
                               min_value=0.1, max_value=5.0)
    floor_margin_m: float = param(1.0, 'm', 'detections farther than this outside the floor are rejected',
                                  min_value=0.0, max_value=20.0)
    colour_radius_m: float = param(3.0, 'm', 'a new avatar\'s colour differs most from those within this '
                                   'distance', min_value=0.0, max_value=100.0)
    palette_size: int = param(24, '-', 'number of avatar colours', min_value=2, max_value=360)
    exited_retention_s: float = param(60.0, 's', 'summary of an exited avatar (id, times) is purged after this',
                                      min_value=0.0, max_value=86400.0)

    def check(self) -> None:
        if self.reacquire_base_m > self.reacquire_max_m:
            raise ValueError(f'parameter reacquire_base_m: {self.reacquire_base_m!r} exceeds reacquire_max_m '
                             f'{self.reacquire_max_m!r}')
        if self.reacquire_colour_max_m < self.reacquire_max_m:
            raise ValueError(f'parameter reacquire_colour_max_m: {self.reacquire_colour_max_m!r} is below '
                             f'reacquire_max_m {self.reacquire_max_m!r}')
        if self.exit_slow_margin_m < self.exit_margin_m:
            raise ValueError(f'parameter exit_slow_margin_m: {self.exit_slow_margin_m!r} is below exit_margin_m '
                             f'{self.exit_margin_m!r}')


@dataclass(frozen=True)
class TrackerNodeConfig(TrackerConfig):
    """tracker_node: the tracker fields plus synchronisation and markers."""

    layout: str = param('small', '-', 'layout name or path')
    reliable_sensors: bool = param(False, '-', 'reliable deep sensor QoS (replay for scoring)')
    sync_tolerance_s: float = param(0.02, 's', 'detections of different cameras within this are one instant',
                                    min_value=0.0, max_value=1.0)
    latency_window_s: float = param(0.3, 's', 'process an instant once a newer stamp is this much later, '
                                    'even if a camera has not reported', min_value=0.0, max_value=10.0)
    camera_dead_after_s: float = param(1.0, 's', 'a camera silent this long (stamp time) is not waited for',
                                       min_value=0.0, max_value=600.0)
    markers: bool = param(True, '-', 'publish the rviz MarkerArray on /tracking/markers')
    layout_markers_period_s: float = param(5.0, 's', 'republish the layout markers at this period (stamp time)',
                                           min_value=0.1, max_value=3600.0)
    marker_lifetime_s: float = param(0.5, 's', 'lifetime of avatar markers in rviz', min_value=0.0,
                                     max_value=60.0)
    marker_height_m: float = param(1.7, 'm', 'height of an avatar cylinder', min_value=0.1, max_value=3.0)
