#!/usr/bin/env python3
"""Generate params/catalogue.yaml and params/layouts/flash.yaml deterministically.

The outputs are committed; run this again only to change them:
    ./walkout python scripts/gen_layouts.py
"""
from __future__ import annotations

import math
import random
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

# (category, base name, unit weight [g], price [EUR], age restricted, variants)
FAMILIES = [
    ('drinks', 'Mineral water 1.5 L', 1560, 0.69, False, 6),
    ('drinks', 'Mineral water 50 cl', 530, 0.49, False, 6),
    ('drinks', 'Orange juice 1 L', 1090, 2.29, False, 6),
    ('drinks', 'Cola can 33 cl', 352, 0.89, False, 6),
    ('drinks', 'Iced tea 1.5 L', 1590, 1.79, False, 4),
    ('alcohol', 'Lager can 50 cl', 532, 1.59, True, 8),
    ('alcohol', 'Lager bottle 33 cl', 560, 1.39, True, 8),
    ('alcohol', 'Red wine 75 cl', 1290, 7.90, True, 10),
    ('alcohol', 'White wine 75 cl', 1240, 6.90, True, 8),
    ('alcohol', 'Champagne 75 cl', 1650, 29.90, True, 4),
    ('alcohol', 'Cider 75 cl', 1180, 3.49, True, 4),
    ('alcohol', 'Whisky 70 cl', 1340, 24.90, True, 4),
    ('dairy', 'Yoghurt 4 x 125 g', 540, 1.99, False, 10),
    ('dairy', 'Butter 250 g', 262, 2.79, False, 4),
    ('dairy', 'Camembert 250 g', 280, 2.49, False, 4),
    ('dairy', 'Milk 1 L', 1060, 1.19, False, 6),
    ('dairy', 'Grated cheese 200 g', 212, 2.39, False, 4),
    ('snacks', 'Crisps 150 g', 168, 1.89, False, 10),
    ('snacks', 'Chocolate bar 100 g', 108, 1.69, False, 12),
    ('snacks', 'Biscuits 300 g', 322, 2.19, False, 10),
    ('snacks', 'Salted nuts 200 g', 222, 3.29, False, 6),
    ('snacks', 'Candy bag 250 g', 262, 2.59, False, 6),
    ('grocery', 'Pasta 500 g', 515, 1.29, False, 8),
    ('grocery', 'Rice 1 kg', 1025, 2.49, False, 4),
    ('grocery', 'Ground coffee 250 g', 275, 4.29, False, 8),
    ('grocery', 'Tea 25 bags', 70, 2.99, False, 8),
    ('grocery', 'Tomato sauce 400 g', 460, 1.69, False, 6),
    ('grocery', 'Canned tuna 3 x 80 g', 300, 4.49, False, 6),
    ('grocery', 'Cereal 375 g', 430, 3.59, False, 8),
    ('fresh', 'Sandwich', 210, 3.90, False, 10),
    ('fresh', 'Salad bowl', 320, 4.50, False, 8),
    ('fresh', 'Fruit cup', 260, 2.90, False, 6),
    ('fresh', 'Ready meal 400 g', 440, 5.90, False, 10),
    ('hygiene', 'Shower gel 250 ml', 290, 2.99, False, 6),
    ('hygiene', 'Toothpaste 75 ml', 118, 2.49, False, 6),
    ('hygiene', 'Tissues 10 packs', 150, 1.49, False, 4),
    ('hygiene', 'Shampoo 300 ml', 340, 3.99, False, 6),
    ('household', 'Dish soap 500 ml', 560, 2.19, False, 4),
    ('household', 'Kitchen roll 2 rolls', 280, 2.69, False, 4),
]
FLAVOURS = ['classic', 'light', 'organic', 'vanilla', 'lemon', 'red', 'blue', 'mint', 'spicy',
            'family', 'mini', 'extra']


def packaging_colour(product_id: str) -> str:
    """'#rrggbb': the colour the simulator draws the product in (a store's product database has it from
    the product images)."""
    from walkout_core.sim.render import product_colour
    b, g, r = product_colour(product_id)
    return f'#{r:02x}{g:02x}{b:02x}'


def catalogue() -> list[dict]:
    rng = random.Random(20261124)
    products = []
    n = 0
    for cat, base, weight, price, alcohol, variants in FAMILIES:
        for v in range(variants):
            n += 1
            # variants of one family differ slightly in weight and price (similar-weight cases)
            w = round(weight * (1.0 + rng.uniform(-0.04, 0.04)), 0)
            products.append({
                'id': f'p{n:03d}',
                'name': f'{base} ({FLAVOURS[v % len(FLAVOURS)]})',
                'category': cat,
                'unit_weight_g': float(w),
                'tolerance_g': float(round(max(4.0, 0.012 * w), 1)),
                'price': round(price * (1.0 + rng.uniform(-0.15, 0.25)), 2),
                'age_restricted': alcohol,
                'colour': packaging_colour(f'p{n:03d}'),
            })
    return products


def flash_layout(products: list[dict]) -> dict:
    """Carrefour Flash scale: 11 m x 5 m = 55 m^2, 60 cameras, 250 shelves x 8 lanes."""
    rng = random.Random(55)
    W, H = 11.0, 5.0
    levels = [round(0.2 + 0.25 * k, 2) for k in range(8)]  # 8 boards per bay [m]
    bay_len, depth = 1.0, 0.4
    bays = []                                       # (x, y, yaw_deg)
    for i in range(11):                             # back wall, facing -y
        bays.append((0.5 + i, H - depth / 2, 0.0))
    for i in range(3):                              # left wall (facing +x) and right wall (facing -x)
        bays.append((depth / 2, 1.9 + i, 90.0))
        bays.append((W - depth / 2, 1.9 + i, -90.0))
    for i in range(8):                              # island, two faces, x 1.5..9.5
        bays.append((2.0 + i, 2.2, 0.0))            # faces -y
        bays.append((2.0 + i, 2.6, 180.0))          # faces +y
    shelves = []
    sid = 0
    by_cat: dict[str, list[str]] = {}
    for p in products:
        by_cat.setdefault(p['category'], []).append(p['id'])
    cats = sorted(by_cat)
    weight = {p['id']: p['unit_weight_g'] for p in products}
    for b, (x, y, yaw) in enumerate(bays):
        cat = cats[b % len(cats)]
        for z in levels:
            if sid >= 250:
                break
            sid += 1
            lanes = []
            for _ in range(8):
                pid = rng.choice(by_cat[cat])
                stock = max(2, min(12, int(25000 // weight[pid])))
                lanes.append({'product': pid, 'stock': stock})
            shelves.append({'id': f'S{sid:03d}', 'unit': f'bay{b:02d}', 'x': round(x, 3), 'y': round(y, 3),
                            'z': z, 'yaw_deg': yaw, 'lanes': lanes})
    cameras = []
    nx, ny = 10, 6                                   # 60 ceiling cameras
    for j in range(ny):
        for i in range(nx):
            cameras.append({'id': f'cam{j * nx + i:02d}', 'width': 160, 'height': 120, 'fps': 5.0,
                            'host': f'edge{(j * nx + i) // 10}',
                            'pose': {'x': round((i + 0.5) * W / nx, 3), 'y': round((j + 0.5) * H / ny, 3),
                                     'z': 2.8, 'yaw_deg': 0.0, 'hfov_deg': 40.0}})
    return {
        'name': 'flash',
        'frame_id': 'map',
        'currency': 'EUR',
        'contactless_limit': 50.0,
        'floor': {'polygon': [[0, 0], [W, 0], [W, H], [0, H]]},
        'gates': [
            {'id': 'entry', 'kind': 'entry', 'polygon': [[1.0, 0.0], [2.2, 0.0], [2.2, 0.4], [1.0, 0.4]]},
            {'id': 'exit', 'kind': 'exit', 'polygon': [[8.8, 0.0], [10.0, 0.0], [10.0, 0.4], [8.8, 0.4]]},
            {'id': 'staff_door', 'kind': 'staff', 'polygon': [[0.0, 0.5], [0.4, 0.5], [0.4, 1.5], [0.0, 1.5]]},
        ],
        'checkout_zones': [
            {'id': f'checkout_{k + 1}', 'polygon': [[x0, 0.6], [x0 + 1.0, 0.6], [x0 + 1.0, 1.4], [x0, 1.4]]}
            for k, x0 in enumerate([5.0, 6.2, 7.4])
        ],
        'shelf_defaults': {'length': bay_len, 'depth': depth, 'rate_hz': 20.0, 'capacity_kg': 30.0,
                           'accuracy_g': 10.0},
        'catalogue_file': '../catalogue.yaml',
        'cameras': cameras,
        'shelves': shelves,
    }


def main() -> None:
    products = catalogue()
    header = ('# Generated by scripts/gen_layouts.py. Units: unit_weight_g [g], tolerance_g [g], price [EUR],\n'
              '# colour [#rrggbb] packaging colour seen from above (what a held product looks like to the cameras).\n')
    (ROOT / 'params' / 'catalogue.yaml').write_text(header + yaml.safe_dump({'products': products}, sort_keys=False))
    flash = flash_layout(products)
    hdr = ('# Carrefour Flash scale layout. Generated by scripts/gen_layouts.py.\n'
           '# Units: positions/lengths [m], z [m], yaw_deg [deg], fps [Hz], width/height [px],\n'
           '# rate_hz [Hz], capacity_kg [kg], accuracy_g [g], stock [items], contactless_limit [EUR].\n')
    (ROOT / 'params' / 'layouts' / 'flash.yaml').write_text(hdr + yaml.safe_dump(flash, sort_keys=False))


if __name__ == '__main__':
    main()
