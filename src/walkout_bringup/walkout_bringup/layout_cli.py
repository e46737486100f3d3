"""``walkout layout <name or path>``: validate a layout and print a summary."""
from __future__ import annotations

import argparse
import sys

from walkout_core.layout import LayoutError, load_layout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='walkout layout', description=__doc__)
    parser.add_argument('layout', nargs='+', help='layout name (small, flash) or YAML path')
    args = parser.parse_args(argv)
    status = 0
    for name in args.layout:
        try:
            lay = load_layout(name)
        except LayoutError as exc:
            sys.stderr.write(f'invalid layout: {exc}\n')
            status = 1
            continue
        alcohol = sum(p.age_restricted for p in lay.catalogue.values())
        sys.stdout.write(
            f'{lay.name}: {lay.area_m2:.1f} m2, {len(lay.cameras)} cameras, {len(lay.shelves)} shelves, '
            f'{lay.n_load_cells} load cells on {len(lay.controllers())} controllers, '
            f'{len(lay.catalogue)} products ({alcohol} age-restricted), '
            f'{len(lay.checkout_zones)} checkout zones, gates: {", ".join(g.id for g in lay.gates)}\n')
    return status
