"""``./walkout bench``: real-time factor of the full graph on the small and flash layouts, CPU per node,
and the component figures of the other stages (simulator, shelf pipeline, vision).

The full-graph figures replay a scenario bag exactly as ``./walkout eval`` does (lock step, in
one process: nothing dropped) and divide bag seconds by wall seconds (``realtime_factor_<layout>``)
and by the process's CPU seconds (``realtime_factor_cpu_<layout>``: what one otherwise idle core
reaches; the wall figure depends on what else the machine runs). CPU per node is the thread CPU
time of each node's callbacks per bag second (share of one core). The component
benchmarks (``walkout_core.{sim,shelf,vision}.bench.bench()``) are imported lazily; one that is
missing or fails gives null for its keys. Last line: one JSON object.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

#: Component benchmarks and the keys their issues name (null when the benchmark is missing).
COMPONENTS: dict[str, tuple[str, ...]] = {
    'walkout_core.sim.bench': ('sim_s_per_sim_s_small', 'sim_s_per_sim_s_flash'),
    'walkout_core.shelf.bench': ('shelf_core_share_flash',),
    'walkout_core.vision.bench': ('detect_ms_per_frame', 'detect_ms_per_frame_store', 'detect_ms_per_busy_frame_store',
                                  'tracker_core_share_100'),
}
#: Scenario replayed for each layout's full-graph figure.
GRAPH_SCENARIOS = {'small': 'demo', 'flash': 'flash_20_shoppers'}


def component_figures(log: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mod_name, keys in COMPONENTS.items():
        out.update({k: None for k in keys})
        try:
            fn = importlib.import_module(mod_name).bench
        except (ImportError, AttributeError) as exc:
            log(f'bench: {mod_name}.bench not available: {exc}')
            continue
        t0 = time.monotonic()
        try:
            res = fn()
        except Exception as exc:  # noqa: BLE001 - one component's failure must not hide the others
            log(f'bench: {mod_name}.bench failed: {type(exc).__name__}: {exc}')
            continue
        log(f'bench: {mod_name}.bench took {time.monotonic() - t0:.1f} s: {res}')
        for k, v in (res or {}).items():
            out[k] = None if v is None else float(v)
    return out


def graph_figures(layout: str, bag: Path, log: Any, processes: bool = False) -> dict[str, Any]:
    from walkout_bringup.evaluate import replay
    t0 = time.monotonic()
    res = replay(bag, layout, processes=processes, log=log)
    wall = time.monotonic() - t0
    dur = res.bag_duration_s
    share = {k: round(v / dur, 4) for k, v in sorted(res.cpu_s.items(), key=lambda kv: -kv[1])} if dur else {}
    total = sum(res.cpu_s.values())
    return {'realtime_factor': res.realtime_factor, 'realtime_factor_cpu': res.realtime_factor_cpu, 'bag_s': dur, 'replay_wall_s': res.wall_s,
            'total_wall_s': wall, 'cpu_share_per_node': share, 'graph_cpu_share': round(total / dur, 3) if dur else None,
            'failed_nodes': sorted(res.failed_nodes), 'messages': res.published}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog='walkout bench', description=__doc__.split('\n\n')[0])
    ap.add_argument('--skip-components', action='store_true', help='only the full-graph figures')
    ap.add_argument('--skip-graph', action='store_true', help='only the component figures')
    ap.add_argument('--layouts', nargs='*', default=list(GRAPH_SCENARIOS), help='layouts for the graph figures')
    ap.add_argument('--processes', action='store_true', help='graph: one process per node (CPU from /proc)')
    ns = ap.parse_args(list(sys.argv[1:] if argv is None else argv))
    import logging
    logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s', stream=sys.stderr)

    def log(s: str) -> None:
        print(s, file=sys.stderr, flush=True)
    from walkout_bringup.evaluate import _repo_root, bag_for
    figures: dict[str, Any] = {f'realtime_factor_{lay}': None for lay in GRAPH_SCENARIOS}
    details: dict[str, Any] = {}
    if not ns.skip_graph:
        for lay in ns.layouts:
            scen = GRAPH_SCENARIOS.get(lay)
            if scen is None:
                log(f'bench: no scenario for layout {lay}')
                continue
            bag = _repo_root() / 'bags' / 'demo_small' if lay == 'small' else None
            if bag is None or not (bag / 'metadata.yaml').is_file():
                bag = bag_for(scen, _repo_root() / 'bags', log)
            log(f'bench: replaying {bag} through the full {lay} graph')
            g = graph_figures(lay, bag, log, ns.processes)
            details[lay] = g
            figures[f'realtime_factor_{lay}'] = round(g['realtime_factor'], 3) if g['realtime_factor'] else None
            rcpu = g['realtime_factor_cpu']
            figures[f'realtime_factor_cpu_{lay}'] = round(rcpu, 3) if rcpu else None
            print(f'full graph, {lay} layout ({bag.name}, {g["bag_s"]:.0f} s of data, {g["messages"]} messages): '
                  f'realtime factor {figures[f"realtime_factor_{lay}"]} wall, '
                  f'{figures[f"realtime_factor_cpu_{lay}"]} per CPU second (load average {os.getloadavg()[0]:.1f} '
                  f'on {os.cpu_count()} cores; node callbacks {g["graph_cpu_share"]} core'
                  f'{"; nodes not running: " + ", ".join(g["failed_nodes"]) if g["failed_nodes"] else ""})')
            print('  CPU per node [share of one core per second of data]:')
            for name, v in g['cpu_share_per_node'].items():
                print(f'    {name:<32} {v:.4f}')
            figures[f'cpu_per_node_{lay}'] = g['cpu_share_per_node']
    if not ns.skip_components:
        comp = component_figures(log)
        for k, v in comp.items():
            print(f'{k:<28} {"null" if v is None else f"{v:.4g}"}')
        figures.update(comp)
    figures['cpu_count'] = os.cpu_count()
    figures['load_average_1min'] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures))
    return 0


if __name__ == '__main__':
    sys.exit(main())
