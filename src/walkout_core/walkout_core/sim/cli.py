"""``./walkout sim``: simulate one scenario, or the whole suite, into rosbag2 (MCAP) bag directories."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from walkout_core.sim.engine import simulate
from walkout_core.sim.scenario import ScenarioError, load_scenario, scenario_names

__all__ = ['main']


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='walkout sim', description=__doc__)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument('--scenario', help='scenario name (params/scenarios/<name>.yaml) or path')
    g.add_argument('--suite', action='store_true', help='every scenario, one bag directory each under --out')
    g.add_argument('--list', action='store_true', help='list the scenarios with a one-line description')
    p.add_argument('--out', help='bag directory (--scenario) or parent directory (--suite)')
    p.add_argument('--seed', type=int, help='override the scenario seed')
    p.add_argument('--raw-images', action='store_true', help='sensor_msgs/Image rgb8 instead of JPEG')
    p.add_argument('--include-stress', action='store_true', help='--suite: also the stress scenarios')
    p.add_argument('--duration', type=float, help='override the simulated duration [s]')
    p.add_argument('-v', '--verbose', action='store_true')
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='%(levelname)s %(name)s: %(message)s')
    try:
        if args.list:
            for name in scenario_names():
                s = load_scenario(name)
                tag = ' [stress]' if s.stress else ''
                print(f'{name:<24} {s.layout.name:<6} {s.duration_s:>6.0f} s{tag}  {s.description}')
            return 0
        if not args.out:
            print('walkout sim: --out is required', file=sys.stderr)
            return 2
        if args.suite:
            jobs = [(load_scenario(n), Path(args.out) / n) for n in scenario_names()]
            jobs = [(s, o) for s, o in jobs if args.include_stress or not s.stress]
        else:
            scn = load_scenario(args.scenario)
            jobs = [(scn, Path(args.out))]
    except ScenarioError as exc:
        print(f'walkout sim: {exc}', file=sys.stderr)
        return 2
    for scn, out in jobs:
        t0 = time.perf_counter()
        res = simulate(scn, out, seed=args.seed, raw_images=args.raw_images, duration_s=args.duration)
        wall = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in out.rglob('*') if f.is_file()) / 1e6
        print(f'{scn.name}: {out} ({size:.1f} MB) seed={res.seed} {res.duration_s:.0f} s simulated in {wall:.1f} s, '
              f'{res.persons} persons, {res.events} truth events, {res.frames_dropped} frames dropped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
