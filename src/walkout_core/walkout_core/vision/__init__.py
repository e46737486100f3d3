"""Overhead person detection (no ROS): background-model and ONNX backends, image helpers, benchmark."""
