"""Multi-camera fusion and the anonymous avatar tracker (no ROS), stamp synchronisation."""
