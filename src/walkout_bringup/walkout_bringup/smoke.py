"""``./walkout smoke``: start the nodes that exist in one process, pass messages over DDS, print what flowed.

Stimulus: a bag (``--bag``, or ``bags/demo_small`` when present) played at ``--rate``, or, without
one, synthetic sensor data of the small layout: every shelf controller at its rate with one item
taken from a lane, and one avatar standing in front of that lane reaching for it. A tap subscribes
to every topic it sees and counts the messages.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any


def _tap_node(counts: dict[str, int], lock: threading.Lock) -> Any:
    from rclpy.node import Node
    from walkout_nodes.bag_player import message_class, qos_for_topic
    node = Node('walkout_smoke_tap')
    seen: set[str] = set()

    def discover() -> None:
        for topic, types in node.get_topic_names_and_types():
            if topic in seen or topic in ('/rosout', '/parameter_events'):
                continue
            seen.add(topic)
            try:
                cls = message_class(types[0])
            except Exception:  # noqa: BLE001 - a type not installed here is just not counted
                continue

            def cb(_: Any, t: str = topic) -> None:
                with lock:
                    counts[t] = counts.get(t, 0) + 1
            node.create_subscription(cls, topic, cb, qos_for_topic(topic, True), raw=True)
    node.create_timer(0.2, discover)
    discover()
    return node


def _stimulus_node(layout: Any, seconds: float) -> tuple[Any, threading.Event]:
    """Publishes synthetic load cells and one reaching avatar in sim time; returns (node, done)."""
    import numpy as np
    from rclpy.node import Node
    from walkout_msgs.msg import Avatar, AvatarArray, LoadCellReadings
    from walkout_nodes.bag_player import qos_for_topic
    from walkout_nodes.common import sec_to_stamp
    node = Node('walkout_smoke_stimulus')
    lc_pub = node.create_publisher(LoadCellReadings, '/shelves/load_cells', qos_for_topic('/shelves/load_cells', True))
    av_pub = node.create_publisher(AvatarArray, '/tracking/avatars', qos_for_topic('/tracking/avatars', True))
    done = threading.Event()
    shelf = layout.shelves[0]
    lane = 1
    product = layout.product(shelf.lanes[lane].product_id)
    lane_xyz = shelf.lane_position(lane)
    stand = lane_xyz[:2] + shelf.front_normal * 0.45
    ctrls = layout.controllers()
    t0 = 1_780_000_000.0

    rng = np.random.default_rng(0)

    def run() -> None:
        time.sleep(1.0)                                   # discovery
        rate = 20.0
        seq = 0
        for i in range(int(seconds * rate)):
            t = t0 + i / rate
            stamp = sec_to_stamp(t)
            taken = i >= int(seconds * rate / 3)
            for cid, shelves in ctrls.items():
                ids, lanes, w = [], [], []
                for s in shelves:
                    for j, ln in enumerate(s.lanes):
                        ids.append(s.id)
                        lanes.append(j)
                        unit = layout.product(ln.product_id).unit_weight_g
                        n = ln.initial_stock - (1 if (taken and s.id == shelf.id and j == lane) else 0)
                        w.append(unit * n + float(rng.normal(0.0, s.accuracy_g)))
                msg = LoadCellReadings(controller_id=cid, sequence=seq, shelf_ids=ids,
                                       lanes=np.asarray(lanes, np.uint16).tolist(),
                                       weights_g=np.asarray(w, np.float32).tolist(), status=[0] * len(ids))
                msg.header.stamp = stamp
                msg.header.frame_id = 'map'
                lc_pub.publish(msg)
            seq += 1
            if i % 2 == 0:
                av = Avatar(id=1, state=Avatar.STATE_SHOPPING, track_status=Avatar.TRACK_CONFIRMED)
                av.position.x, av.position.y = float(stand[0]), float(stand[1])
                av.position_covariance = [0.01, 0.0, 0.0, 0.01]
                reaching = abs(i - int(seconds * rate / 3)) < 20
                av.has_reach = reaching
                av.reach_point.x, av.reach_point.y, av.reach_point.z = (float(v) for v in lane_xyz)
                av.color.r, av.color.a = 1.0, 1.0
                av.first_seen = sec_to_stamp(t0)
                av.last_seen = stamp
                arr = AvatarArray(avatars=[av])
                arr.header.stamp = stamp
                arr.header.frame_id = 'map'
                av_pub.publish(arr)
            time.sleep(1.0 / rate / 4)
        done.set()
    threading.Thread(target=run, daemon=True).start()
    return node, done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog='walkout smoke', description=__doc__.split('\n\n')[0])
    ap.add_argument('--bag', help='play this bag (default bags/demo_small if present, else synthetic data)')
    ap.add_argument('--rate', type=float, default=4.0)
    ap.add_argument('--seconds', type=float, default=6.0, help='synthetic data length [s of sim time]')
    ap.add_argument('--synthetic', action='store_true', help='synthetic data even when a bag exists')
    ns = ap.parse_args(list(sys.argv[1:] if argv is None else argv))
    import rclpy
    from rclpy.signals import SignalHandlerOptions
    from walkout_bringup.graph import node_list, replay_overrides
    from walkout_core.bagio import bag_topics
    from walkout_bringup.runner import InProcessGraph, make_event_marker_node, player_parameters, ros_parameters
    from walkout_core.layout import load_layout, params_dir
    layout = load_layout('small')
    bag = ns.bag
    if bag is None and not ns.synthetic:
        cand = params_dir().parent / 'bags' / 'demo_small'
        bag = str(cand) if (cand / 'metadata.yaml').is_file() else None
    specs = node_list(layout, source='bag', overrides=replay_overrides(bag_topics(bag)) if bag else None)
    if bag is None:   # the stimulus stands in for the tracker
        specs = [s for s in specs if s.executable not in ('detection_node', 'tracker_node')]
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    counts: dict[str, int] = {}
    lock = threading.Lock()
    graph = InProcessGraph(specs)
    try:
        print(f'smoke: started {graph.report.started or "no nodes"}')
        for name, why in graph.report.failed.items():
            print(f'smoke: not started {name}: {why}')
        graph.add_node('tap', _tap_node(counts, lock))
        graph.add_node('event_markers', make_event_marker_node())
        if bag:
            from walkout_nodes.bag_player import BagPlayer
            src = BagPlayer(parameter_overrides=ros_parameters(player_parameters(bag, ns.rate,
                                                                                 wait_for_subscribers_s=3.0)))
            done = src.done
            graph.add_node('bag_player', src)
            print(f'smoke: playing {bag} at {ns.rate}x')
        else:
            src, done = _stimulus_node(layout, ns.seconds)
            graph.add_node('stimulus', src)
            print(f'smoke: synthetic data: {ns.seconds} s of load cells and one reaching avatar')
        graph.start()
        if bag:
            src.start()
        try:
            while not done.wait(0.2):
                pass
            time.sleep(2.0)
        except KeyboardInterrupt:
            pass
        with lock:
            flowed = dict(sorted(counts.items()))
        print('smoke: messages that flowed over DDS:')
        for t, n in flowed.items():
            print(f'  {t:<40} {n}')
        if graph.callback_errors:
            print(f'smoke: {graph.callback_errors} node callback error(s), first: {graph.spin_error!r}')
        return 0 if flowed else 1
    finally:
        graph.stop()
        rclpy.try_shutdown()


if __name__ == '__main__':
    sys.exit(main())
