"""Command-line entry points (thin wrappers around lmnet)."""
