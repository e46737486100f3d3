"""``./walkout``: the project's command line. Each command lives in its own module."""
from __future__ import annotations

import argparse
import importlib
import sys

#: command -> (module:function taking argv, one-line help)
COMMANDS = {
    'sim': ('walkout_core.sim.cli:main', 'simulate a scenario (or the suite) and write rosbag2 bags'),
    'run': ('walkout_bringup.runner:main', 'run the store graph from a layout, live or from a bag'),
    'eval': ('walkout_bringup.evaluate:main', 'replay a bag (or the suite) through the graph and score it'),
    'bench': ('walkout_bringup.bench:main', 'benchmark the simulator, the stages and the full graph'),
    'demo': ('walkout_bringup.demo:main', 'the main job: simulate, replay, print baskets and receipts, HTML report'),
    'play': ('walkout_nodes.bag_player:main', 'play a rosbag2 bag onto the topics'),
    'record': ('walkout_nodes.bag_recorder:main', 'record topics into a rosbag2 bag'),
    'smoke': ('walkout_bringup.smoke:main', 'start a few nodes, pass messages over DDS, print what flowed'),
    'layout': ('walkout_bringup.layout_cli:main', 'validate and summarise a store layout'),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    epilog = '\n'.join(f'  {name:<8} {help_}' for name, (_, help_) in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog='walkout', formatter_class=argparse.RawDescriptionHelpFormatter,
        description='walkout: an autonomous store on ROS 2. "walkout <command> --help" for each command.',
        epilog='commands:\n' + epilog + '\n  python   run python inside the environment\n  shell    a shell inside the environment')
    parser.add_argument('command', choices=sorted(COMMANDS), metavar='command')
    parser.add_argument('args', nargs=argparse.REMAINDER)
    if not argv:
        parser.print_help()
        return 2
    if argv[0] in ('-h', '--help'):
        parser.print_help()
        return 0
    ns = parser.parse_args(argv[:1])
    target, _ = COMMANDS[ns.command]
    mod_name, func = target.split(':')
    module = importlib.import_module(mod_name)
    result = getattr(module, func)(argv[1:])
    return int(result or 0)


if __name__ == '__main__':
    sys.exit(main())
