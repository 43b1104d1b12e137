"""Class activation maps of classifiers: where in the image the score of a class comes from.

The way is chosen from the structure of the network's logits model, never from its class name:

* **direct** (class activation mapping): when the logits are the global average pool of a class-score
  map — the model ends with a ``GlobalAveragePooling2D`` whose input has one channel per class, as
  LmnetV0/V1 (``conv7``, a 1×1 convolution to ``num_classes``) and Darknet19 do — the map of class
  ``c`` is channel ``c`` of that input: the class's logit is exactly its mean over the positions.
* **gradient-weighted** (Grad-CAM) otherwise (VGG16's dense head, say): on the *last spatial layer* —
  the last layer of the logits model whose output is 4-D with more than one position (height × width
  above 1) — with feature maps ``A_k``, the weights ``α_k`` are the mean over positions of
  ``∂ logit_c / ∂ A_k`` and the map is ``ReLU(Σ_k α_k A_k)``.

Either map is rescaled to ``[0, 1]`` for display (its minimum to 0 and maximum to 1; a flat map is all
0). ``predict.py --cam`` writes them over each image (:class:`ActivationMapWriter`).
"""
import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from lmnet.errors import LmnetError
from lmnet.runtime.inference import preprocess
from lmnet.visualize import draw_top_classes, enlarge_for_display, overlay_heatmap

#: The two ways of :mod:`lmnet.activation_maps`.
DIRECT, GRADIENT = "direct", "gradient"
#: The folder ``predict.py --cam`` writes the maps into, beside ``images/``.
CAM_ENTRY = "cam"


@dataclasses.dataclass(frozen=True)
class MapSource:
    """Where the maps of a logits model are read.

    Attributes:
        method: :data:`DIRECT` or :data:`GRADIENT`.
        layer: the Keras layer whose output is read (the class-score map, or the last spatial layer).
    """

    method: str
    layer: object


def find_map_source(logits_model):
    """The :class:`MapSource` of a classifier's logits model (see the module's description).

    Raises:
        LmnetError: the model has no spatial layer at all.
    """
    num_classes = logits_model.outputs[0].shape[-1]
    last = logits_model.layers[-1]
    if isinstance(last, keras.layers.GlobalAveragePooling2D) and last.input.shape[-1] == num_classes:
        producer = next(layer for layer in logits_model.layers if layer.output is last.input)
        return MapSource(DIRECT, producer)
    spatial = [layer for layer in logits_model.layers if _is_spatial(layer)]
    if not spatial:
        raise LmnetError(f"{logits_model.name} has no layer with a spatial output to draw activation maps from")
    return MapSource(GRADIENT, spatial[-1])


def _is_spatial(layer):
    """Whether a layer outputs one 4-D tensor ``[B, H, W, C]`` with ``H · W > 1`` (input layers excluded)."""
    if isinstance(layer, keras.layers.InputLayer) or isinstance(layer.output, (list, tuple)):
        return False
    shape = layer.output.shape
    return len(shape) == 4 and shape[1] is not None and shape[2] is not None and shape[1] * shape[2] > 1


class ClassActivationMaps:
    """Computes the class activation maps of a classifier.

    Args:
        logits_model: a Keras model from images to logits ``[B, num_classes]`` (a classification
            network's ``logits_model``).

    Attributes:
        source: the :class:`MapSource` chosen.
    """

    def __init__(self, logits_model):
        self.source = find_map_source(logits_model)
        self._model = keras.Model(logits_model.input, [self.source.layer.output, logits_model.outputs[0]])

    def __call__(self, images, class_ids=None):
        """Maps of a pre-processed batch.

        Args:
            images: float32 ``[B, H, W, 3]``, pre-processed as the network takes them.
            class_ids: the class of each image whose map is wanted (default: the highest logit's).

        Returns:
            ``(maps, class_ids)``: ``[B, h, w]`` floats in ``[0, 1]`` at the source layer's resolution,
            and the classes they belong to.
        """
        images = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
        with tf.GradientTape() as tape:
            tape.watch(images)
            features, logits = self._model(images, training=False)
            features, logits = tf.cast(features, tf.float32), tf.cast(logits, tf.float32)
            if class_ids is None:
                class_ids = np.argmax(logits.numpy(), axis=-1)
            class_ids = np.asarray(class_ids, dtype=np.int32)
            scores = tf.gather(logits, class_ids, axis=1, batch_dims=1)
        if self.source.method == DIRECT:
            maps = tf.gather(features, class_ids, axis=3, batch_dims=1)
        else:
            gradients = tape.gradient(scores, features)
            weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
            maps = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))
        return normalize_maps(maps.numpy()), class_ids


def normalize_maps(maps):
    """Each map of ``[B, h, w]`` rescaled to ``[0, 1]`` (minimum to 0, maximum to 1; a flat map becomes 0)."""
    maps = np.asarray(maps, dtype=np.float32)
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1.0), 0.0).astype(np.float32)


def _top_class(prediction):
    """The class id of the most probable entry of a classification ``prediction`` list."""
    return max(prediction, key=lambda item: item["probability"])["class"]["id"]


class ActivationMapWriter:
    """The ``cam/`` output of ``predict.py --cam``: each image enlarged for display (as in ``images/``)
    with the map of its predicted class blended over it and that class's name and probability.

    An extra output of :func:`lmnet.runtime.inference.predict_folder`.

    Args:
        logits_model: the classifier's logits model.
        spec: the :class:`lmnet.runtime.inference.ModelSpec` (its pre-processor and image size).
    """

    entry = CAM_ENTRY

    def __init__(self, logits_model, spec):
        self.maps = ClassActivationMaps(logits_model)
        self.spec = spec

    def write(self, folder, names, images, predictions):
        """Writes ``<folder>/<name>`` for each image of a batch."""
        batch = np.stack([preprocess(image, self.spec.pre_processor, self.spec.image_size) for image in images])
        maps, _ = self.maps(batch, [_top_class(prediction) for prediction in predictions])
        for name, image, heatmap, prediction in zip(names, images, maps, predictions):
            canvas, _ = enlarge_for_display(image)
            drawn = draw_top_classes(overlay_heatmap(canvas, heatmap), prediction, count=1)
            Image.fromarray(drawn).save(os.path.join(folder, name))
