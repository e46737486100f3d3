"""Configuration of the shelf pipeline: the serial driver and the event detector/identifier.

Each dataclass is the parameter set of one node (``params/<node_name>.yaml`` holds the same keys).
The core classes (:mod:`.detector`, :mod:`.identify`, :mod:`.pipeline`) read the fields they need
from :class:`ShelfEventConfig`.
"""
from __future__ import annotations

from dataclasses import dataclass

from walkout_core.config import param

__all__ = ['ShelfSensorConfig', 'ShelfEventConfig']


@dataclass(frozen=True)
class ShelfSensorConfig:
    """shelf_sensor_node: one shelf controller on one serial line."""

    controller_id: str = param('', '-', 'shelf controller (layout shelf unit) read by this node; must be set')
    port: str = param('/dev/ttyUSB0', '-', 'serial device of the controller (a udev symlink survives replugs)')
    baud: int = param(115200, 'baud', 'serial line speed', min_value=1200, max_value=4_000_000)
    layout: str = param('small', '-', 'layout name or path (maps cells to shelf ids and lanes)')
    reliable_sensors: bool = param(False, '-', 'publish readings with reliable QoS (scoring replay)')
    poll_period_s: float = param(0.005, 's', 'period of the non-blocking serial poll', min_value=0.001, max_value=0.5)
    reconnect_min_s: float = param(0.2, 's', 'first wait before reopening a lost port', min_value=0.01, max_value=60.0)
    reconnect_max_s: float = param(5.0, 's', 'longest wait between reopen attempts (exponential backoff)',
                                   min_value=0.01, max_value=600.0)
    silence_timeout_s: float = param(2.0, 's', 'no line for this long: the link is reported silent and reopened',
                                     min_value=0.1, max_value=600.0)
    max_line_bytes: int = param(8192, 'B', 'longer lines are dropped as garbled', min_value=64, max_value=1_000_000)
    negative_limit_g: float = param(50.0, 'g', 'readings below minus this are flagged out of range',
                                    min_value=0.0, max_value=10_000.0)
    diagnostics_period_s: float = param(1.0, 's', 'period of /diagnostics', min_value=0.1, max_value=60.0)

    def check(self) -> None:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError(f"parameter 'reconnect_max_s': {self.reconnect_max_s!r} is below "
                             f"reconnect_min_s {self.reconnect_min_s!r}")


@dataclass(frozen=True)
class ShelfEventConfig:
    """shelf_event_node: load-cell readings -> pick/put events and alerts."""

    layout: str = param('small', '-', 'layout name or path')
    reliable_sensors: bool = param(False, '-', 'subscribe to readings with reliable QoS (scoring replay)')
    # --- change detection (per lane, in units of the cell's noise sigma = shelf accuracy_g)
    window_samples: int = param(10, 'samples', 'settle window: the weight is settled when this many readings are quiet',
                                min_value=3, max_value=100)
    start_threshold_sigma: float = param(4.0, 'sigma', 'a reading this far from the baseline starts a change',
                                         min_value=1.0, max_value=100.0)
    settle_std_sigma: float = param(1.6, 'sigma', 'settled: standard deviation of the window below this',
                                    min_value=0.5, max_value=20.0)
    settle_slope_sigma: float = param(2.5, 'sigma', 'settled: newer-half minus older-half window mean '
                                      'below this',
                                      min_value=0.5, max_value=20.0)
    level_clip_sigma: float = param(4.0, 'sigma', 'settled level: window readings this far from its '
                                    'median are left out',
                                    min_value=0.5, max_value=100.0)
    baseline_time_constant_s: float = param(5.0, 's', 'time constant of the idle baseline that follows drift',
                                            min_value=0.1, max_value=3600.0)
    min_change_g: float = param(30.0, 'g', 'settled changes smaller than this are transients (re-zero, no event)',
                                min_value=1.0, max_value=10_000.0)
    max_active_s: float = param(30.0, 's', 'a change that does not settle within this is dropped (re-zero)',
                                min_value=1.0, max_value=3600.0)
    # --- bad readings and faults
    negative_limit_g: float = param(50.0, 'g', 'readings below minus this are out of range', min_value=0.0,
                                    max_value=10_000.0)
    fault_bad_samples: int = param(5, 'samples', 'consecutive bad readings (NaN, no data, out of '
                                   'range) that make a fault',
                                   min_value=1, max_value=100_000)
    stuck_samples: int = param(10, 'samples', 'consecutive identical readings that make a stuck-cell fault',
                               min_value=2, max_value=100_000)
    fault_clear_s: float = param(5.0, 's', 'healthy time that ends a fault episode', min_value=0.0, max_value=3600.0)
    fault_confidence_scale: float = param(0.3, '-', 'confidence factor of events on a faulty lane',
                                          min_value=0.0, max_value=1.0)
    controller_timeout_s: float = param(2.0, 's', 'a controller silent this long while others report is faulty',
                                        min_value=0.1, max_value=3600.0)
    # --- quantity and identification
    unit_sigma_per_tolerance: float = param(0.5, '-', "1-sigma of one item's weight as a fraction of its tolerance_g",
                                            min_value=0.01, max_value=10.0)
    accept_sigma: float = param(4.0, 'sigma', 'a weight change fits n items when within this many sigma',
                                min_value=0.5, max_value=20.0)
    max_quantity: int = param(60, 'items', 'largest item count of one event (restocks)', min_value=1, max_value=10_000)
    misplaced_max_quantity: int = param(2, 'items', 'largest item count of a misplaced put', min_value=1,
                                        max_value=100)
    recent_pick_memory_s: float = param(3600.0, 's', 'how long a pick stays in the recent-picks memory',
                                        min_value=1.0, max_value=86_400.0)
    recent_pick_prior: float = param(50.0, '-', 'prior odds of a product picked just now vs one not picked '
                                     '(decays with recent_pick_tau_s, adds up over outstanding picks)',
                                     min_value=0.0, max_value=1e9)
    same_lane_prior: float = param(1000.0, '-', "prior odds of an increase being the lane's own product "
                                   'per recent pick '
                                   'from this very lane (the item comes back where it was taken)',
                                   min_value=0.0, max_value=1e12)
    own_lane_prior: float = param(5.0, '-', "prior odds of an increase being the lane's own product "
                                  '(restock, old pick) '
                                  'vs a product not picked recently', min_value=0.0, max_value=1e9)
    recent_pick_tau_s: float = param(60.0, 's', 'time constant of the recency weight of a pick',
                                     min_value=0.1, max_value=86_400.0)
    max_walk_speed_mps: float = param(2.0, 'm/s', 'a pick can only come back where its taker could have walked in the '
                                      'meantime (with walk_margin_m)', min_value=0.1, max_value=20.0)
    walk_margin_m: float = param(1.5, 'm', 'reach and stand-off added to the walkable distance', min_value=0.0,
                                 max_value=100.0)
    unreachable_weight: float = param(0.01, '-', 'recency weight factor of a pick too far away to have come back here',
                                      min_value=0.0, max_value=1.0)
    unknown_prior: float = param(0.001, '-', 'prior probability that a change is none of the candidate products '
                                 '(sets the confidence of poor fits)', min_value=1e-12, max_value=0.5)
    multi_lane_window_s: float = param(1.0, 's', 'changes of neighbouring lanes this close in time '
                                       'are flagged multi-lane',
                                       min_value=0.0, max_value=60.0)
    diagnostics_period_s: float = param(1.0, 's', 'period of /diagnostics', min_value=0.1, max_value=60.0)
