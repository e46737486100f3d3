"""Frozen configurations of the overhead person detector and of the camera/detection nodes."""
from __future__ import annotations

from dataclasses import dataclass

from walkout_core.config import param

__all__ = ['DetectorConfig', 'DetectionNodeConfig', 'CameraNodeConfig']


@dataclass(frozen=True)
class DetectorConfig:
    """Background-model overhead person detector (and the ONNX backend's thresholds)."""

    backend: str = param('background', '-', 'detector backend', choices=('background', 'onnx'))
    onnx_model_path: str = param('', '-', 'ONNX model file (backend onnx): heat map of person centres '
                                 '(channel 0) and optionally hands (channel 1)')
    onnx_input_width: int = param(0, 'px', 'ONNX network input width (0 = frame width)', min_value=0, max_value=4096)
    onnx_input_height: int = param(0, 'px', 'ONNX network input height (0 = frame height)', min_value=0, max_value=4096)
    onnx_threshold: float = param(0.5, '-', 'heat-map peak threshold of the ONNX backend', min_value=0.0, max_value=1.0)
    diff_threshold: float = param(28.0, 'grey level', 'per-channel difference from the background that is '
                                  'foreground', min_value=1.0, max_value=255.0)
    gain_compensation: bool = param(True, '-', 'scale the background by the frame/background brightness '
                                    'ratio (lighting drift)')
    gain_limit: float = param(2.0, '-', 'largest accepted brightness ratio frame/background '
                              '(and smallest 1/gain_limit)', min_value=1.0, max_value=10.0)
    shadow_suppression: bool = param(True, '-', 'pixels darker than the background with the same chromaticity '
                                     'are shadow, not foreground')
    shadow_min_ratio: float = param(0.2, '-', 'smallest brightness ratio of a shadow pixel', min_value=0.0,
                                    max_value=1.0)
    shadow_max_ratio: float = param(0.5, '-', 'largest brightness ratio of a shadow pixel', min_value=0.0,
                                    max_value=1.0)
    shadow_chroma_tol: float = param(0.05, '-', 'largest chromaticity difference of a shadow pixel',
                                     min_value=0.0, max_value=1.0)
    bg_time_constant_s: float = param(10.0, 's', 'time constant of the background update on background pixels',
                                      min_value=0.01, max_value=3600.0)
    bg_clutter_time_constant_s: float = param(3.0, 's', 'time constant of the update on foreground that is not '
                                              'a person (restocked shelves, noise)', min_value=0.01, max_value=3600.0)
    bg_person_time_constant_s: float = param(1800.0, 's', 'time constant of the update under person blobs '
                                             '(someone standing still stays foreground for minutes)',
                                             min_value=1.0, max_value=1.0e6)
    min_person_area_m2: float = param(0.05, 'm^2', 'smallest body blob that is a person', min_value=0.0,
                                      max_value=10.0)
    person_area_m2: float = param(0.1, 'm^2', 'typical floor area of one body seen from above',
                                  min_value=0.01, max_value=10.0)
    split_area_factor: float = param(1.5, '-', 'blobs larger than this many persons are split at distance '
                                     'transform peaks', min_value=1.0, max_value=10.0)
    min_body_radius_m: float = param(0.1, 'm', 'smallest inscribed body radius of a person (peak of the '
                                     'distance transform)', min_value=0.01, max_value=2.0)
    min_person_separation_m: float = param(0.3, 'm', 'two body centres closer than this are one person',
                                           min_value=0.01, max_value=5.0)
    head_split_contrast: float = param(40.0, 'grey level', 'a blob larger than split_area_factor persons is split at '
                                       'heads: points deep in the blob (min_body_radius_m) where the colour of a '
                                       'disc of head_radius_m differs this much from the blob\'s pixels in the ring '
                                       'around it, at least a head\'s width apart (two heads or more; else distance '
                                       'transform peaks; 0 = off)', min_value=0.0, max_value=442.0)
    head_radius_m: float = param(0.1, 'm', 'radius of a head seen from above (the head test\'s disc ends a pixel '
                                 'inside it, its ring starts a pixel outside)', min_value=0.01, max_value=0.5)
    head_ring_m: float = param(0.06, 'm', 'width of the ring around that disc, just beyond the head',
                               min_value=0.01, max_value=0.5)
    noise_kernel_m: float = param(0.03, 'm', 'opening kernel that removes pixel noise', min_value=0.0,
                                  max_value=1.0)
    close_kernel_m: float = param(0.06, 'm', 'closing kernel that fills holes in a body', min_value=0.0,
                                  max_value=1.0)
    arm_kernel_m: float = param(0.13, 'm', 'opening kernel wider than an arm: what it removes is an arm',
                                min_value=0.01, max_value=2.0)
    arm_min_reach_m: float = param(0.24, 'm', 'a hand is at least this far from its body centre (beyond the '
                                   'widest body)', min_value=0.05, max_value=3.0)
    arm_coverage: float = param(0.95, '-', 'share of foreground on the straight line from the body centre to '
                                'the hand', min_value=0.0, max_value=1.0)
    arm_min_protrusion_m: float = param(0.05, 'm', 'an arm sticks out of the body blob by at least this much',
                                        min_value=0.0, max_value=2.0)
    arm_through_body_m: float = param(0.15, 'm', 'the straight run from the body centre to the hand passes no nearer '
                                      'than this to another person\'s centre (an arm does not go through a torso; '
                                      '0 = off)', min_value=0.0, max_value=1.0)
    hand_shared_m: float = param(0.08, 'm', 'two people\'s hands this close are one hand, of the one whose body is '
                                 'farther from it (the nearer one\'s "arm" is its body edge next to the hand; 0 = off)',
                                 min_value=0.0, max_value=1.0)
    shelves_are_not_body: bool = param(True, '-', 'foreground on shelf footprints never belongs to a body blob '
                                       '(stock changes next to a hand)')
    hand_max_shelf_depth_m: float = param(0.1, 'm', 'a hand is at most this far inside a shelf footprint (deeper '
                                          'foreground is stock changing)', min_value=0.0, max_value=2.0)
    arm_candidates: int = param(80, 'px', 'farthest candidate pixels tried as the hand', min_value=1, max_value=100000)
    hand_offset_m: float = param(0.04, 'm', 'the reach point lies this far inside the arm\'s far end (hand '
                                 'centre)', min_value=0.0, max_value=0.5)
    hand_max_shadow_share: float = param(0.05, '-', 'a hand candidate with more than this share of shadow pixels '
                                         'within hand_colour_radius_m is the edge of a shadow, not a hand (1 = off)',
                                         min_value=0.0, max_value=1.0)
    max_arm_length_m: float = param(1.1, 'm', 'largest distance from a body centre to its hand',
                                    min_value=0.1, max_value=5.0)
    border_margin_px: int = param(3, 'px', 'a blob this close to the image border is cut off: its position '
                                  'sigma is inflated', min_value=0, max_value=100)
    position_sigma_m: float = param(0.05, 'm', '1-sigma floor position error of a whole body', min_value=0.001,
                                    max_value=5.0)
    border_sigma_m: float = param(0.25, 'm', '1-sigma floor position error of a body cut by the image border',
                                  min_value=0.001, max_value=5.0)
    appearance: bool = param(True, '-', 'measure each person\'s mean clothing colour (appearance_rgb, for '
                             're-association during the visit only)')
    appearance_radius_m: float = param(0.2, 'm', 'clothing colour from body pixels within this distance of the '
                                       'body centre', min_value=0.02, max_value=2.0)
    appearance_head_radius_m: float = param(0.11, 'm', '... and farther than this (the head seen from above)',
                                            min_value=0.0, max_value=1.0)
    appearance_min_pixels: int = param(4, 'px', 'fewer clothing pixels than this: no appearance',
                                       min_value=1, max_value=100000)
    appearance_reference_grey: float = param(128.0, 'grey level', 'appearance = body colour / background '
                                             'colour under the body x this (lighting invariant)',
                                             min_value=1.0, max_value=255.0)
    hand_colour: bool = param(True, '-', 'measure the colour at each hand (hand_rgb: what the hand holds, '
                              'matched against the catalogue\'s packaging colours)')
    hand_colour_off_shelf: bool = param(True, '-', 'the hand colour from pixels off the shelf footprints only (over a '
                                        'shelf the colour at a hand is the stock\'s, e.g. under a false hand at a '
                                        'shadow\'s edge)')
    hand_colour_radius_m: float = param(0.07, 'm', 'hand colour from foreground pixels within this distance of '
                                        'the hand point', min_value=0.005, max_value=0.5)
    hand_colour_share: float = param(0.2, '-', '... the most saturated share of them (a held product is more '
                                     'saturated than skin and blurred edges)', min_value=0.01, max_value=1.0)
    hand_colour_refine: float = param(15.0, 'grey level', 'then the mean of the pixels within this RGB '
                                      'distance of that colour, repeated until it settles (the mode of the held '
                                      'product\'s pixels: the most saturated share alone is biased by sensor '
                                      'noise; 0 = off)', min_value=0.0, max_value=255.0)
    black_level: float = param(8.0, 'grey level', 'a frame darker than this on average is unusable (dead '
                               'camera)', min_value=0.0, max_value=255.0)
    frozen_frames: int = param(20, 'frames', 'this many bit-identical frames in a row: the camera is frozen',
                               min_value=2, max_value=100000)

    def check(self) -> None:
        if self.appearance_head_radius_m >= self.appearance_radius_m:
            raise ValueError(f'parameter appearance_head_radius_m: {self.appearance_head_radius_m!r} must be '
                             f'below appearance_radius_m {self.appearance_radius_m!r}')
        if self.shadow_min_ratio >= self.shadow_max_ratio:
            raise ValueError(f'parameter shadow_min_ratio: {self.shadow_min_ratio!r} must be below '
                             f'shadow_max_ratio {self.shadow_max_ratio!r}')
        if self.backend == 'onnx' and not self.onnx_model_path:
            raise ValueError("parameter 'onnx_model_path': '' is empty but backend is 'onnx'")


@dataclass(frozen=True)
class DetectionNodeConfig(DetectorConfig):
    """detection_node: one per camera; the detector fields plus the node's wiring."""

    layout: str = param('small', '-', 'layout name or path')
    camera_id: str = param('cam0', '-', 'camera id from the layout')
    camera_ids: list = param([''], '-', 'several cameras in this node (overrides camera_id when it names any; '
                             '[""] = only camera_id)')
    image_transport: str = param('compressed', '-', 'subscribe /camera/<id>/image/compressed or /camera/<id>/image',
                                 choices=('compressed', 'raw'))
    reliable_sensors: bool = param(False, '-', 'reliable deep sensor QoS (replay for scoring)')
    opencv_threads: int = param(1, '-', 'OpenCV worker threads of this process (1: small frames gain nothing '
                                'from threads, they only burn CPU; 0 = OpenCV default)', min_value=0, max_value=64)
    republish_rate_hz: float = param(0.0, 'Hz', 'republish frames on /camera/<id>/image/debug at most this often '
                                     '(0 = off)', min_value=0.0, max_value=100.0)
    republish_overlay: bool = param(True, '-', 'draw the detections on republished frames')


@dataclass(frozen=True)
class CameraNodeConfig:
    """camera_node: OpenCV capture (device index, video file or RTSP URL) -> sensor_msgs/Image."""

    layout: str = param('small', '-', 'layout name or path')
    camera_id: str = param('cam0', '-', 'camera id from the layout')
    source: str = param('0', '-', 'device index ("0"), video file path or rtsp:// URL')
    fps: float = param(0.0, 'Hz', 'capture rate (0 = the layout camera rate)', min_value=0.0, max_value=240.0)
    width: int = param(0, 'px', 'output width (0 = the layout camera width)', min_value=0, max_value=8192)
    height: int = param(0, 'px', 'output height (0 = the layout camera height)', min_value=0, max_value=8192)
    encoding: str = param('rgb8', '-', 'published encoding', choices=('rgb8', 'bgr8', 'mono8'))
    publish_raw: bool = param(True, '-', 'publish sensor_msgs/Image on /camera/<id>/image')
    publish_compressed: bool = param(False, '-', 'publish sensor_msgs/CompressedImage (jpeg) on '
                                     '/camera/<id>/image/compressed')
    jpeg_quality: int = param(85, '-', 'JPEG quality of the compressed stream', min_value=1, max_value=100)
    loop_file: bool = param(True, '-', 'restart a video file at its end')
    stall_timeout_s: float = param(2.0, 's', 'no frame for this long: the capture is reopened', min_value=0.05,
                                   max_value=600.0)
    retry_initial_s: float = param(0.5, 's', 'first reconnect delay (doubles at each failure)', min_value=0.01,
                                   max_value=600.0)
    retry_max_s: float = param(30.0, 's', 'largest reconnect delay', min_value=0.01, max_value=3600.0)
    reliable_sensors: bool = param(False, '-', 'reliable deep sensor QoS (replay for scoring)')

    def check(self) -> None:
        if self.retry_initial_s > self.retry_max_s:
            raise ValueError(f'parameter retry_initial_s: {self.retry_initial_s!r} exceeds retry_max_s '
                             f'{self.retry_max_s!r}')
