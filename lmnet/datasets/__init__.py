"""Datasets: one format per module, all deriving from :class:`lmnet.datasets.base.Dataset`."""
