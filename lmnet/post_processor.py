"""Post-processors: turn a network's raw output into predictions.

Each post-processor is a :class:`~lmnet.data_processor.Processor` called as
``processor(outputs=array, **other) -> dict(other, outputs=new_array)``. The ``__call__`` works
on NumPy arrays only (a standalone runtime runs it without TensorFlow); the detection
post-processors also offer ``tf_call(outputs)``, the same computation in graph-compatible
TensorFlow ops (usable inside ``tf.function``). TensorFlow is imported only by ``tf_call``.

**Detection output representation.** A batch of predicted boxes is one array ``[batch, num_boxes, 6]`` with rows
``(x, y, w, h, class_id, score)``: ``(x, y)`` the top-left corner and ``(w, h)`` the size, in
pixels of the network input. Images of a batch keep a fixed number of rows; an image with fewer
boxes is **padded** with rows ``(0, 0, 0, 0, -1, 0)`` (class_id ``-1``), always **after** its
real boxes. A consumer takes the real boxes of image ``i`` as ``outputs[i][outputs[i, :, 4] >= 0]``
(see :func:`lmnet.boxes.valid_boxes`).

- :class:`FormatYoloV2`: raw YOLOv2 output → ``[B, gh·gw·A·C, 6]``, no padding.
- :class:`ExcludeLowScoreBox`: same shape; rows with ``score < threshold`` become padding and
  the kept rows move, in their original order, to the front.
- :class:`~lmnet.nms.NMS` (in :mod:`lmnet.nms`, importable from here too): ``[B, R, 6]`` with
  ``R = min(num_boxes, max_output_size · C)`` (per class) or ``min(num_boxes, max_output_size)``
  (class-agnostic); kept rows sorted by score descending (ties: lower class id, then the order of
  selection), then padding.

The rows and their padding are defined in :mod:`lmnet.boxes` (:data:`~lmnet.boxes.PREDICTION_PADDING_ROW`,
:func:`~lmnet.boxes.valid_boxes`, :func:`~lmnet.boxes.padding_rows`).
"""
import numpy as np

from lmnet.boxes import PREDICTION_PADDING_ROW as PADDING_ROW, check_prediction_rows
from lmnet.boxes import padding_rows, valid_boxes  # noqa: F401  (importable from here, as before)
from lmnet.data_processor import OutputsProcessor, import_tensorflow
from lmnet.nms import NMS  # noqa: F401  (importable from here, as before)
from lmnet.pre_processor import check_size
from lmnet.yolo_output import NUMPY, TENSORFLOW, class_scores, decode, output_channels

_DATA_FORMATS = ("NHWC", "NCHW")


# ---------------------------------------------------------------------------------------------
# FormatYoloV2
# ---------------------------------------------------------------------------------------------

class FormatYoloV2(OutputsProcessor):
    """Decodes raw YOLOv2 output into predicted boxes, one row per (cell, anchor, class).

    The raw output is ``[B, gh, gw, A·(C+5)]`` (NHWC; ``[B, A·(C+5), gh, gw]`` for NCHW), each
    anchor's ``C + 5`` channels laid out as :mod:`lmnet.yolo_output` says (upstream Blueoil's
    order): the class logits, the objectness logit ``to``, then ``tx, ty, tw, th``. The grid size
    ``(gh, gw)`` is read from the output (``H/32 × W/32`` for the YOLO networks). The boxes and scores
    are those of :func:`lmnet.yolo_output.decode` (the loss decodes with the same function).

    Output ``[B, gh·gw·A·C, 6]`` float32 rows ``(x, y, w, h, c, score_c)``, ordered row-major
    over the cells (``row`` then ``col``), then by anchor, then by class: row index
    ``((row·gw + col)·A + a)·C + c``.

    ``num_classes`` and ``boxes_per_cell`` are what upstream's runtimes read from ``meta.yaml``;
    they follow from ``classes`` and ``anchors`` and are only checked when given.

    Args:
        image_size: ``(height, width)`` of the network input, in pixels; ``None`` (in a config) follows
            ``IMAGE_SIZE``.
        classes: the class names (``C = len(classes)``).
        anchors: ``A`` pairs ``(aw, ah)``, anchor sizes in grid cells.
        data_format: ``"NHWC"`` or ``"NCHW"``, the layout of the raw output.
        num_classes: ``C`` again (optional; must equal ``len(classes)``).
        boxes_per_cell: ``A`` again (optional; must equal ``len(anchors)``).
        centre_margin: how far (cells) a decoded centre may lie outside its cell (:func:`lmnet.yolo_output.decode`;
            0, Blueoil's decoding, unless the network was trained with neighbour-cell assignment).
    """

    input_size_param = "image_size"

    def __init__(self, image_size=None, classes=(), anchors=(), data_format="NHWC", num_classes=None,
                 boxes_per_cell=None, centre_margin=0.0):
        self.image_size = None if image_size is None else check_size(image_size, "image_size")
        self.classes = list(classes)
        self.anchors = tuple(tuple(float(v) for v in anchor) for anchor in anchors)
        if not self.classes:
            raise ValueError("classes must not be empty")
        if not self.anchors or any(len(anchor) != 2 for anchor in self.anchors):
            raise ValueError(f"anchors must be a non-empty list of (width, height) pairs, got {anchors!r}")
        if data_format not in _DATA_FORMATS:
            raise ValueError(f"data_format must be one of {_DATA_FORMATS}, got {data_format!r}")
        self.data_format = data_format
        self.centre_margin = float(centre_margin)
        self.num_classes = _derived_count("num_classes", num_classes, len(self.classes), "len(classes)")
        self.boxes_per_cell = _derived_count("boxes_per_cell", boxes_per_cell, len(self.anchors), "len(anchors)")

    def params(self):
        """The constructor parameters; ``centre_margin`` only when it is not 0, so a ``meta.yaml`` of a network
        decoded the standard way keeps upstream Blueoil's parameter names."""
        params = super().params()
        if not params["centre_margin"]:
            del params["centre_margin"]
        return params

    def _image_size(self):
        """The network input size, which must be set by now."""
        if self.image_size is None:
            raise ValueError("FormatYoloV2: image_size is unset; a config fills it from IMAGE_SIZE")
        return self.image_size

    def _channels(self):
        """Returns ``A·(C+5)``, the expected number of raw output channels."""
        return output_channels(self.boxes_per_cell, self.num_classes)

    def _nhwc(self, outputs):
        """NumPy raw output as float32 NHWC ``[B, gh, gw, A·(C+5)]``, its shape checked."""
        outputs = np.asarray(outputs, dtype=np.float32)
        if outputs.ndim != 4:
            raise ValueError(f"FormatYoloV2: expected a 4-D raw output, got shape {outputs.shape}")
        if self.data_format == "NCHW":
            outputs = outputs.transpose(0, 2, 3, 1)
        if outputs.shape[-1] != self._channels():
            raise ValueError(f"FormatYoloV2: expected {self._channels()} channels (anchors × (classes + 5)), "
                             f"got {outputs.shape[-1]}")
        return outputs

    def process(self, outputs):
        """Decodes a NumPy raw output ``[B, gh, gw, A·(C+5)]`` into ``[B, gh·gw·A·C, 6]`` boxes."""
        decoded = decode(self._nhwc(outputs), self.anchors, self.num_classes, self._image_size(), NUMPY,
                         self.centre_margin)
        boxes = _rows_per_class(decoded.boxes, class_scores(decoded, NUMPY))
        return boxes.reshape(boxes.shape[0], -1, 6)

    def tf_call(self, outputs):
        """The TensorFlow version of :meth:`process` (same math, same row order)."""
        tf = import_tensorflow()
        raw = tf.convert_to_tensor(outputs, tf.float32)
        if self.data_format == "NCHW":
            raw = tf.transpose(raw, [0, 2, 3, 1])
        decoded = decode(raw, self.anchors, self.num_classes, self._image_size(), TENSORFLOW, self.centre_margin)
        scores = class_scores(decoded, TENSORFLOW)
        boxes = tf.broadcast_to(decoded.boxes[..., None, :], tf.concat([tf.shape(scores), [4]], 0))
        class_ids = tf.broadcast_to(tf.range(self.num_classes, dtype=tf.float32), tf.shape(scores))
        rows = tf.concat([boxes, class_ids[..., None], scores[..., None]], axis=-1)
        return tf.reshape(rows, [tf.shape(raw)[0], -1, 6])


def _derived_count(name, given, expected, source):
    """``expected``, after checking that ``given`` (unless ``None``) equals it."""
    if given is not None and (isinstance(given, bool) or given != expected):
        raise ValueError(f"{name} must equal {source} ({expected}), got {given!r}")
    return expected


def _rows_per_class(boxes, scores):
    """Builds ``[..., C, 6]`` rows ``(x, y, w, h, c, score_c)`` from ``[..., 4]`` boxes and ``[..., C]`` scores."""
    num_classes = scores.shape[-1]
    rows = np.empty(scores.shape + (6,), np.float32)
    rows[..., :4] = boxes[..., None, :]
    rows[..., 4] = np.arange(num_classes, dtype=np.float32)
    rows[..., 5] = scores
    return rows


# ---------------------------------------------------------------------------------------------
# ExcludeLowScoreBox
# ---------------------------------------------------------------------------------------------

class ExcludeLowScoreBox(OutputsProcessor):
    """Turns the boxes scoring below a threshold into padding rows.

    A row is kept when ``score >= threshold`` and ``class_id >= 0``; kept rows move to the front
    of their image in their original order, the others become ``(0, 0, 0, 0, -1, 0)`` at the end.
    The shape ``[B, N, 6]`` is unchanged.

    Args:
        threshold: the lowest score kept.
    """

    def __init__(self, threshold):
        self.threshold = float(threshold)

    def process(self, outputs):
        """NumPy version on ``[B, N, 6]`` boxes."""
        outputs = check_prediction_rows(outputs, "ExcludeLowScoreBox")
        keep = (outputs[..., 5] >= self.threshold) & (outputs[..., 4] >= 0)
        order = np.argsort(~keep, axis=1, kind="stable")
        moved = np.take_along_axis(outputs, order[..., None], axis=1)
        kept = np.take_along_axis(keep, order, axis=1)
        return np.where(kept[..., None], moved, np.asarray(PADDING_ROW, outputs.dtype))

    def tf_call(self, outputs):
        """TensorFlow version of :meth:`process`."""
        tf = import_tensorflow()
        outputs = tf.convert_to_tensor(outputs, tf.float32)
        keep = (outputs[..., 5] >= self.threshold) & (outputs[..., 4] >= 0)
        order = tf.argsort(tf.cast(~keep, tf.int32), axis=1, stable=True)
        moved = tf.gather(outputs, order, batch_dims=1)
        kept = tf.gather(keep, order, batch_dims=1)
        return tf.where(kept[..., None], moved, tf.constant(PADDING_ROW, tf.float32))
