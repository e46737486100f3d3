"""Benchmark of the shelf core: the flash layout's load cells through :class:`ShelfPipeline`.

``bench()`` synthesises ``duration_s`` of readings for every cell of the flash layout (noise, picks
with press spikes), then times one pipeline update per controller sample (process CPU time) and
returns ``shelf_core_share_flash``: CPU seconds per second of data (the share of one core).
"""
from __future__ import annotations

import time

import numpy as np

from walkout_core.layout import load_layout

from .config import ShelfEventConfig
from .pipeline import ShelfPipeline
from .synth import block_signal

__all__ = ['bench']


def bench(duration_s: float = 20.0, layout: str = 'flash') -> dict[str, float]:
    lay = load_layout(layout)
    pipe = ShelfPipeline(lay, ShelfEventConfig())
    rng = np.random.default_rng(7)
    t0 = 1_780_000_000.0
    data = []
    for cid, b in pipe.blocks.items():
        rate = max(s.rate_hz for s in lay.controllers()[cid])
        t, x = block_signal(duration_s, len(b.shelf_ids), rate, rng=rng)
        data.append((cid, t0 + t, x.astype(np.float32), b.shelf_ids, b.lanes))
    # interleave controllers in time order, as they arrive on /shelves/load_cells
    order = sorted((float(t[i]), k, i) for k, (_, t, _, _, _) in enumerate(data) for i in range(t.size))
    status = {cid: np.zeros(len(sids), np.uint8) for cid, _, _, sids, _ in data}
    c0 = time.process_time()
    for tt, k, i in order:
        cid, _, x, sids, lanes = data[k]
        pipe.update(cid, tt, x[i], status[cid], sids, lanes)
    cpu = time.process_time() - c0
    return {'shelf_core_share_flash': cpu / duration_s}


if __name__ == '__main__':
    print(bench())
