"""The evaluation report: plots and one self-contained ``report.html`` written beside ``evaluate.json``.

What each task draws lives in its module (:mod:`lmnet.reports.detection`,
:mod:`lmnet.reports.classification`), which :class:`lmnet.tasks.Task` calls (``report_files``,
``write_report``); :mod:`lmnet.reports.page` writes the files and the page, :mod:`lmnet.reports.figures` holds
the shared matplotlib helpers, :mod:`lmnet.reports.curves` and :mod:`lmnet.reports.matching` the detection
numbers. Nothing here imports TensorFlow.
"""
