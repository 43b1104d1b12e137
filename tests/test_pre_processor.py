"""Tests of lmnet.pre_processor: Resize, ResizeWithGtBoxes, DivideBy255, PerImageStandardization."""
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lmnet.boxes import PADDING_ROW, valid_rows
from lmnet.data_processor import Sequence, processor_from_dict
from lmnet.pre_processor import (DivideBy255, PerImageStandardization, Resize, ResizeWithGtBoxes, check_size,
                                 per_image_standardization)
from tests.test_boxes import INSIDE_TOLERANCE, assert_compact, assert_inside, detection_samples


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


@pytest.mark.parametrize("processor_class", [Resize, ResizeWithGtBoxes])
def test_nearest_resample_takes_source_pixels(processor_class):
    # Downscaling 4x by nearest neighbour picks one source pixel per output pixel (as Blueoil's C++ runtime):
    # every value comes from the image, where bilinear blends neighbours into new values.
    image = random_image((16, 16, 3), seed=5)
    nearest = processor_class([4, 4], resample="NEAREST")(image=image)["image"]
    bilinear = processor_class([4, 4])(image=image)["image"]
    assert nearest.dtype == np.uint8 and nearest.shape == (4, 4, 3)
    for channel in range(3):
        assert set(nearest[..., channel].ravel()) <= set(image[..., channel].ravel())
    assert not np.array_equal(nearest, bilinear)
    np.testing.assert_array_equal(Resize([4, 4], resample="NEAREST")(image=image.astype(np.float32))["image"],
                                  nearest.astype(np.float32))


def test_resample_is_serialized_checked_and_kept_at_another_size():
    processor = ResizeWithGtBoxes([8, 8], resample="NEAREST")
    assert processor.to_dict() == {"ResizeWithGtBoxes": {"size": [8, 8], "resample": "NEAREST"}}
    assert processor_from_dict(processor.to_dict()) == processor
    assert processor.at_image_size([16, 32]).params() == {"size": [16, 32], "resample": "NEAREST"}
    assert Resize([8, 8]).resample == "BILINEAR"  # configs written before the option keep their filter
    with pytest.raises(ValueError, match="resample must be one of NEAREST, BOX, BILINEAR, .*got 'nearest'"):
        Resize([8, 8], resample="nearest")


def test_resize_passes_extra_keys_and_refuses_boxes():
    image = random_image()
    result = Resize((5, 5))(image, label=3, name="x")
    assert result["label"] == 3 and result["name"] == "x"
    assert Resize((5, 5))(image, gt_boxes=None)["gt_boxes"] is None
    with pytest.raises(ValueError, match=r"does not move gt_boxes; use ResizeWithGtBoxes\(\[5, 5\]\)"):
        Resize((5, 5))(image, gt_boxes=np.zeros((1, 5)))


# ResizeWithGtBoxes ----------------------------------------------------------------------------


def test_resize_with_gt_boxes_scales_boxes_by_hand():
    boxes = np.array([[2, 3, 10, 5, 4], [0, 0, 30, 20, 1], [0, 0, 0, 0, -1]], np.int64)
    result = ResizeWithGtBoxes((40, 15))(random_image((20, 30, 3)), gt_boxes=boxes, label=1)
    assert result["image"].shape == (40, 15, 3) and result["label"] == 1
    assert result["gt_boxes"].dtype == np.float32
    np.testing.assert_array_equal(result["gt_boxes"], [[1, 6, 5, 10, 4], [0, 0, 15, 40, 1], [0, 0, 0, 0, -1]])


def test_resize_with_gt_boxes_resizes_the_image_like_resize():
    image = random_image((20, 30, 3))
    np.testing.assert_array_equal(ResizeWithGtBoxes((9, 13))(image, gt_boxes=np.zeros((2, 5)))["image"],
                                  Resize((9, 13))(image)["image"])


def test_resize_with_gt_boxes_without_boxes_only_resizes():
    image = random_image()
    assert set(ResizeWithGtBoxes((5, 6))(image, label=2)) == {"image", "label"}
    assert ResizeWithGtBoxes((5, 6))(image, gt_boxes=None)["gt_boxes"] is None
    with pytest.raises(ValueError, match="gt_boxes"):
        ResizeWithGtBoxes((5, 6))(image, gt_boxes=np.zeros((2, 4)))


@settings(max_examples=80, deadline=None)
@given(sample=detection_samples(), size=st.tuples(st.integers(1, 50), st.integers(1, 50)))
def test_resize_with_gt_boxes_scales_exactly_and_keeps_boxes_inside(sample, size):
    image, gt_boxes = sample
    result = ResizeWithGtBoxes(size)(image, gt_boxes=gt_boxes)
    boxes = result["gt_boxes"]
    assert result["image"].shape == (*size, 3)
    assert boxes.dtype == np.float32 and boxes.shape == gt_boxes.shape
    valid = valid_rows(gt_boxes)
    np.testing.assert_array_equal(valid_rows(boxes), valid)
    np.testing.assert_array_equal(boxes[:, 4], gt_boxes[:, 4])
    np.testing.assert_array_equal(boxes[~valid], np.tile(PADDING_ROW, ((~valid).sum(), 1)))
    scale = np.array([size[1] / image.shape[1], size[0] / image.shape[0]] * 2)
    np.testing.assert_allclose(boxes[valid, :4], gt_boxes[valid, :4] * scale, rtol=1e-6, atol=1e-5)
    assert_inside(boxes, size, atol=INSIDE_TOLERANCE)
    assert_compact(boxes)


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
    sequence = Sequence([Resize([24, 32]), ResizeWithGtBoxes((8, 9)), DivideBy255(), PerImageStandardization()])
    data = sequence.to_dict()
    assert data == [{"Resize": {"size": [24, 32], "resample": "BILINEAR"}},
                    {"ResizeWithGtBoxes": {"size": [8, 9], "resample": "BILINEAR"}}, {"DivideBy255": {}},
                    {"PerImageStandardization": {}}]
    assert processor_from_dict(data) == sequence
    assert processor_from_dict(yaml.safe_load(yaml.safe_dump(data))) == sequence


def test_sequence_applies_processors_in_order():
    sequence = Sequence([Resize((4, 6)), DivideBy255()])
    result = sequence(random_image(), label=7)
    assert result["image"].shape == (4, 6, 3) and result["image"].dtype == np.float32
    assert result["image"].max() <= 1.0
    assert result["label"] == 7


def test_detection_sequence_carries_boxes_through_pre_processing():
    boxes = np.array([[2, 4, 10, 6, 3], [0, 0, 0, 0, -1]], np.float32)
    result = Sequence([ResizeWithGtBoxes((10, 15)), DivideBy255(), PerImageStandardization()])(
        random_image((20, 30, 3)), gt_boxes=boxes)
    assert result["image"].shape == (10, 15, 3)
    np.testing.assert_array_equal(result["gt_boxes"], [[1, 2, 5, 3, 3], [0, 0, 0, 0, -1]])
