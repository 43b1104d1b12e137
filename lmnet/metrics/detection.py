"""Detection metrics accumulated over batches: VOC mAP at IoU 0.5 and 0.75, VOC2007 mAP and COCO stats."""
import numpy as np

from lmnet.boxes import scale_xywh
from lmnet.datasets.detection_base import Annotation
from lmnet.metrics.coco import STAT_NAMES, coco_evaluate, pycocotools_available
from lmnet.metrics.voc import voc_evaluate, voc_summary


class DetectionMetrics:
    """Collects per-image predictions and evaluates them against the dataset's full annotations.

    Predictions arrive batch by batch in sample order; sample ``k`` (a running counter) is compared
    with ``dataset.annotation(k)``, which keeps difficult / crowd objects that the padded targets
    leave out. Predictions must be in the pixel coordinates of those annotations; when the network
    sees images resized to ``input_size``, pass it and boxes are scaled back to each image's size.

    Args:
        dataset: a detection dataset with ``annotation(index)``; its optional ``category_ids``
            (one per class) and ``image_ids`` (one per sample) are used for COCO. ``None``: the
            annotations are read from the padded ``targets`` instead (no ignored objects, image
            size unknown), and ``classes`` is required.
        post_processor: applied as ``post_processor(outputs=outputs)["outputs"]`` to every batch
            of network outputs; ``None`` when the outputs are already ``[B, N, 6]`` predictions.
        classes: class names (default: ``dataset.classes``).
        input_size: ``(height, width)`` of the network input the predictions refer to; ``None``
            when they already are in annotation coordinates.
        use_coco: also compute the 12 COCO stats when pycocotools can be imported.

    Attributes:
        per_class_ap: after :meth:`result`, ``{class name: AP at IoU 0.5}`` (all-point, ``nan`` for
            classes without ground truth).
        voc_result: after :meth:`result`, the full :func:`~lmnet.metrics.voc.voc_evaluate` dict at IoU 0.5.
    """

    def __init__(self, dataset, post_processor=None, classes=None, input_size=None, use_coco=True):
        if classes is None:
            if dataset is None:
                raise ValueError("DetectionMetrics needs classes when there is no dataset")
            classes = dataset.classes
        self.dataset = dataset
        self.post_processor = post_processor
        self.classes = list(classes)
        self.input_size = input_size
        self.use_coco = use_coco
        self.detections = []
        self.annotations = []
        self.per_class_ap = {}
        self.voc_result = None

    def update(self, targets, outputs):
        """Adds a batch: ``targets`` (padded ground truth, used only without a dataset) and the network outputs.

        Raises:
            ValueError: more samples than the dataset holds.
        """
        if self.post_processor is not None:
            outputs = self.post_processor(outputs=outputs)["outputs"]
        for index, predictions in enumerate(outputs):
            annotation = self._next_annotation(targets, index)
            self.detections.append(self._rescale(np.asarray(predictions, np.float64).reshape(-1, 6), annotation))
            self.annotations.append(annotation)

    def result(self):
        """Returns ``{"mAP@0.5", "mAP@0.75", "mAP@0.5_voc07"}`` plus ``"coco/<stat>"`` for the 12 COCO stats.

        The VOC values are all-point AP (VOC2010+) unless marked ``_voc07`` (11-point), averaged over
        the classes that have ground truth (``nan`` when none has). The COCO stats are left out when
        ``use_coco`` is off or pycocotools is missing.
        """
        num_classes = len(self.classes)
        self.voc_result = voc_evaluate(self.detections, self.annotations, num_classes, 0.5)
        self.per_class_ap = dict(zip(self.classes, self.voc_result["ap"]))
        results = {
            "mAP@0.5": self.voc_result["map"],
            "mAP@0.75": voc_evaluate(self.detections, self.annotations, num_classes, 0.75)["map"],
            "mAP@0.5_voc07": voc_evaluate(self.detections, self.annotations, num_classes, 0.5, True)["map"],
        }
        if self.use_coco and pycocotools_available():
            stats = coco_evaluate(self.detections, self.annotations, self.classes, **self._coco_ids())
            results.update({f"coco/{name}": stats[name] for name in STAT_NAMES})
        return results

    def summary(self):
        """A markdown table of the per-class AP at IoU 0.5 (call :meth:`result` first)."""
        if self.voc_result is None:
            raise RuntimeError("call result() before summary()")
        return voc_summary(self.voc_result, self.classes)

    def _next_annotation(self, targets, index):
        count = len(self.annotations)
        if self.dataset is None:
            rows = np.asarray(targets[index], np.float32).reshape(-1, 5)
            rows = rows[rows[:, 4] != -1]
            size = tuple(self.input_size) if self.input_size is not None else (0, 0)
            return Annotation(rows[:, :4], rows[:, 4], None, size)
        if count >= len(self.dataset):
            raise ValueError(f"more predictions than the {len(self.dataset)} samples of the dataset")
        return self.dataset.annotation(count)

    def _rescale(self, predictions, annotation):
        if self.input_size is None or self.dataset is None:
            return predictions
        scale_y = annotation.image_size[0] / self.input_size[0]
        scale_x = annotation.image_size[1] / self.input_size[1]
        return scale_xywh(np.asarray(predictions, np.float64), scale_x, scale_y)

    def _coco_ids(self):
        ids = {}
        for name in ("image_ids", "category_ids"):
            value = getattr(self.dataset, name, None)
            if value is not None:
                ids[name] = list(value)[:len(self.annotations)] if name == "image_ids" else list(value)
        return ids
