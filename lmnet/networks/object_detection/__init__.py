"""Object detection networks (YOLOv2-style raw grid output and region loss)."""
