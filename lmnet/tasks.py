"""The tasks as objects: what differs between classification and detection, asked of the task, not branched on.

A config's ``TASK`` is one of the strings of :class:`lmnet.common.Tasks` (what YAML files hold);
:func:`get_task` returns its :class:`Task` object, whose methods do the task-specific parts of the
runtime, the export and the parity check. Each method imports what it delegates to when called, so the
NumPy-only runtime never loads TensorFlow through this module and no room imports one above it.

A new task is a :class:`Task` subclass registered in :data:`TASKS` (and its string in
:class:`lmnet.common.Tasks`); ``tests/test_tasks.py`` runs every registered task through each method.
"""
from lmnet.common import Tasks, lookup
from lmnet.errors import LmnetError


class Task:
    """What one task does differently.

    Class attributes:
        name: the :class:`lmnet.common.Tasks` string.
        needs_post_processor: an export's raw output means nothing without its ``POST_PROCESSOR``.
    """

    name = None
    needs_post_processor = False

    def resize(self, image_size):
        """The processor resizing a sample of this task to ``image_size`` (moving its labels with it)."""
        raise NotImplementedError

    def image_prediction(self, output, classes, input_size, image_size):
        """The JSON ``prediction`` of one image from its post-processed output (:mod:`lmnet.runtime.results`)."""
        raise NotImplementedError

    def draw(self, canvas, prediction, classes, factor, display_threshold=0.0):
        """``canvas`` (the image enlarged ``factor`` times) with ``prediction`` drawn on it (:mod:`lmnet.visualize`);
        detection boxes scoring below ``display_threshold`` are left out."""
        raise NotImplementedError

    def activation_map_writer(self, network, spec):
        """The ``cam/`` output of ``predict.py --cam`` (:class:`lmnet.activation_maps.ActivationMapWriter`) for
        ``network`` and its :class:`lmnet.runtime.inference.ModelSpec`.

        Raises:
            LmnetError: the task has no class activation maps.
        """
        raise NotImplementedError

    def form_change(self, float_outputs, form_outputs, targets, context, form):
        """The task metric of the Keras model against an export form's (:mod:`lmnet.export.parity`); the keys
        name the form (``int8_accuracy``, ``hls4ml_mAP@0.5``).

        ``context``: ``{"dataset", "post_processor", "classes", "image_size"}`` of the validation sample.
        """
        raise NotImplementedError

    def dataset_reader(self):
        """How the dataset check reads this task's samples (:class:`lmnet.dataset_check.LabelReader` or
        :class:`~lmnet.dataset_check.BoxReader`)."""
        raise NotImplementedError

    def report_files(self):
        """The names of the files :meth:`write_report` writes beside ``evaluate.json`` (the output folder's claim)."""
        raise NotImplementedError

    def write_report(self, output_dir, metrics, dataset, classes, evaluation, extra_sections=()):
        """Writes the evaluation report (plots, ``report_data.json``, ``report.html``) into ``output_dir``.

        Args:
            output_dir: the evaluation's claimed output folder.
            metrics: the evaluation's metrics accumulator (``network.create_metrics``), after ``result()``.
            dataset: the validation dataset, in the order the metrics saw it.
            classes: the class names.
            evaluation: the content of ``evaluate.json``.
            extra_sections: more :class:`lmnet.reports.page.Section` objects for the page.

        Returns:
            The path of ``report.html``.
        """
        raise NotImplementedError

    def __repr__(self):
        return f"<task {self.name}>"


class Classification(Task):
    """One label per image; the raw output is the class probabilities."""

    name = Tasks.CLASSIFICATION

    def resize(self, image_size):
        from lmnet.pre_processor import Resize
        return Resize(image_size)

    def image_prediction(self, output, classes, input_size, image_size):
        from lmnet.runtime.results import classification_prediction
        return classification_prediction(output, classes)

    def draw(self, canvas, prediction, classes, factor, display_threshold=0.0):
        from lmnet.visualize import draw_top_classes
        return draw_top_classes(canvas, prediction)

    def activation_map_writer(self, network, spec):
        from lmnet.activation_maps import ActivationMapWriter
        return ActivationMapWriter(network.logits_model, spec)

    def form_change(self, float_outputs, form_outputs, targets, context, form):
        from lmnet.export.parity import classification_change
        return classification_change(float_outputs, form_outputs, targets, form)

    def dataset_reader(self):
        from lmnet.dataset_check import LabelReader
        return LabelReader()

    def report_files(self):
        from lmnet.reports.classification import REPORT_FILES
        return REPORT_FILES

    def write_report(self, output_dir, metrics, dataset, classes, evaluation, extra_sections=()):
        from lmnet.reports.classification import write_classification_report
        return write_classification_report(output_dir, metrics, dataset, classes, evaluation, extra_sections)


class ObjectDetection(Task):
    """Boxes per image; the raw output becomes boxes through the post-processor."""

    name = Tasks.OBJECT_DETECTION
    needs_post_processor = True

    def resize(self, image_size):
        from lmnet.pre_processor import ResizeWithGtBoxes
        return ResizeWithGtBoxes(image_size)

    def image_prediction(self, output, classes, input_size, image_size):
        from lmnet.runtime.results import detection_prediction
        return detection_prediction(output, classes, input_size, image_size)

    def draw(self, canvas, prediction, classes, factor, display_threshold=0.0):
        from lmnet.visualize import draw_predicted_boxes
        return draw_predicted_boxes(canvas, prediction, classes, factor, display_threshold)

    def activation_map_writer(self, network, spec):
        raise LmnetError(f"--cam draws class activation maps of classifiers; this experiment is a detector "
                         f"({self.name})")

    def form_change(self, float_outputs, form_outputs, targets, context, form):
        from lmnet.export.parity import detection_change
        return detection_change(float_outputs, form_outputs, targets, context["dataset"], context["post_processor"],
                                context["classes"], context["image_size"], form)

    def dataset_reader(self):
        from lmnet.dataset_check import BoxReader
        return BoxReader()

    def report_files(self):
        from lmnet.reports.detection import REPORT_FILES
        return REPORT_FILES

    def write_report(self, output_dir, metrics, dataset, classes, evaluation, extra_sections=()):
        from lmnet.reports.detection import write_detection_report
        return write_detection_report(output_dir, metrics, dataset, evaluation, extra_sections)


#: The tasks by their :class:`lmnet.common.Tasks` string.
TASKS = {task.name: task for task in (Classification(), ObjectDetection())}


def get_task(name):
    """The :class:`Task` of a ``TASK`` string.

    Raises:
        ConfigError: no task has that name.
    """
    return lookup(TASKS, name, "task")
