"""Helpers shared by the node tests (rclpy, no pytest)."""
from __future__ import annotations

import time
from typing import Any, Callable


def spin_until(executor: Any, cond: Callable[[], bool], timeout: float = 10.0, step_s: float = 0.02) -> bool:
    """Spin ``executor`` until ``cond()`` holds or ``timeout`` [s] of wall time passed; returns ``cond()``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        executor.spin_once(timeout_sec=step_s)
    return cond()
