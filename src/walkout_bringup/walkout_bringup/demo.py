"""``./walkout demo`` (``make demo``): the main job in one command.

Uses the demo bag of the small store (``bags/demo_small``, else ``bags/generated/demo``, else
simulates the ``demo`` scenario there), replays it through the whole graph, prints each avatar's
basket and receipt and the accuracy report, and writes ``out/demo/report.html``: a picture of the
store (shelves, zones, gates, every avatar's trajectory in its colour, shelf events and alerts
marked), the baskets, receipts, alerts and the figures.
"""
from __future__ import annotations

import argparse
import base64
import html
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

PX_PER_M = 90
MARGIN_PX = 40


def _repo() -> Path:
    from walkout_core.layout import params_dir
    return params_dir().parent


def find_or_make_bag(log: Any = print) -> Path:
    root = _repo()
    for cand in (root / 'bags' / 'demo_small', root / 'bags' / 'generated' / 'demo'):
        if (cand / 'metadata.yaml').is_file():
            return cand
    out = root / 'bags' / 'generated' / 'demo'
    out.parent.mkdir(parents=True, exist_ok=True)
    log(f'demo: simulating the demo scenario into {out}')
    subprocess.run([sys.executable, '-m', 'walkout_bringup.cli', 'sim', '--scenario', 'demo', '--out', str(out)],
                   check=True)
    return out


# --------------------------------------------------------------------------- picture
class _Canvas:
    def __init__(self, layout: Any):
        x0, y0, x1, y1 = layout.floor.bounds
        self.x0, self.y1 = x0, y1
        self.w = int((x1 - x0) * PX_PER_M) + 2 * MARGIN_PX
        self.h = int((y1 - y0) * PX_PER_M) + 2 * MARGIN_PX
        self.img = np.full((self.h, self.w, 3), 255, np.uint8)

    def px(self, xy: Any) -> np.ndarray:
        """Floor metres (..., 2) -> image pixels (x right, y up on screen)."""
        a = np.asarray(xy, float).reshape(-1, 2)
        u = MARGIN_PX + (a[:, 0] - self.x0) * PX_PER_M
        v = MARGIN_PX + (self.y1 - a[:, 1]) * PX_PER_M
        return np.stack([u, v], axis=1).round().astype(np.int32)


def _bgr(rgb: tuple[float, float, float]) -> tuple[int, int, int]:
    r, g, b = (int(max(0.0, min(1.0, c)) * 255) for c in rgb)
    return (b, g, r)


def avatar_tracks(avatar_arrays: list[Any]) -> dict[int, dict[str, Any]]:
    """Avatar id -> {'xy': (N, 2), 'color': rgb, 'staff': bool}."""
    tracks: dict[int, dict[str, Any]] = {}
    for arr in avatar_arrays:
        for a in arr.avatars:
            t = tracks.setdefault(int(a.id), {'xy': [], 'color': (a.color.r, a.color.g, a.color.b),
                                               'staff': bool(a.is_staff)})
            t['xy'].append((a.position.x, a.position.y))
    for t in tracks.values():
        t['xy'] = np.asarray(t['xy'], float).reshape(-1, 2)
    return tracks


def draw_store(layout: Any, avatar_arrays: list[Any], shelf_events: list[Any], alerts: list[Any],
               truth_persons: list[Any] | None = None) -> np.ndarray:
    """A top view of the store with trajectories and events (BGR image)."""
    import cv2
    c = _Canvas(layout)
    img = c.img
    cv2.polylines(img, [c.px(layout.floor.points)], True, (60, 60, 60), 2)
    for z in layout.checkout_zones:
        cv2.fillPoly(img, [c.px(z.polygon.points)], (200, 235, 255))
        cv2.putText(img, z.id, tuple(c.px(z.polygon.centroid)[0] + [-30, 5]), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (0, 90, 160), 1, cv2.LINE_AA)
    gate_col = {'entry': (120, 200, 120), 'exit': (120, 120, 220), 'staff': (200, 160, 120)}
    for g in layout.gates:
        cv2.fillPoly(img, [c.px(g.polygon.points)], gate_col.get(g.kind, (180, 180, 180)))
        cv2.putText(img, g.id, tuple(c.px(g.polygon.centroid)[0] + [-20, -8]), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (40, 40, 40), 1, cv2.LINE_AA)
    for s in layout.shelves:
        cv2.fillPoly(img, [c.px(s.footprint.points)], (205, 205, 205))
        cv2.polylines(img, [c.px(s.footprint.points)], True, (110, 110, 110), 1)
        cv2.putText(img, s.id, tuple(c.px((s.x, s.y))[0] + [-8, 4]), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    (60, 60, 60), 1, cv2.LINE_AA)
    if truth_persons:
        truth: dict[int, list] = {}
        for arr in truth_persons:
            for p in arr.persons:
                if p.inside:
                    truth.setdefault(int(p.person_id), []).append((p.position.x, p.position.y))
        for pts in truth.values():
            cv2.polylines(img, [c.px(pts)], False, (215, 215, 215), 1, cv2.LINE_AA)
    for aid, t in sorted(avatar_tracks(avatar_arrays).items()):
        col = _bgr(t['color'])
        if len(t['xy']) > 1:
            cv2.polylines(img, [c.px(t['xy'])], False, col, 2, cv2.LINE_AA)
        if len(t['xy']):
            end = tuple(c.px(t['xy'][-1])[0])
            cv2.circle(img, end, 6, col, -1, cv2.LINE_AA)
            cv2.putText(img, f'{aid}{" staff" if t["staff"] else ""}', (end[0] + 7, end[1] - 5),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.45, col, 1, cv2.LINE_AA)
    for ev in shelf_events:
        p = tuple(c.px((ev.lane_position.x, ev.lane_position.y))[0])
        col = (40, 160, 40) if ev.quantity > 0 else (200, 90, 30)
        cv2.drawMarker(img, p, col, cv2.MARKER_TRIANGLE_DOWN if ev.quantity > 0 else cv2.MARKER_TRIANGLE_UP, 12, 2)
    for al in alerts:
        if al.location.x == 0.0 and al.location.y == 0.0:
            continue
        cv2.drawMarker(img, tuple(c.px((al.location.x, al.location.y))[0]), (30, 30, 220), cv2.MARKER_TILTED_CROSS,
                       14, 2)
    return img


# --------------------------------------------------------------------------- text
def final_baskets(states: list[Any]) -> list[Any]:
    return list(states[-1].baskets) if states else []


def _items(items: list[Any]) -> str:
    return ', '.join(f'{i.quantity} x {i.name or i.product_id}' for i in items) or '(empty)'


def basket_lines(states: list[Any], receipts: list[Any], currency: str) -> list[str]:
    from walkout_msgs.msg import Basket
    state_name = {Basket.STATE_OPEN: 'open', Basket.STATE_PAID: 'paid', Basket.STATE_ABANDONED: 'left unpaid'}
    by_avatar = {int(r.avatar_id): r for r in receipts}
    lines = []
    for b in final_baskets(states):
        r = by_avatar.get(int(b.avatar_id))
        flags = []
        if b.pending_reviews:
            flags.append(f'{b.pending_reviews} review(s) pending')
        if b.age_check_required:
            flags.append('age approved' if b.age_approved else 'age check pending')
        lines.append(f'avatar {b.avatar_id}: {_items(b.items)} = {b.total:.2f} {b.currency or currency} '
                     f'[{state_name.get(b.state, b.state)}{"; " + "; ".join(flags) if flags else ""}]')
        if r is not None:
            lines.append(f'    receipt {r.receipt_id} at {r.checkout_zone_id}: {r.total:.2f} {r.currency} '
                         f'({"PIN" if r.pin_used else "contactless"}) qr={r.qr_payload[:40]}')
    shown = {int(b.avatar_id) for b in final_baskets(states)}
    for aid, r in sorted(by_avatar.items()):
        if aid not in shown:
            lines.append(f'avatar {aid}: receipt {r.receipt_id}: {_items(r.items)} = {r.total:.2f} {r.currency}')
    return lines or ['(no baskets)']


def _alert_kind(kind: int) -> str:
    from walkout_msgs.msg import StoreAlert
    names = {getattr(StoreAlert, k): k[5:].lower().replace('_', ' ') for k in dir(StoreAlert) if k.startswith('KIND_')}
    return names.get(kind, str(kind))


def truth_lines(truth_baskets: list[Any]) -> list[str]:
    out = []
    for arr in truth_baskets[-1:]:
        for b in arr.baskets:
            who = 'staff' if b.is_staff else ('paid' if b.paid else 'did not pay')
            out.append(f'person {b.person_id} ({who}): {_items(b.items)}')
    return out


def write_html(path: Path, png: bytes, title: str, sections: list[tuple[str, list[str]]], figures: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / 'store.png').write_bytes(png)
    rows = ''.join(f'<tr><td>{html.escape(k)}</td><td>{"null" if v is None else html.escape(f"{v:.4g}" if isinstance(v, float) else str(v))}</td></tr>'
                   for k, v in figures.items() if not isinstance(v, dict))
    body = ''.join(f'<h2>{html.escape(h)}</h2><pre>{html.escape(chr(10).join(lines))}</pre>' for h, lines in sections)
    path.write_text(f'''<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}} pre{{background:#f6f6f6;padding:.6em;white-space:pre-wrap}}
table{{border-collapse:collapse}} td{{border:1px solid #ccc;padding:2px 8px}} img{{border:1px solid #999}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>Top view: shelves grey, checkout zones orange, gates green (entry) / red (exit) / blue (staff); each avatar's
trajectory in its colour (true paths faint grey); shelf events as triangles (down: taken, up: put back);
alerts as red crosses.</p>
<img alt="store" src="data:image/png;base64,{base64.b64encode(png).decode()}">
{body}<h2>Figures</h2><table>{rows}</table></body></html>
''')


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog='walkout demo', description=__doc__.split('\n\n')[0])
    ap.add_argument('--bag', help='bag to replay (default: the demo bag, simulated if missing)')
    ap.add_argument('--out', default=None, help='report directory (default <repo>/out/demo)')
    ns = ap.parse_args(list(sys.argv[1:] if argv is None else argv))
    import logging
    logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s', stream=sys.stderr)
    import cv2
    from walkout_bringup.evaluate import read_truth, replay, report_text, score
    from walkout_core.layout import load_layout
    t0 = time.monotonic()
    bag = Path(ns.bag) if ns.bag else find_or_make_bag()
    print(f'demo: replaying {bag} through the store graph', flush=True)
    result = replay(bag)
    truth = read_truth(bag)
    layout = load_layout(result.layout)
    figures, notes = score(result, truth, layout)
    out = result.outputs
    receipts = out['/checkout/receipts']
    sections = [
        ('Baskets and receipts (what the store computed)', basket_lines(out['/baskets/state'], receipts,
                                                                       layout.currency)),
        ('True baskets (simulator)', truth_lines(truth['/truth/baskets']) or ['(no truth in this bag)']),
        ('Alerts for staff', [f'[{_alert_kind(a.kind)}] {a.message}' for a in out['/alerts']] or ['(none)']),
        ('Accuracy report', report_text(result, figures, notes).splitlines()),
    ]
    for head, lines in sections:
        print(f'\n== {head}')
        print('\n'.join(lines))
    img = draw_store(layout, out['/tracking/avatars'], out['/shelves/events'], out['/alerts'],
                     truth['/truth/persons'])
    ok, png = cv2.imencode('.png', img)
    report = Path(ns.out) if ns.out else _repo() / 'out' / 'demo'
    write_html(report / 'report.html', png.tobytes(), f'walkout demo: {bag.name} ({layout.name} store)',
               sections, figures)
    print(f'\ndemo: report written to {report / "report.html"} ({time.monotonic() - t0:.1f} s in all)')
    print(json.dumps(figures))
    return 0


if __name__ == '__main__':
    sys.exit(main())
