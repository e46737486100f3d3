"""rosbag2 (MCAP) input/output with ``rosbags``: a type store that knows walkout_msgs.

No ROS import: the message definitions are read from the ``.msg`` files of the
interface package (the source tree's ``msg/msg`` or an installed
``share/walkout_msgs/msg``), so the simulator and the evaluation read and write
bags on machines without ROS 2.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore

__all__ = ['msg_dir', 'typestore', 'bag_topics', 'WALKOUT_PKG']

WALKOUT_PKG = 'walkout_msgs'


def msg_dir() -> Path:
    """Directory holding walkout_msgs' ``.msg`` files."""
    env = os.environ.get('WALKOUT_MSG_DIR')
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent / 'msg' / 'msg'
        if (cand / 'ShelfEvent.msg').is_file():
            return cand
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        cand = Path(prefix) / 'share' / WALKOUT_PKG / 'msg'
        if (cand / 'ShelfEvent.msg').is_file():
            return cand
    raise FileNotFoundError('cannot find walkout_msgs .msg files: set WALKOUT_MSG_DIR')


@functools.lru_cache(maxsize=1)
def typestore():
    """A rosbags type store for ROS 2 Jazzy plus every walkout_msgs message."""
    store = get_typestore(Stores.ROS2_JAZZY)
    types = {}
    for f in sorted(msg_dir().glob('*.msg')):
        types.update(get_types_from_msg(f.read_text(), f'{WALKOUT_PKG}/msg/{f.stem}'))
    store.register(types)
    return store


def bag_topics(path: str | os.PathLike[str]) -> frozenset[str]:
    """Topics a rosbag2 bag directory holds (read from its metadata, no messages)."""
    from rosbags.rosbag2 import Reader
    with Reader(Path(path)) as reader:
        return frozenset(c.topic for c in reader.connections)
