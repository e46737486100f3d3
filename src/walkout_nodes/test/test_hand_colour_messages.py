"""The colour at a hand travels detection -> tracker -> association through the messages (zeros = none)."""
import math

import pytest

pytest.importorskip('rclpy')
from builtin_interfaces.msg import Time  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from walkout_core.tracking.tracker import AvatarState, TrackerOutput  # noqa: E402
from walkout_core.vision.detector import Detection, FrameDetections  # noqa: E402
from walkout_nodes.basket_convert import frame_from_msg  # noqa: E402
from walkout_nodes.detection_node import detections_to_msg  # noqa: E402
from walkout_nodes.tracker_node import _frame_of, avatars_to_msg  # noqa: E402

PURPLE = (0.6, 0.2, 0.7)


def _avatar(hand_rgb, has_reach=True):
    return AvatarState(7, (1.0, 0.0, 0.0), 1, 1, False, '', 1.0, 2.0, 0.0, 0.0, (0.01, 0.0, 0.0, 0.01), has_reach,
                       1.3, 2.4, 0.0, 1.0, hand_rgb)


def test_detection_hand_colour_reaches_the_tracker_adapter():
    dets = (Detection(1.0, 2.0, 0.05, 0.2, 0.12, 1.0, has_reach=True, reach_x=1.3, reach_y=2.4, hand_rgb=PURPLE),
            Detection(3.0, 2.0, 0.05, 0.2, 0.12, 1.0))
    msg = detections_to_msg(FrameDetections(True, dets), 'cam0', Header(stamp=Time(sec=1)))
    frame = _frame_of(msg)
    assert frame.detections[0].hand_rgb == pytest.approx(PURPLE)
    assert tuple(frame.detections[1].hand_rgb) == (0.0, 0.0, 0.0)       # not measured


@pytest.mark.parametrize('hand_rgb, has_reach, expected', [
    (PURPLE, True, PURPLE),
    (None, True, None),                                # not measured: zeros on the wire, None again
    (PURPLE, False, None),                             # no reach: no hand colour
])
def test_avatar_hand_colour_reaches_the_association(hand_rgb, has_reach, expected):
    msg = avatars_to_msg(TrackerOutput(5.0, (_avatar(hand_rgb, has_reach),)), 'map')
    frame, bad = frame_from_msg(msg)
    assert bad == 0
    got = frame.avatars[0].hand_rgb
    assert (got is None) if expected is None else got == pytest.approx(expected)


def test_malformed_hand_colour_is_dropped_not_fatal():
    msg = avatars_to_msg(TrackerOutput(5.0, (_avatar(PURPLE),)), 'map')
    msg.avatars[0].hand_rgb = [math.nan, 0.2, 0.3]
    frame, bad = frame_from_msg(msg)
    assert bad == 0 and frame.avatars[0].has_reach and frame.avatars[0].hand_rgb is None
