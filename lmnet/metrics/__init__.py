"""Metrics: classification accuracy (NumPy accumulators); detection metrics come later."""
