"""Evaluation helpers: layout of a bag, truth reading, scoring that never invents figures."""
from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from bagfixtures import write_bag
from walkout_bringup.evaluate import KEYS, STAGE_KEYS, ReplayResult, guess_layout, pool_suite, read_truth, score
from walkout_core.sim.provenance import PROVENANCE_FILE, write_provenance
from walkout_core.sim.scenario import resolve_scenario_path

REPO = Path(__file__).resolve().parents[3]


def _result(started=('shelf_event_node',), outputs=None):
    outs = {t: [] for t in ('/shelves/events', '/alerts', '/tracking/avatars', '/baskets/events', '/baskets/state',
                            '/checkout/receipts')}
    outs.update(outputs or {})
    return ReplayResult(bag='b', layout='small', outputs=outs, failed_nodes={}, started_nodes=list(started),
                        bag_duration_s=10.0, wall_s=2.0, published=1, started_executables=list(started))


def test_truth_is_read_from_the_bag(tmp_path):
    bag = write_bag(tmp_path / 'b', duration_s=2.0)
    truth = read_truth(bag)
    assert len(truth['/truth/events']) == 3 and truth['/truth/events'][0].product_id == 'p001'
    assert truth['/truth/persons'] == [] and truth['/truth/baskets'] == []


def test_layout_of_a_bag(tmp_path):
    with pytest.raises(ValueError, match='pass --layout'):
        guess_layout(write_bag(tmp_path / 'b'))
    for name, layout in (('demo_small', 'small'), ('generated/flash_20_shoppers', 'flash')):
        bag = REPO / 'bags' / name
        if (bag / 'metadata.yaml').is_file():
            assert guess_layout(bag) == layout


def test_score_uses_the_stage_function_and_nulls_what_did_not_run(monkeypatch):
    mod = types.ModuleType('walkout_core.eval.shelf_metrics')
    calls = []

    def shelf_metrics(truth_events, shelf_events, alerts, layout):
        calls.append(layout.name)
        return {'event_precision': 0.5, 'event_recall': float('nan'), 'extra_figure': 2}
    mod.shelf_metrics = shelf_metrics
    monkeypatch.setitem(sys.modules, 'walkout_core.eval.shelf_metrics', mod)
    figures, notes = score(_result(), {'/truth/events': [object()], '/truth/persons': [], '/truth/baskets': []})
    assert calls == ['small']
    assert figures['event_precision'] == 0.5
    assert figures['event_recall'] is None                   # not finite -> null, never a number
    assert figures['product_accuracy'] is None               # the function did not give it
    assert figures['extra_figure'] == 2.0
    assert all(figures[k] is None for k in STAGE_KEYS['tracking'] + STAGE_KEYS['baskets'])
    assert 'tracking' in notes and 'baskets' in notes and 'shelf' not in notes
    assert figures['realtime_factor'] == 5.0
    assert set(KEYS) <= set(figures)
    json.dumps(figures)


def test_a_failing_stage_gives_nulls(monkeypatch):
    mod = types.ModuleType('walkout_core.eval.shelf_metrics')

    def shelf_metrics(*_):
        raise RuntimeError('boom')
    mod.shelf_metrics = shelf_metrics
    monkeypatch.setitem(sys.modules, 'walkout_core.eval.shelf_metrics', mod)
    figures, notes = score(_result(), {'/truth/events': [object()], '/truth/persons': [], '/truth/baskets': []})
    assert all(figures[k] is None for k in STAGE_KEYS['shelf'])
    assert 'boom' in notes['shelf']


def test_suite_pools_basket_figures_over_shoppers_items_and_events():
    small = {'basket_exact_accuracy': 1.0, 'shoppers': 2, 'shoppers_exact': 2, 'item_precision': 1.0,
             'item_recall': 1.0, 'items_matched': 4, 'items_predicted': 4, 'items_true': 4, 'review_rate': 0.0,
             'events_decided': 5, 'events_reviewed': 0, 'mota': 1.0}
    crowd = {'basket_exact_accuracy': 0.5, 'shoppers': 20, 'shoppers_exact': 10, 'item_precision': 0.5,
             'item_recall': 0.25, 'items_matched': 10, 'items_predicted': 20, 'items_true': 40, 'review_rate': 0.2,
             'events_decided': 45, 'events_reviewed': 9, 'mota': 0.5}
    dead = {k: None for k in KEYS}
    o = pool_suite({'small': small, 'crowd': crowd, 'dead': dead})
    assert o['basket_exact_accuracy'] == pytest.approx(12 / 22) and o['shoppers'] == 22
    assert o['item_precision'] == pytest.approx(14 / 24) and o['item_recall'] == pytest.approx(14 / 44)
    assert o['review_rate'] == pytest.approx(9 / 50)
    assert o['item_precision_mean_of_scenarios'] == pytest.approx(0.75) and o['mota'] == pytest.approx(0.75)
    assert pool_suite({'dead': dead})['item_recall'] is None


def test_seeds_are_simulated_once_scored_each_and_pooled(tmp_path, monkeypatch, capsys):
    from walkout_bringup import evaluate
    sims = []

    def fake_sim(cmd, check):
        out = Path(cmd[cmd.index('--out') + 1])
        out.mkdir(parents=True, exist_ok=True)
        (out / 'metadata.yaml').write_text('rosbag2_bagfile_information: {}\n')
        seed = cmd[cmd.index('--seed') + 1]
        write_provenance(out, 'flash_20_shoppers', str(resolve_scenario_path('flash_20_shoppers')), int(seed),
                         90.0, False, True)      # what walkout sim writes next to the bag
        sims.append(seed)

    def fake_eval(bag, **kw):
        seed = int(str(bag).rsplit('seed', 1)[1])
        return {'shoppers': 10, 'shoppers_exact': seed, 'basket_exact_accuracy': seed / 10}, f'report {seed}', None

    monkeypatch.setattr(evaluate.subprocess, 'run', fake_sim)
    monkeypatch.setattr(evaluate, 'evaluate_bag', fake_eval)
    o = evaluate.run_seeds('flash_20_shoppers', [3, 5], tmp_path, {}, jobs=1)
    assert sims == ['3', '5'] and set(o['seeds']) == {'3', '5'} and o['scenario'] == 'flash_20_shoppers'
    assert o['basket_exact_accuracy'] == pytest.approx(8 / 20) and o['shoppers'] == 20
    assert evaluate.run_seeds('flash_20_shoppers', [5], tmp_path, {}, jobs=1)['shoppers'] == 10
    assert sims == ['3', '5']                                  # the bag of seed 5 is reused
    assert '"seed": "3"' in capsys.readouterr().out
    # a bag the simulator would no longer make the same is made again
    prov = tmp_path / 'generated' / 'flash_20_shoppers_seed5' / PROVENANCE_FILE
    prov.write_text(prov.read_text().replace('"simulator": "', '"simulator": "0'))
    evaluate.run_seeds('flash_20_shoppers', [5], tmp_path, {}, jobs=1)
    assert sims == ['3', '5', '5']
    prov.unlink()                                              # no provenance: made by an older simulator
    evaluate.run_seeds('flash_20_shoppers', [5], tmp_path, {}, jobs=1)
    assert sims == ['3', '5', '5', '5']


def test_seed_spread_is_over_seeds_not_shoppers():
    from walkout_bringup.evaluate import seed_spread
    per = {str(k): {'basket_exact_accuracy': v} for k, v in enumerate([0.8, 0.9, 1.0])}
    out = seed_spread(per)
    assert out['basket_exact_accuracy_seed_sd'] == pytest.approx(0.1)
    lo, hi = out['basket_exact_accuracy_seed_ci95']
    half = 4.302652729749464 * 0.1 / 3 ** 0.5                  # Student t, 2 degrees of freedom, 97.5 %
    assert lo == pytest.approx(max(0.0, 0.9 - half)) and hi == pytest.approx(1.0)
    assert seed_spread({'1': {'basket_exact_accuracy': 0.9}})['basket_exact_accuracy_seed_ci95'] is None
    assert seed_spread({'1': {'basket_exact_accuracy': None}, '2': {'basket_exact_accuracy': 0.5}}
                       )['basket_exact_accuracy_seed_sd'] is None


def test_seed_lists_and_ranges():
    from walkout_bringup.evaluate import parse_seeds
    assert parse_seeds('101-104,7') == [101, 102, 103, 104, 7]
    assert parse_seeds(' 3, 5 ,') == [3, 5]
    for bad in ('5-3', 'a', '1-x'):
        with pytest.raises(ValueError):
            parse_seeds(bad)


def test_suite_bag_out_of_date_is_scored_with_a_warning_or_made_again(tmp_path, monkeypatch):
    from walkout_bringup import evaluate
    mine = tmp_path / 'handover'
    mine.mkdir()
    (mine / 'metadata.yaml').write_text('rosbag2_bagfile_information: {}\n')
    logs = []
    assert evaluate.bag_for('handover', tmp_path, logs.append) == mine    # a bag of the user's: kept
    assert len(logs) == 1 and PROVENANCE_FILE in logs[0]
    cached = tmp_path / 'generated' / 'crossing_arms'
    cached.mkdir(parents=True)
    (cached / 'metadata.yaml').write_text('rosbag2_bagfile_information: {}\n')
    sims = []
    monkeypatch.setattr(evaluate.subprocess, 'run', lambda cmd, check: sims.append(cmd))
    assert evaluate.bag_for('crossing_arms', tmp_path, logs.append) == cached
    assert len(sims) == 1 and 'crossing_arms' in sims[0]                 # the cache: made again


def test_seeds_need_a_scenario():
    from walkout_bringup.evaluate import main
    with pytest.raises(SystemExit):
        main(['--seeds', '1,2'])


def test_receipt_figures_pool_over_seeds_and_are_summarised():
    from walkout_bringup.evaluate import seeds_summary
    per = {'1': {'shoppers': 20, 'shoppers_exact': 18, 'receipts_exact': 15, 'paying_shoppers': 18,
                 'paying_shoppers_without_receipt': 2, 'receipts_before_checkout': 0, 'receipt_latency_p95_s': 1.2},
           '2': {'shoppers': 20, 'shoppers_exact': 16, 'receipts_exact': 10, 'paying_shoppers': 16,
                 'paying_shoppers_without_receipt': 5, 'receipts_before_checkout': 1, 'receipt_latency_p95_s': 1.1}}
    o = pool_suite(per)
    assert o['receipt_exact_accuracy'] == pytest.approx(25 / 34)          # over shoppers, not a mean of seeds
    assert (o['paying_shoppers_without_receipt'], o['receipts_before_checkout']) == (7, 1)   # counts add up
    o.update(scenario='flash_20_shoppers', seeds=per)
    text = seeds_summary(o)
    assert '34/40 baskets exact' in text
    assert '25/34 paying shoppers charged exactly' in text and '7 charged nothing' in text
    assert '1 receipts before a checkout' in text and 'worst 1.2 s' in text
