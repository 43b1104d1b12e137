"""Base of the YOLOv2-style detectors: raw grid output, the region loss, anchors and post-processing settings."""
import math

import keras
import tensorflow as tf

from lmnet.common import Tasks
from lmnet.errors import ConfigError
from lmnet.layers import QuantizedConv2D, darknet_block
from lmnet.networks.base import BaseNetwork
from lmnet.networks.object_detection.yolo_loss import BOX_LOSSES, OBJECTNESS_LOSSES, YoloLoss
from lmnet.yolo_output import output_channels

#: The five YOLOv2 VOC anchors ``[w, h]`` in grid-cell units (Redmon and Farhadi, YOLO9000).
DEFAULT_ANCHORS = ((1.3221, 1.73145), (3.19275, 4.00944), (5.05587, 8.09892), (9.47112, 4.84053),
                   (11.2364, 10.0071))
#: Darknet pulls unmatched predictions towards their anchors for the first 12800 images.
WARMUP_IMAGES = 12800
#: Warm-up steps when neither ``LOSS_WARMUP_STEPS`` nor the batch size is given.
DEFAULT_WARMUP_STEPS = 1000


class YoloBase(BaseNetwork):
    """A YOLOv2-style detector: subclasses implement :meth:`build_features`.

    ``model`` maps ``images`` ``[B, H, W, 3]`` to the raw output ``[B, H/32, W/32, A * (C + 5)]``
    of the last 1x1 convolution (with bias), named ``output``. Anchor ``a``'s channels start at
    ``a * (C + 5)`` and hold the class logits, the objectness logit, then ``tx, ty, tw, th``
    (upstream Blueoil's order, :mod:`lmnet.yolo_output`);
    :class:`lmnet.networks.object_detection.yolo_loss.YoloLoss` documents the decoding and the loss.
    The training model is the same model.

    Args:
        classes: class names.
        image_size: ``(height, width)``, both multiples of 32.
        anchors: ``[[w, h], ...]`` in grid-cell units (default: the five YOLOv2 VOC anchors).
        object_scale: weight of the objectness term of responsible predictions.
        no_object_scale: weight of the "no object" term of the other predictions.
        class_scale: weight of the class cross-entropy.
        coordinate_scale: weight of the box term.
        loss_iou_threshold: a prediction whose box overlaps a ground truth by more than this IoU
            is not pushed towards "no object".
        loss_warmup_steps: steps during which unmatched predictions are pulled towards their
            anchors (0 disables); default: Darknet's 12800 images in steps of ``batch_size``
            (1000 when the batch size is unknown).
        loss_rescore: the objectness target of a responsible prediction is the IoU of its box with
            the ground truth (True, as Darknet) or 1 (False: learns objectness faster from scratch).
        loss_box: ``"mse"`` (Darknet's squared offset and log-size errors) or ``"ciou"`` (``1 - CIoU``
            of the decoded box).
        loss_objectness: ``"mse"`` (squared error of the score, Darknet) or ``"bce"`` (binary
            cross-entropy of the logit).
        loss_assign_iou_threshold: ``None`` assigns each ground truth to the best-matching anchor of
            its cell; a number also to every anchor of that cell whose shape IoU reaches it.
        loss_neighbour_cells: each ground truth is also assigned to the two neighbouring cells nearest its
            centre, whose decoded centres may then lie up to half a cell outside them (YOLOv5's
            assignment). lmnet's runtime decodes such an export (``meta.yaml`` says ``centre_margin``);
            upstream Blueoil's runtimes do not, and the export warns.
        score_threshold: post-processing: drop boxes scoring below this.
        nms_iou_threshold: post-processing: IoU threshold of non-maximum suppression.
        nms_max_output_size: post-processing: at most this many boxes per image.
        **kwargs: the :class:`lmnet.networks.base.BaseNetwork` arguments.
    """

    task = Tasks.OBJECT_DETECTION
    size_divisor = 32
    #: Name of the metric that decides the best checkpoint on ``train_validation_saving``.
    best_metric = "mAP@0.5"

    def __init__(self, classes, image_size, anchors=DEFAULT_ANCHORS, object_scale=5.0, no_object_scale=1.0,
                 class_scale=1.0, coordinate_scale=1.0, loss_iou_threshold=0.6, loss_warmup_steps=None,
                 loss_rescore=True, loss_box="mse", loss_objectness="mse", loss_assign_iou_threshold=None,
                 loss_neighbour_cells=False, score_threshold=0.05, nms_iou_threshold=0.5, nms_max_output_size=100,
                 **kwargs):
        super().__init__(classes, image_size, **kwargs)
        self.anchors = _check_anchors(anchors)
        self.num_anchors = len(self.anchors)
        #: Channels of the raw output: ``A * (C + 5)``.
        self.output_channels = output_channels(self.num_anchors, self.num_classes)
        self.object_scale = float(object_scale)
        self.no_object_scale = float(no_object_scale)
        self.class_scale = float(class_scale)
        self.coordinate_scale = float(coordinate_scale)
        self.loss_iou_threshold = float(loss_iou_threshold)
        self.loss_warmup_steps = self._warmup_steps(loss_warmup_steps)
        self.score_threshold = float(score_threshold)
        self.nms_iou_threshold = float(nms_iou_threshold)
        self.nms_max_output_size = int(nms_max_output_size)
        _check_choice("LOSS_BOX", loss_box, BOX_LOSSES)
        _check_choice("LOSS_OBJECTNESS", loss_objectness, OBJECTNESS_LOSSES)
        self.loss = YoloLoss(self.image_size, self.anchors, self.num_classes, object_scale=self.object_scale,
                             no_object_scale=self.no_object_scale, class_scale=self.class_scale,
                             coordinate_scale=self.coordinate_scale, iou_threshold=self.loss_iou_threshold,
                             warmup_steps=self.loss_warmup_steps, rescore=bool(loss_rescore), box_loss=loss_box,
                             objectness_loss=loss_objectness, assign_iou_threshold=loss_assign_iou_threshold,
                             neighbour_cells=loss_neighbour_cells)

    def _warmup_steps(self, steps):
        if steps is not None:
            if int(steps) < 0:
                raise ConfigError(f"NETWORK.LOSS_WARMUP_STEPS: must be >= 0, got {steps}")
            return int(steps)
        if self.batch_size:
            return int(math.ceil(WARMUP_IMAGES / self.batch_size))
        return DEFAULT_WARMUP_STEPS

    @property
    def grid_size(self):
        """``(H / 32, W / 32)``."""
        return tuple(s // self.size_divisor for s in self.image_size)

    def build_features(self, inputs):
        """Returns the feature map ``[B, H/32, W/32, channels]`` the last convolution reads."""
        raise NotImplementedError

    def build_model(self):
        """Builds ``images`` -> features -> the last 1x1 convolution with bias (``output``)."""
        inputs = keras.Input(shape=(*self.image_size, 3), name="images")
        features = self.build_features(inputs)
        quantizer, quantizer_kwargs = self.last_weight_quantizer() or (None, None)
        outputs = QuantizedConv2D(self.output_channels, 1, use_bias=True, weight_quantizer=quantizer,
                                  weight_quantizer_kwargs=quantizer_kwargs, name="output",
                                  dtype="float32")(features)  # float32 output under bf16 too
        return keras.Model(inputs, outputs, name=type(self).__name__)

    def block(self, x, filters, kernel_size, name, **kwargs):
        """A darknet block (conv -> batch norm -> leaky ReLU 0.1) with the network's weight and
        activation quantizers (``None`` in float networks) unless ``kwargs`` override them."""
        kwargs.setdefault("weight_quantizer", self.weight_quantizer)
        kwargs.setdefault("activation_quantizer", self.activation_quantizer)
        return darknet_block(x, filters, kernel_size, name, **kwargs)

    def before_last_activation(self):
        """Activation quantizer of the block feeding the last convolution.

        ``None`` (leaky ReLU) when the last convolution stays float, so a float layer never reads
        quantized activations it was not trained for.
        """
        return self.activation_quantizer if self.quantize_last_convolution else None

    @property
    def training_model(self):
        """The model whose output :meth:`compute_loss` takes (the model itself)."""
        return self.model

    def compute_loss(self, gt_boxes, outputs, model, step=None):
        """The region loss (:class:`YoloLoss`) plus weight decay.

        Args:
            gt_boxes: ``[B, N, 5]`` ground truths ``(x, y, w, h, class_id)`` in pixels, padding
                rows with ``class_id = -1``.
            outputs: the raw output ``[B, H/32, W/32, A * (C + 5)]``.
            model: the training model (its kernels are weight-decayed).
            step: the optimizer's step counter (the anchor-prior warm-up reads it), or ``None``.
        """
        return self.loss(gt_boxes, outputs, step) + self.weight_decay(model)

    def loss_terms(self, gt_boxes, outputs, step=None):
        """Batch means of the loss terms ``{"coordinate", "object", "no_object", "class", "prior"}``."""
        return {name: tf.reduce_mean(value) for name, value in self.loss.terms(gt_boxes, outputs, step).items()}

    def batch_metrics(self, gt_boxes, outputs):
        """Sums over the batch of per-image diagnostics of the responsible predictions.

        Returns:
            ``{"average_iou", "object_score", "no_object_score"}`` sums (the trainer divides by the
            batch size); images without ground truth add 0 to the first two.
        """
        return {name: tf.reduce_sum(value) for name, value in self.loss.diagnostics(gt_boxes, outputs).items()}

    def post_processor(self):
        """The post-processing of the raw output with this network's settings.

        Returns:
            ``Sequence([FormatYoloV2, ExcludeLowScoreBox(score_threshold), NMS(nms_iou_threshold,
            nms_max_output_size)])``, turning the raw output into ``[B, R, 6]`` predicted boxes.
        """
        from lmnet.data_processor import Sequence
        from lmnet.post_processor import NMS, ExcludeLowScoreBox, FormatYoloV2
        return Sequence([FormatYoloV2(self.image_size, self.classes, self.anchors,
                                      centre_margin=self.loss.centre_margin),
                         ExcludeLowScoreBox(self.score_threshold),
                         NMS(self.classes, self.nms_iou_threshold, self.nms_max_output_size)])

    def summary_images(self, images, targets, outputs):
        """Validation images with ground truth (green) and post-processed predictions (red, with scores)."""
        from lmnet.visualize import GROUND_TRUTH_COLOR, PREDICTION_COLOR, draw_boxes
        predictions = self.post_processor()(outputs=outputs)["outputs"]
        drawn = []
        for image, gt_boxes, boxes in zip(images, targets, predictions):
            image = draw_boxes(image, gt_boxes, self.classes, GROUND_TRUTH_COLOR)
            drawn.append(draw_boxes(image, boxes, self.classes, PREDICTION_COLOR, with_scores=True))
        return drawn

    def create_metrics(self, dataset=None):
        """A fresh :class:`lmnet.metrics.detection.DetectionMetrics` (``mAP@0.5`` …) fed through
        :meth:`post_processor`.

        Args:
            dataset: the detection dataset whose full annotations the predictions are compared
                with (boxes are scaled from ``image_size`` to each image's size), or ``None`` to
                compare with the padded targets of each batch.
        """
        from lmnet.metrics.detection import DetectionMetrics
        return DetectionMetrics(dataset, post_processor=self.post_processor(), classes=self.classes,
                                input_size=self.image_size)


def _check_choice(key, value, allowed):
    """Raises a ConfigError naming ``NETWORK.<key>`` when ``value`` is not one of ``allowed``."""
    if value not in allowed:
        raise ConfigError(f"NETWORK.{key}: expected one of {', '.join(map(repr, allowed))}, got {value!r}")


def _check_anchors(anchors):
    """Returns the anchors as a list of ``[w, h]`` floats.

    Raises:
        ConfigError: they are empty, not pairs, or not positive.
    """
    try:
        pairs = [[float(w), float(h)] for w, h in anchors]
    except (TypeError, ValueError):
        raise ConfigError(f"NETWORK.ANCHORS: expected a list of [width, height] pairs, got {anchors!r}") from None
    if not pairs or any(w <= 0 or h <= 0 for w, h in pairs):
        raise ConfigError(f"NETWORK.ANCHORS: expected positive [width, height] pairs, got {anchors!r}")
    return pairs
