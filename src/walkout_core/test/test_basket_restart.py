"""SIGKILL a process writing baskets mid-visit; a new store on the same file resumes intact."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from walkout_core.basket import BasketStore
from walkout_core.layout import load_layout

WRITER = textwrap.dedent('''
    import sys
    from walkout_core.basket import BasketChange, BasketStore, Cause
    from walkout_core.layout import load_layout
    lay = load_layout('small')
    products = sorted(lay.catalogue)[:20]
    store = BasketStore(sys.argv[1], lay.catalogue)
    k = 0
    while True:                       # runs until killed
        k += 1
        avatar, product = 1 + k % 7, products[k % len(products)]
        q = -1 if k % 5 == 0 else 1
        store.apply_change(BasketChange(f'e{k}', float(k), avatar, product, q, Cause.PICK if q > 0 else Cause.PUT_BACK))
        print(f'{k} {avatar} {product} {q}', flush=True)   # acknowledged only after the commit
''')


def test_sigkill_mid_visit_and_resume(tmp_path):
    db = tmp_path / 'baskets.sqlite'
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, '-c', WRITER, str(db)], stdout=subprocess.PIPE, text=True, env=env)
    acked = []
    try:
        for line in proc.stdout:
            acked.append(line.split())
            if len(acked) >= 150:
                break
    finally:
        proc.send_signal(signal.SIGKILL)      # mid-visit: the writer is in its loop
        proc.wait(timeout=10)
    acked.extend(line.split() for line in proc.stdout.read().splitlines() if len(line.split()) == 4)
    assert proc.returncode == -signal.SIGKILL
    # Every acknowledged change must be there; at most one unacknowledged one may also be.
    lay = load_layout('small')
    store = BasketStore(db, lay.catalogue)
    got = {(b.avatar_id, i.product_id): i.quantity for b in store.baskets() for i in b.items}

    def expected(n):
        exp: dict = {}
        for k, avatar, product, q in acked[:n]:
            key = (int(avatar), product)
            exp[key] = max(0, exp.get(key, 0) + int(q))
        return {k: v for k, v in exp.items() if v}
    n = len(acked)
    assert got == expected(n) or _with_next(expected(n), n + 1, lay) == got
    # the resumed store keeps working and refuses to apply an acknowledged event twice
    from walkout_core.basket import BasketChange, Cause
    k, avatar, product, q = acked[-1]
    assert store.apply_change(BasketChange(f'e{k}', 0.0, int(avatar), product, int(q), Cause.PICK)).avatars == set()
    store.close()


def _with_next(exp: dict, k: int, lay) -> dict:
    products = sorted(lay.catalogue)[:20]
    avatar, product = 1 + k % 7, products[k % len(products)]
    q = -1 if k % 5 == 0 else 1
    out = dict(exp)
    out[(avatar, product)] = max(0, out.get((avatar, product), 0) + q)
    return {a: v for a, v in out.items() if v}
