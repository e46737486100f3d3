"""Simulator benchmark: wall seconds per simulated second, small and flash layouts (short runs)."""
from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from walkout_core.sim.engine import simulate
from walkout_core.sim.scenario import load_scenario

__all__ = ['bench']

log = logging.getLogger(__name__)


def _measure(name: str, seconds: float) -> float:
    scn = load_scenario(name)
    with tempfile.TemporaryDirectory(prefix='walkout-simbench-') as tmp:
        t0 = time.perf_counter()
        simulate(scn, Path(tmp) / 'bag', duration_s=seconds)
        wall = time.perf_counter() - t0
    log.info('sim bench %s: %.1f s simulated in %.2f s', name, seconds, wall)
    return wall / seconds


def bench(seconds: float = 10.0) -> dict[str, float]:
    """{'sim_s_per_sim_s_small': ..., 'sim_s_per_sim_s_flash': ...}: < 1 is faster than real time.

    Measured on the first ``seconds`` of the demo (small layout) and flash_20_shoppers scenarios,
    including rendering, JPEG encoding and writing the bag.
    """
    return {'sim_s_per_sim_s_small': _measure('demo', seconds),
            'sim_s_per_sim_s_flash': _measure('flash_20_shoppers', max(seconds, 20.0))}
