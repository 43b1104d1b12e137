"""lmnet.feature_maps: the first layers' maps of a quantized classifier, float and quantized, as one PNG."""
import io

import numpy as np
from PIL import Image

from lmnet.feature_maps import collect_feature_maps, feature_maps_png
from lmnet.networks.classification.lmnet_v1 import LmnetV1
from lmnet.networks.classification.lmnet_v1_quantize import LmnetV1Quantize
from lmnet.quantizations import binary_channel_wise_mean_scaling, linear_mid_tread_half

#: linear_mid_tread_half with 2 bits up to 2.0 has these four levels.
LEVELS = np.array([0.0, 2.0 / 3.0, 4.0 / 3.0, 2.0], np.float32)


def shapes_batch():
    """Two 16x16 images: a bright square and a bright bar on dark ground, standardised."""
    images = np.zeros((2, 16, 16, 3), np.float32)
    images[0, 4:12, 4:12] = 1.0
    images[1, 2:14, 7:9] = 1.0
    return (images - images.mean()) / images.std(), (images * 255).astype(np.uint8)


def test_quantized_maps_take_only_the_quantizer_levels_and_the_png_is_valid():
    network = LmnetV1Quantize(["a", "b"], (16, 16), activation_quantizer=linear_mid_tread_half,
                              activation_quantizer_kwargs={"bit": 2, "max_value": 2.0},
                              weight_quantizer=binary_channel_wise_mean_scaling)
    images, raw = shapes_batch()
    maps = collect_feature_maps(network.model, images, layers=3, channels=4)
    assert [item.name for item in maps] == ["conv1_act", "conv2_act", "conv3_act"]
    for item in maps:
        assert item.float_maps.shape[0] == 2 and item.float_maps.shape == item.quantized_maps.shape
        assert item.float_maps.shape[-1] == len(item.channels) == 4
        distance = np.abs(item.quantized_maps[..., None] - LEVELS).min(axis=-1)
        assert distance.max() < 1e-6, f"{item.name}: a quantized value off the quantizer's levels"
        assert not np.allclose(item.float_maps, item.quantized_maps)  # the float side is the quantizer's input
    assert len(np.unique(maps[0].quantized_maps)) > 1
    png = feature_maps_png(network.model, images, display_images=raw, layers=3, channels=4)
    picture = Image.open(io.BytesIO(png))
    assert picture.format == "PNG"
    pixels = np.asarray(picture.convert("RGB"))
    assert pixels.shape[0] > 300 and pixels.shape[1] > 500 and pixels.std() > 20


def test_a_float_network_shows_its_activations_alone():
    network = LmnetV1(["a", "b"], (16, 16))
    images, _ = shapes_batch()
    maps = collect_feature_maps(network.model, images, layers=2, channels=3)
    assert [item.name for item in maps] == ["conv1_act", "conv2_act"]
    assert all(item.quantized_maps is None and item.float_maps.min() >= 0 for item in maps)  # ReLU outputs
    assert Image.open(io.BytesIO(feature_maps_png(network.model, images, layers=2, channels=3))).format == "PNG"
