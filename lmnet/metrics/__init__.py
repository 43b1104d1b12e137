"""Metrics: classification accuracy, PASCAL VOC AP and COCO (NumPy accumulators)."""
