"""Shelf pipeline core: serial line protocol, vectorised change detection, product identification."""
from .config import ShelfEventConfig, ShelfSensorConfig
from .detector import CellBlockDetector, Change, FaultEvent
from .identify import (FLAG_MISPLACED, FLAG_MULTI_LANE, FLAG_NONE, FLAG_SENSOR_FAULT, FLAG_UNKNOWN,
                       Identification, ProductIdentifier)
from .pipeline import AlertRecord, InputError, ShelfEventRecord, ShelfPipeline
from .protocol import ControllerSample, LineError, SequenceTracker, encode_line, parse_line

__all__ = ['ShelfEventConfig', 'ShelfSensorConfig', 'CellBlockDetector', 'Change', 'FaultEvent',
           'FLAG_MISPLACED', 'FLAG_MULTI_LANE', 'FLAG_NONE', 'FLAG_SENSOR_FAULT', 'FLAG_UNKNOWN',
           'Identification', 'ProductIdentifier', 'AlertRecord', 'InputError', 'ShelfEventRecord',
           'ShelfPipeline', 'ControllerSample', 'LineError', 'SequenceTracker', 'encode_line', 'parse_line']
