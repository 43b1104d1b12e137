"""Networks: one per module under ``classification/`` and ``object_detection/``."""
