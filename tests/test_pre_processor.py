"""Tests of lmnet.pre_processor: Resize, DivideBy255, PerImageStandardization."""
import numpy as np
import pytest
import yaml

from lmnet.data_processor import Sequence, processor_from_dict
from lmnet.pre_processor import DivideBy255, PerImageStandardization, Resize, check_size, per_image_standardization


def random_image(shape=(20, 30, 3), dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, shape).astype(dtype)


# Resize ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(10, 12), (40, 25), (1, 1)])
def test_resize_uint8_keeps_dtype_and_reaches_size(size):
    result = Resize(size)(random_image())["image"]
    assert result.shape == (*size, 3)
    assert result.dtype == np.uint8


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_resize_non_uint8_gives_float32(dtype):
    result = Resize((13, 17))(random_image(dtype=dtype))["image"]
    assert result.shape == (13, 17, 3)
    assert result.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_resize_constant_image_stays_constant(dtype):
    image = np.empty((21, 33, 3), dtype=dtype)
    image[...] = (7, 130, 254)
    result = Resize((8, 50))(image)["image"]
    np.testing.assert_allclose(result, np.broadcast_to(image[:1, :1], result.shape), atol=1e-3)


def test_resize_float_matches_uint8_path():
    image = random_image((16, 16, 3))
    as_uint8 = Resize((9, 23))(image)["image"].astype(np.float32)
    as_float = Resize((9, 23))(image.astype(np.float32))["image"]
    assert np.abs(as_uint8 - as_float).max() <= 1.0


def test_resize_to_same_size_returns_input_itself():
    image = random_image()
    assert Resize(image.shape[:2])(image)["image"] is image


def test_resize_upscale_interpolates_between_neighbours():
    image = np.zeros((1, 2, 3), np.float32)
    image[0, 1] = 200
    row = Resize((1, 4))(image)["image"][0, :, 0]
    assert row[0] == pytest.approx(0, abs=1e-4) and row[-1] == pytest.approx(200, abs=1e-4)
    assert np.all(np.diff(row) > 0)


def test_resize_passes_extra_keys_and_rejects_boxes():
    image = random_image()
    result = Resize((5, 5))(image, label=3, name="x")
    assert result["label"] == 3 and result["name"] == "x"
    assert Resize((5, 5))(image, gt_boxes=None)["gt_boxes"] is None
    with pytest.raises(NotImplementedError, match="box-aware"):
        Resize((5, 5))(image, gt_boxes=np.zeros((1, 5)))


@pytest.mark.parametrize("size", [32, (32,), (0, 4), (4, -1), (2.5, 3), "ab", (True, 3)])
def test_bad_sizes_are_rejected(size):
    with pytest.raises(ValueError, match="size"):
        Resize(size)


def test_check_size_normalizes_to_int_tuple():
    assert check_size([np.int64(3), 4]) == (3, 4)
    assert type(check_size([np.int64(3), 4])[0]) is int


# DivideBy255 ----------------------------------------------------------------------------------


def test_divide_by_255_values():
    image = np.array([[[0, 51, 255]]], dtype=np.uint8)
    result = DivideBy255()(image, label=1)
    assert result["image"].dtype == np.float32
    np.testing.assert_allclose(result["image"], [[[0.0, 0.2, 1.0]]], rtol=1e-6)
    assert result["label"] == 1


# PerImageStandardization ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("seed", [0, 1])
def test_per_image_standardization_matches_tensorflow(dtype, seed):
    tf = pytest.importorskip("tensorflow")
    image = random_image((17, 11, 3), dtype=dtype, seed=seed)
    expected = tf.image.per_image_standardization(image).numpy()
    result = PerImageStandardization()(image)["image"]
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, expected, atol=1e-5)


def test_per_image_standardization_of_nearly_flat_image_uses_minimum_std():
    tf = pytest.importorskip("tensorflow")
    image = np.zeros((4, 4, 3), np.float32)
    image[0, 0, 0] = 0.01  # std 0.0014 < 1 / sqrt(48)
    result = per_image_standardization(image)
    np.testing.assert_allclose(result, tf.image.per_image_standardization(image).numpy(), atol=1e-6)
    assert result[0, 0, 0] == pytest.approx((0.01 - 0.01 / 48) * np.sqrt(48), rel=1e-5)


def test_per_image_standardization_statistics_and_flat_image():
    result = per_image_standardization(random_image((32, 32, 3)))
    assert abs(result.mean()) < 1e-5 and result.std() == pytest.approx(1, abs=1e-5)
    flat = per_image_standardization(np.full((5, 5, 3), 9, np.uint8))
    np.testing.assert_array_equal(flat, np.zeros((5, 5, 3), np.float32))


# Serialization --------------------------------------------------------------------------------


def test_sequence_round_trips_through_dict_and_yaml():
    sequence = Sequence([Resize([24, 32]), DivideBy255(), PerImageStandardization()])
    data = sequence.to_dict()
    assert data == [{"Resize": {"size": [24, 32]}}, {"DivideBy255": {}}, {"PerImageStandardization": {}}]
    assert processor_from_dict(data) == sequence
    assert processor_from_dict(yaml.safe_load(yaml.safe_dump(data))) == sequence


def test_sequence_applies_processors_in_order():
    sequence = Sequence([Resize((4, 6)), DivideBy255()])
    result = sequence(random_image(), label=7)
    assert result["image"].shape == (4, 6, 3) and result["image"].dtype == np.float32
    assert result["image"].max() <= 1.0
    assert result["label"] == 7
