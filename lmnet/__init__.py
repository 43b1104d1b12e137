"""lmnet: tiny, low-bit image classifiers and detectors for hardware accelerators."""

__version__ = "0.1.0"
