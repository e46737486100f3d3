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
