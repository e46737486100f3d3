"""Which simulator made a bag: a small JSON file next to the bag's ``metadata.yaml``.

A generated bag is a cache: replaying one made by an older simulator (or from an older scenario or
layout) scores the new code on the old world without a word. ``simulate`` writes
``walkout_sim.json`` (scenario, seed, duration, a fingerprint of the simulator's sources and of the
layout/catalogue files, and one of the scenario file); :func:`stale_reason` says whether a bag still
matches what the simulator would write now.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from walkout_core.layout import params_dir

__all__ = ['PROVENANCE_FILE', 'simulator_fingerprint', 'file_sha256', 'write_provenance', 'read_provenance',
           'stale_reason']

PROVENANCE_FILE = 'walkout_sim.json'
_FORMAT = 1


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _world_files() -> list[Path]:
    """The files that decide what the simulator writes, apart from the scenario file: its own sources,
    the layout model, the layouts and the catalogue."""
    core = Path(__file__).resolve().parent.parent
    params = params_dir()
    files = sorted((core / 'sim').glob('*.py')) + [core / 'layout.py']
    files += sorted((params / 'layouts').glob('*.yaml')) + sorted(params.glob('catalogue*.yaml'))
    return [f for f in files if f.is_file()]


def simulator_fingerprint() -> str:
    """sha256 over the simulator's sources, the layout model, the layouts and the catalogue (by name and
    content; the order is fixed)."""
    h = hashlib.sha256()
    for f in _world_files():
        h.update(f.name.encode())
        h.update(b'\0')
        h.update(f.read_bytes())
        h.update(b'\0')
    return h.hexdigest()


def write_provenance(out: str | Path, scenario: str, scenario_source: str, seed: int, duration_s: float,
                     raw_images: bool, cameras: bool) -> Path:
    """Write ``<out>/walkout_sim.json`` for a bag ``simulate`` has just written."""
    src = Path(scenario_source)
    data: dict[str, Any] = {
        'format': _FORMAT, 'scenario': scenario, 'seed': int(seed), 'duration_s': float(duration_s),
        'raw_images': bool(raw_images), 'cameras': bool(cameras), 'simulator': simulator_fingerprint(),
        'scenario_sha256': file_sha256(src) if src.is_file() else None}
    path = Path(out) / PROVENANCE_FILE
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + '\n')
    return path


def read_provenance(bag: str | Path) -> dict[str, Any] | None:
    """The bag's provenance, or None (no file, or not readable JSON)."""
    try:
        data = json.loads((Path(bag) / PROVENANCE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def stale_reason(bag: str | Path, scenario_path: str | Path | None = None, seed: int | None = None) -> str | None:
    """Why the bag is not what the simulator would write now for ``scenario_path`` (and ``seed``), or
    None when it is."""
    prov = read_provenance(bag)
    if prov is None:
        return f'no {PROVENANCE_FILE} (made by a simulator older than its provenance file, or not by walkout sim)'
    if prov.get('simulator') != simulator_fingerprint():
        return 'made by another version of the simulator, layouts or catalogue'
    if scenario_path is not None and Path(scenario_path).is_file() and \
            prov.get('scenario_sha256') != file_sha256(scenario_path):
        return f'its scenario file {scenario_path} has changed since'
    if seed is not None and prov.get('seed') != int(seed):
        return f'seed {prov.get("seed")}, not {seed}'
    return None
