"""The detection benchmarks run and measure (they assert no speed: figures come from ``./walkout bench``)."""
import math

from walkout_core.vision.bench import bench_detector_store


def test_store_frames_bench_measures_every_camera_frame():
    mean_ms, busy_ms = bench_detector_store(seconds=3.0)
    assert math.isfinite(mean_ms) and mean_ms > 0.0
    # the first seconds may show nobody: the busy figure is then NaN, not a made-up number
    assert math.isnan(busy_ms) or busy_ms > 0.0
