"""Scenario files: the suite loads; invalid files give clear errors naming key and value."""
from __future__ import annotations

import pytest
import yaml

from walkout_core.layout import load_layout
from walkout_core.sim.cli import main as sim_main
from walkout_core.sim.scenario import ScenarioError, load_scenario, scenario_from_dict, scenario_names

SUITE = {'single_shopper', 'multi_item_grab', 'put_back_same_lane', 'put_back_wrong_lane', 'crossing_arms',
         'handover', 'similar_weights', 'alcohol_age_check', 'staff_restock', 'noisy_drifting_cells',
         'camera_dropout', 'skip_checkout', 'flash_20_shoppers', 'stress_100_shoppers', 'session_30_min', 'demo'}
STRESS = {'stress_100_shoppers', 'session_30_min'}


def test_suite_is_complete_and_loads():
    assert SUITE <= set(scenario_names())
    for name in scenario_names():
        s = load_scenario(name)
        assert s.name == name and s.description
        assert s.stress == (name in STRESS)
        if not s.stress:
            assert 30.0 <= s.duration_s <= 90.0, name
    assert load_scenario('session_30_min').duration_s == 1800.0
    assert load_scenario('flash_20_shoppers').layout.name == 'flash'
    assert load_scenario('stress_100_shoppers').random_shoppers.count == 100


def test_similar_weights_uses_the_yoghurt_lanes():
    s = load_scenario('similar_weights')
    lanes = {(st.shelf, st.lane) for p in s.persons for st in p.plan if st.shelf}
    assert lanes == {('S3', 0), ('S3', 1)}
    assert [s.layout.lane_product('S3', i).id for i in (0, 1)] == ['p075', 'p076']


def _base(**kw):
    d = {'name': 't', 'layout': 'small', 'duration_s': 30,
         'persons': [{'id': 1, 'enter_s': 1.0, 'plan': [{'pick': 'S1/0'}]}]}
    d.update(kw)
    return d


@pytest.mark.parametrize('patch, needle', [
    ({'duration_s': -1}, 'duration_s: -1'),
    ({'persons': [{'id': 1, 'plan': [{'pick': 'S9/0'}]}]}, "unknown shelf 'S9'"),
    ({'persons': [{'id': 1, 'plan': [{'pick': 'S1/7'}]}]}, 'lane must be 0..3'),
    ({'persons': [{'id': 1, 'plan': [{'pick': 'S1'}]}]}, 'expected "<shelf>/<lane>"'),
    ({'persons': [{'id': 1, 'plan': [{'jump': 'S1/0'}]}]}, 'expected exactly one of'),
    ({'persons': [{'id': 1, 'plan': [{'handover': 2}]}]}, 'needs a matching "receive: 1" step'),
    ({'persons': [{'id': 1, 'plan': [{'restock': 'S1/0'}]}]}, 'only staff'),
    ({'persons': [{'id': 1}, {'id': 1}]}, 'duplicate person id'),
    ({'persons': [{'id': 1, 'enter_s': 99}]}, 'persons[0].enter_s: 99'),
    ({'colour': 'red'}, "unknown key(s)"),
    ({'sensors': {'camera_faults': [{'camera': 'camX', 'start_s': 1, 'end_s': 2}]}}, "'camX': unknown camera"),
    ({'sensors': {'cells': {'nan_prob': 2}}}, 'sensors.cells.nan_prob: 2'),
    ({'layout': 'nowhere'}, 'layout'),
    ({'persons': [], 'random_shoppers': None}, 'needs persons or random_shoppers'),
])
def test_invalid_scenarios_name_key_and_value(patch, needle):
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(_base(**patch), source='bad.yaml')
    assert needle in str(exc.value)
    assert str(exc.value).startswith('bad.yaml: ')


def test_unknown_scenario_lists_known_ones():
    with pytest.raises(ScenarioError, match='known scenarios: .*single_shopper'):
        load_scenario('no_such_scenario')


def test_layout_given_explicitly():
    s = scenario_from_dict(_base(), layout=load_layout('small'))
    assert s.layout.name == 'small' and s.persons[0].plan[0].kind == 'pick'


def test_cli_list_and_single_bag(tmp_path, capsys):
    assert sim_main(['--list']) == 0
    assert 'crossing_arms' in capsys.readouterr().out
    path = tmp_path / 'scn.yaml'
    path.write_text(yaml.safe_dump(_base(duration_s=3)))
    assert sim_main(['--scenario', str(path), '--out', str(tmp_path / 'bag'), '--seed', '5']) == 0
    assert (tmp_path / 'bag' / 'metadata.yaml').is_file()
    assert sim_main(['--scenario', 'no_such', '--out', str(tmp_path / 'x')]) == 2
