"""lmnet.activation_maps: the map of a class peaks where the class's score comes from, both ways."""
import keras
import numpy as np
import pytest

from lmnet.activation_maps import DIRECT, GRADIENT, ClassActivationMaps, find_map_source, normalize_maps

SIZE = 16
#: The only region (rows 3-7, columns 9-13) whose pixels reach the class scores of the hand-built networks.
REGION = (slice(3, 8), slice(9, 14))


def region_mask():
    mask = np.zeros((1, SIZE, SIZE, 1), np.float32)
    mask[0, REGION[0], REGION[1]] = 1.0
    return mask


def features_of_region(inputs):
    """Positive features of every pixel (a 1x1 convolution of positive weights, ReLU), then zero outside
    :data:`REGION`: whatever the image shows elsewhere, only the region reaches the layers after."""
    features = keras.layers.Conv2D(4, 1, activation="relu", kernel_initializer=keras.initializers.Constant(0.5),
                                   name="features")(inputs)
    return keras.layers.Lambda(lambda x: x * region_mask(), name="region_only")(features)


def class_weights(shape):
    """Positive weights for class 0, negative for class 1 (last axis)."""
    weights = np.ones(shape, np.float32)
    weights[..., 1] = -1.0
    return keras.initializers.Constant(weights)


def gap_network():
    """Features -> 1x1 convolution to the class scores -> global average pooling (LmnetV1's head)."""
    inputs = keras.Input((SIZE, SIZE, 3))
    scores = keras.layers.Conv2D(2, 1, kernel_initializer=class_weights((1, 1, 4, 2)), bias_initializer="ones",
                                 name="class_scores")(features_of_region(inputs))
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D(name="pool")(scores))


def dense_network():
    """Features -> flatten -> dense class scores (a head without a class-score map: Grad-CAM)."""
    inputs = keras.Input((SIZE, SIZE, 3))
    flat = keras.layers.Flatten()(features_of_region(inputs))
    return keras.Model(inputs, keras.layers.Dense(2, kernel_initializer=class_weights((SIZE * SIZE * 4, 2)))(flat))


def images():
    return np.random.default_rng(0).uniform(0.0, 1.0, (3, SIZE, SIZE, 3)).astype(np.float32)


@pytest.mark.parametrize("build, method, layer", [(gap_network, DIRECT, "class_scores"),
                                                  (dense_network, GRADIENT, "region_only")])
def test_map_peaks_in_the_region_the_score_comes_from(build, method, layer):
    maps = ClassActivationMaps(build())
    assert (maps.source.method, maps.source.layer.name) == (method, layer)
    values, class_ids = maps(images())
    assert values.shape == (3, SIZE, SIZE) and list(class_ids) == [0, 0, 0]  # class 0 has the positive weights
    inside = np.zeros((SIZE, SIZE), bool)
    inside[REGION] = True
    for value in values:
        peak = np.unravel_index(np.argmax(value), value.shape)
        assert inside[peak]
        assert value[inside].min() > value[~inside].max()
        assert value.max() == pytest.approx(1.0) and value.min() == pytest.approx(0.0)


def test_lmnet_v1_reads_conv7_directly():
    from lmnet.networks.classification.lmnet_v1 import LmnetV1
    network = LmnetV1(["a", "b", "c"], (16, 16))
    source = find_map_source(network.logits_model)
    assert (source.method, source.layer.name) == (DIRECT, "conv7")
    values, class_ids = ClassActivationMaps(network.logits_model)(images(), class_ids=[2, 1, 0])
    assert values.shape == (3, 2, 2) and list(class_ids) == [2, 1, 0]


def test_flat_maps_normalise_to_zero():
    maps = np.stack([np.full((2, 2), 3.0), np.array([[1.0, 3.0], [2.0, 5.0]])])
    np.testing.assert_allclose(normalize_maps(maps), [[[0, 0], [0, 0]], [[0, 0.5], [0.25, 1]]])
