"""The core replay (no ROS) scores a bag's baskets, and caches its detections."""
from pathlib import Path

import pytest

from walkout_core.eval.core_replay import _config, replay_baskets
from walkout_core.tracking.config import TrackerConfig

DEMO = Path(__file__).resolve().parents[3] / 'bags' / 'demo_small'


@pytest.mark.skipif(not (DEMO / 'metadata.yaml').is_file(), reason='bags/demo_small is not in this checkout')
def test_the_demo_bag_through_the_cores_gives_every_basket_and_reuses_its_detections(tmp_path):
    first = replay_baskets(DEMO, cache_dir=tmp_path)
    assert not first['detections_cached'] and list(tmp_path.glob('demo_small-*.pkl'))
    assert first['shoppers'] == 4 and first['basket_exact_accuracy'] == 1.0
    assert first['item_precision'] == first['item_recall'] == 1.0 and first['review_rate'] == 0.0
    again = replay_baskets(DEMO, cache_dir=tmp_path)
    assert again['detections_cached']
    assert {k: v for k, v in again.items() if k != 'detections_cached'} == \
        {k: v for k, v in first.items() if k != 'detections_cached'}


def test_overrides_are_checked_against_the_declared_parameters():
    cfg = _config(TrackerConfig, 'tracker_node', ['appearance_weight=900'])
    assert cfg.appearance_weight == 900
    with pytest.raises(ValueError, match='no parameter'):
        _config(TrackerConfig, 'tracker_node', ['no_such_parameter=1'])


def test_the_detection_cache_is_per_layout(tmp_path):
    """The detectors are built from the layout's cameras: the same bag read with another layout (a probe that
    names the wrong one) gets its own cache entry, not the first one's detections."""
    from walkout_core.eval.core_replay import _cache_key
    from walkout_core.layout import load_layout
    from walkout_core.vision.config import DetectorConfig

    (tmp_path / 'bag').mkdir()
    (tmp_path / 'bag' / 'bag_0.mcap').write_bytes(b'x')
    keys = {_cache_key(tmp_path / 'bag', load_layout(name), DetectorConfig()) for name in ('small', 'flash')}
    assert len(keys) == 2
