"""Tests of lmnet.data_augmentor: geometric and colour augmentors, boxes, determinism, serialization."""
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lmnet.boxes import PADDING_ROW, resize_gt_boxes, valid_rows
from lmnet.data_augmentor import (Blur, Brightness, Color, Contrast, Crop, FlipLeftRight, FlipTopBottom, Hue, Pad,
                                  SSDRandomCrop, gaussian_kernel, shift_hue)
from lmnet.data_processor import Sequence, processor_from_dict
from lmnet.pre_processor import Resize, ResizeWithGtBoxes
from tests.test_boxes import INSIDE_TOLERANCE, assert_compact, assert_inside, detection_samples


def random_image(shape=(20, 30, 3), dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, shape).astype(dtype)


def rng(seed=0):
    return np.random.default_rng(seed)


ALL_AUGMENTORS = [FlipLeftRight(), FlipTopBottom(), Crop((10, 12)), Crop((8, 8), resize=(16, 16)), Pad(2),
                  Pad((1, 3), fill=128), SSDRandomCrop(), Brightness(), Color(), Contrast(), Hue(), Blur()]
RANDOM_AUGMENTORS = [FlipLeftRight(), FlipTopBottom(), Crop((10, 12)), SSDRandomCrop(), Brightness(), Color(),
                     Contrast(), Hue(), Blur((0.5, 2))]
COLOUR_AUGMENTORS = [Brightness, Color, Contrast]

image_arrays = hnp.arrays(np.uint8, hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=12)
                          .map(lambda shape: shape[:2] + (3,)))


# Flips ----------------------------------------------------------------------------------------


def test_flips_with_probability_one_match_numpy():
    image = random_image()
    np.testing.assert_array_equal(FlipLeftRight(1)(image, rng=rng())["image"], np.fliplr(image))
    np.testing.assert_array_equal(FlipTopBottom(1)(image, rng=rng())["image"], np.flipud(image))


@pytest.mark.parametrize("flip", [FlipLeftRight, FlipTopBottom])
def test_flips_with_probability_zero_leave_image_unchanged(flip):
    image = random_image()
    for seed in range(10):
        assert flip(0)(image, rng=rng(seed))["image"] is image


@pytest.mark.parametrize("flip", [FlipLeftRight, FlipTopBottom])
def test_flip_probability_is_respected(flip):
    image = random_image((2, 2, 3))
    generator = rng()
    flipped = sum(not np.array_equal(flip(0.3)(image, rng=generator)["image"], image) for _ in range(2000))
    assert 0.25 < flipped / 2000 < 0.35


@settings(max_examples=50, deadline=None)
@given(image=image_arrays)
def test_flipping_twice_is_identity(image):
    for flip in (FlipLeftRight(1), FlipTopBottom(1)):
        once = flip(image, rng=rng())["image"]
        np.testing.assert_array_equal(flip(once, rng=rng())["image"], image)


def test_flip_left_right_moves_boxes_and_keeps_padding():
    image = random_image((20, 30, 3))
    boxes = np.array([[2, 3, 10, 5, 0], [0, 0, 30, 20, 1], [-1, -1, -1, -1, -1]], np.float32)
    result = FlipLeftRight(1)(image, rng=rng(), gt_boxes=boxes)
    np.testing.assert_array_equal(result["gt_boxes"], [[18, 3, 10, 5, 0], [0, 0, 30, 20, 1], [-1, -1, -1, -1, -1]])
    np.testing.assert_array_equal(boxes[0], [2, 3, 10, 5, 0])  # input untouched


def test_flip_top_bottom_moves_boxes_and_returns_float32():
    boxes = np.array([[2, 3, 10, 5, 4], [0, 0, 0, 0, -1]], np.int32)
    for probability in (0, 1):
        result = FlipTopBottom(probability)(random_image((20, 30, 3)), rng=rng(), gt_boxes=boxes)
        assert result["gt_boxes"].dtype == np.float32
    np.testing.assert_array_equal(result["gt_boxes"], [[2, 12, 10, 5, 4], [0, 0, 0, 0, -1]])


def test_flipped_box_covers_the_flipped_pixels():
    image = np.zeros((12, 16, 3), np.uint8)
    image[2:7, 1:5] = 255  # box x=1, y=2, w=4, h=5
    boxes = np.array([[1, 2, 4, 5, 0]])
    for flip in (FlipLeftRight(1), FlipTopBottom(1)):
        result = flip(image, rng=rng(), gt_boxes=boxes)
        x, y, w, h = result["gt_boxes"][0, :4].astype(int)
        assert result["image"][y:y + h, x:x + w].min() == 255
        assert result["image"].sum() == image.sum()


@settings(max_examples=60, deadline=None)
@given(sample=detection_samples(interleave=True))
def test_flipping_image_and_boxes_twice_is_identity(sample):
    image, gt_boxes = sample
    for flip in (FlipLeftRight(1), FlipTopBottom(1)):
        once = flip(image, rng=rng(), gt_boxes=gt_boxes)
        assert_inside(once["gt_boxes"], image.shape[:2])
        twice = flip(rng=rng(), **once)
        np.testing.assert_array_equal(twice["image"], image)
        np.testing.assert_array_equal(twice["gt_boxes"], gt_boxes)


def test_flip_rejects_badly_shaped_boxes():
    with pytest.raises(ValueError, match="gt_boxes"):
        FlipLeftRight(1)(random_image(), rng=rng(), gt_boxes=np.zeros((3, 4)))


@pytest.mark.parametrize("probability", [-0.1, 1.5, "half", None])
def test_flip_rejects_bad_probability(probability):
    with pytest.raises(ValueError, match="probability"):
        FlipLeftRight(probability)


# Crop -----------------------------------------------------------------------------------------


def find_window(image, window):
    """Returns every (top, left) where ``window`` appears in ``image``."""
    height, width = window.shape[:2]
    return [(top, left) for top in range(image.shape[0] - height + 1) for left in range(image.shape[1] - width + 1)
            if np.array_equal(image[top:top + height, left:left + width], window)]


@pytest.mark.parametrize("seed", range(5))
def test_crop_is_a_sub_window_of_the_right_size(seed):
    image = random_image((20, 30, 3), seed=seed)
    result = Crop((7, 11))(image, rng=rng(seed), label=2)
    assert result["image"].shape == (7, 11, 3) and result["image"].dtype == np.uint8
    assert len(find_window(image, result["image"])) == 1
    assert result["label"] == 2


def test_crop_positions_cover_the_whole_range():
    image = np.arange(5 * 6).reshape(5, 6, 1).repeat(3, axis=2).astype(np.uint8)
    generator = rng()
    corners = {tuple(Crop((3, 3))(image, rng=generator)["image"][0, 0, :1]) for _ in range(300)}
    assert len(corners) == 3 * 4  # every (top, left) with top in 0..2 and left in 0..3


def test_crop_of_full_size_is_identity():
    image = random_image()
    np.testing.assert_array_equal(Crop(image.shape[:2])(image, rng=rng())["image"], image)


def test_crop_resizes_first():
    image = random_image((40, 40, 3))
    resized = Resize((16, 20))(image)["image"]
    result = Crop((8, 8), resize=(16, 20))(image, rng=rng())["image"]
    assert result.shape == (8, 8, 3)
    assert len(find_window(resized, result)) >= 1


def test_crop_larger_than_image_names_both_sizes():
    with pytest.raises(ValueError, match=r"\(20, 30\).*\(25, 10\)"):
        Crop((25, 10))(random_image((20, 30, 3)), rng=rng())
    with pytest.raises(ValueError, match="resize"):
        Crop((25, 10), resize=(20, 30))


def expected_crop(gt_boxes, window):
    """The crop's boxes computed row by row: centre strictly inside, clipped, shifted; then padding."""
    left, top, width, height = window
    rows = []
    for x, y, w, h, class_id in gt_boxes.astype(np.float64):
        center_x, center_y = x + w / 2, y + h / 2
        if class_id != -1 and left < center_x < left + width and top < center_y < top + height:
            x_min, x_max = max(x, left), min(x + w, left + width)
            y_min, y_max = max(y, top), min(y + h, top + height)
            rows.append([x_min - left, y_min - top, x_max - x_min, y_max - y_min, class_id])
    rows += [list(PADDING_ROW)] * (len(gt_boxes) - len(rows))
    return np.array(rows, np.float32).reshape(-1, 5)


def test_crop_moves_boxes_by_hand():
    image = random_image((20, 30, 3))
    boxes = np.array([[0, 0, 4, 4, 1], [10, 5, 6, 6, 2], [0, 0, 0, 0, -1], [25, 15, 5, 5, 3]], np.float32)
    for seed in range(20):
        result = Crop((10, 12))(image, rng=rng(seed), gt_boxes=boxes)
        (top, left), = find_window(image, result["image"])
        np.testing.assert_array_equal(result["gt_boxes"], expected_crop(boxes, (left, top, 12, 10)))
    whole = Crop((20, 30))(image, rng=rng(), gt_boxes=boxes)["gt_boxes"]
    np.testing.assert_array_equal(whole, [[0, 0, 4, 4, 1], [10, 5, 6, 6, 2], [25, 15, 5, 5, 3], [0, 0, 0, 0, -1]])


@settings(max_examples=60, deadline=None)
@given(sample=detection_samples(min_side=6, interleave=True), seed=st.integers(0, 2 ** 32 - 1),
       resize=st.booleans())
def test_crop_keeps_exactly_the_boxes_whose_centre_is_inside(sample, seed, resize):
    image, gt_boxes = sample
    size = (image.shape[0] // 2 + 1, image.shape[1] // 2 + 1)
    augmentor = Crop(size, resize=(image.shape[0] + 3, image.shape[1]) if resize else None)
    result = augmentor(image, rng=rng(seed), gt_boxes=gt_boxes)
    source, boxes = image, gt_boxes
    if resize:
        source = Resize(augmentor.resize)(image)["image"]
        boxes = resize_gt_boxes(gt_boxes, image.shape[:2], augmentor.resize)
    top, left = find_window(source, result["image"])[0]  # random images: the position is unique in practice
    np.testing.assert_allclose(result["gt_boxes"], expected_crop(boxes, (left, top, size[1], size[0])), atol=1e-5)


# SSDRandomCrop --------------------------------------------------------------------------------


def test_ssd_random_crop_windows_respect_the_minimum_ratio_and_vary_in_aspect():
    augmentor = SSDRandomCrop(min_crop_ratio=0.3, max_trials=7)
    windows = np.concatenate([augmentor.candidate_windows((20, 30), rng(seed)) for seed in range(100)])
    assert windows.shape == (700, 4) and windows.dtype == np.int64
    left, top, width, height = windows.T
    assert width.min() == 9 and width.max() == 30 and height.min() == 6 and height.max() == 20
    assert np.all(left >= 0) and np.all(top >= 0) and np.all(left + width <= 30) and np.all(top + height <= 20)
    assert left.max() > 15 and top.max() > 10
    assert len(np.unique(np.round(width / height, 2))) > 50


def test_ssd_random_crop_minimum_side_ignores_float_noise():
    windows = np.concatenate([SSDRandomCrop(0.3, 20).candidate_windows((10, 10), rng(seed)) for seed in range(20)])
    assert windows[:, 2:].min() == 3  # 0.3 * 10 is 3.0000000000000004 in floating point
    np.testing.assert_array_equal(SSDRandomCrop(1.0, 3).candidate_windows((7, 5), rng()), [[0, 0, 5, 7]] * 3)


@settings(max_examples=100, deadline=None)
@given(sample=detection_samples(interleave=True), seed=st.integers(0, 2 ** 32 - 1),
       min_crop_ratio=st.sampled_from([0.1, 0.3, 0.75, 1.0]), max_trials=st.integers(1, 10))
def test_ssd_random_crop_keeps_exactly_the_boxes_whose_centre_is_inside(sample, seed, min_crop_ratio, max_trials):
    image, gt_boxes = sample
    augmentor = SSDRandomCrop(min_crop_ratio, max_trials)
    candidates = [tuple(c) for c in augmentor.candidate_windows(image.shape[:2], rng(seed))]
    keeping = [c for c in candidates if valid_rows(expected_crop(gt_boxes, c)).any() or not valid_rows(gt_boxes).any()]
    window = augmentor.choose_window(image.shape[:2], gt_boxes, rng(seed))
    result = augmentor(image, rng=rng(seed), gt_boxes=gt_boxes, label="x")
    assert result["label"] == "x" and result["gt_boxes"].dtype == np.float32
    if not keeping:
        assert window is None
        assert result["image"] is image
        np.testing.assert_array_equal(result["gt_boxes"], gt_boxes)
        return
    assert window == keeping[0]
    left, top, width, height = window
    np.testing.assert_array_equal(result["image"], image[top:top + height, left:left + width])
    np.testing.assert_array_equal(result["gt_boxes"], expected_crop(gt_boxes, window))
    assert_inside(result["gt_boxes"], (height, width))
    assert_compact(result["gt_boxes"])


def test_ssd_random_crop_returns_the_sample_unchanged_when_no_trial_keeps_a_box():
    image = random_image((100, 100, 3))
    boxes = np.array([[0, 0, 1, 1, 5], [0, 0, 0, 0, -1]], np.float32)  # centre (0.5, 0.5): needs left = top = 0
    augmentor = SSDRandomCrop(min_crop_ratio=0.1, max_trials=1)
    results = [augmentor(image, rng=rng(seed), gt_boxes=boxes) for seed in range(20)]
    unchanged = [r for r in results if r["image"] is image]
    assert unchanged, "some seed should find no window"
    for result in unchanged:
        np.testing.assert_array_equal(result["gt_boxes"], boxes)
    whole = SSDRandomCrop(min_crop_ratio=1.0, max_trials=1)(image, rng=rng(), gt_boxes=boxes)
    np.testing.assert_array_equal(whole["image"], image)  # the only window is the image: the box is kept
    np.testing.assert_array_equal(whole["gt_boxes"], boxes)


def test_ssd_random_crop_without_boxes_crops_to_the_first_candidate():
    image = random_image((20, 30, 3))
    augmentor = SSDRandomCrop()
    left, top, width, height = augmentor.candidate_windows((20, 30), rng(5))[0]
    expected = image[top:top + height, left:left + width]
    for boxes in (None, np.tile(PADDING_ROW, (3, 1))):
        result = augmentor(image, rng=rng(5), gt_boxes=boxes)
        np.testing.assert_array_equal(result["image"], expected)
    assert result["gt_boxes"].shape == (3, 5) and not valid_rows(result["gt_boxes"]).any()
    assert set(augmentor(image, rng=rng(5))) == {"image"}


@pytest.mark.parametrize("kwargs", [{"min_crop_ratio": 0}, {"min_crop_ratio": 1.5}, {"min_crop_ratio": "a"},
                                    {"max_trials": 0}, {"max_trials": 2.5}, {"max_trials": True}])
def test_ssd_random_crop_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="SSDRandomCrop"):
        SSDRandomCrop(**kwargs)


# All geometric augmentors ---------------------------------------------------------------------


def geometric_augmentors(image_size):
    height, width = image_size
    return [FlipLeftRight(), FlipTopBottom(), FlipLeftRight(1), FlipTopBottom(1), Pad((1, 2)), Pad(0),
            Crop(((height + 1) // 2, (width + 1) // 2)), Crop((5, 7), resize=(12, 9)), SSDRandomCrop(),
            SSDRandomCrop(0.8, 3), ResizeWithGtBoxes((16, 24)),
            Sequence([SSDRandomCrop(), FlipLeftRight(), Pad(3), ResizeWithGtBoxes((16, 16))])]


@settings(max_examples=60, deadline=None)
@given(sample=detection_samples(), seed=st.integers(0, 2 ** 32 - 1))
def test_geometric_augmentors_keep_boxes_inside_padding_last_and_length(sample, seed):
    image, gt_boxes = sample
    for augmentor in geometric_augmentors(image.shape[:2]):
        result = augmentor(image, rng=rng(seed), gt_boxes=gt_boxes)
        boxes = result["gt_boxes"]
        assert boxes.dtype == np.float32 and boxes.shape == gt_boxes.shape, augmentor
        assert_inside(boxes, result["image"].shape[:2], atol=INSIDE_TOLERANCE)
        assert_compact(boxes)
        assert set(boxes[valid_rows(boxes), 4]) <= set(gt_boxes[valid_rows(gt_boxes), 4])


@pytest.mark.parametrize("augmentor", [FlipLeftRight(), Crop((10, 12)), SSDRandomCrop(), Crop((8, 8), (16, 16))],
                         ids=repr)
def test_same_seed_gives_same_boxes(augmentor):
    image = random_image()
    boxes = np.array([[2, 3, 10, 5, 0], [12, 6, 8, 8, 1], [0, 0, 0, 0, -1]], np.float32)
    outputs = [augmentor(image, rng=rng(7), gt_boxes=boxes) for _ in range(2)]
    np.testing.assert_array_equal(outputs[0]["image"], outputs[1]["image"])
    np.testing.assert_array_equal(outputs[0]["gt_boxes"], outputs[1]["gt_boxes"])


# Pad ------------------------------------------------------------------------------------------


def test_pad_with_int_pads_every_side():
    image = random_image((4, 5, 3))
    result = Pad(2, fill=9)(image)["image"]
    assert result.shape == (8, 9, 3) and result.dtype == np.uint8
    np.testing.assert_array_equal(result[2:-2, 2:-2], image)
    border = np.ones(result.shape[:2], bool)
    border[2:-2, 2:-2] = False
    assert np.all(result[border] == 9)


def test_pad_with_pair_pads_vertical_and_horizontal():
    image = random_image((4, 5, 3)).astype(np.float32)
    result = Pad((1, 3))(image)["image"]
    assert result.shape == (6, 11, 3) and result.dtype == np.float32
    np.testing.assert_array_equal(result[1:-1, 3:-3], image)
    assert result[0].sum() == 0 and result[-1].sum() == 0 and result[:, :3].sum() == 0 and result[:, -3:].sum() == 0


def test_pad_shifts_boxes():
    boxes = np.array([[2, 3, 4, 5, 1], [0, 0, 0, 0, -1]])
    result = Pad((1, 3))(random_image(), gt_boxes=boxes)
    np.testing.assert_array_equal(result["gt_boxes"], [[5, 4, 4, 5, 1], [0, 0, 0, 0, -1]])


@pytest.mark.parametrize("kwargs", [{"size": -1}, {"size": (1, 2, 3)}, {"size": 1.5}, {"size": 2, "fill": 300}])
def test_pad_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="Pad"):
        Pad(**kwargs)


# Colour ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("augmentor", COLOUR_AUGMENTORS)
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_colour_factor_one_is_identity(augmentor, dtype):
    image = random_image(dtype=dtype)
    result = augmentor(1, 1)(image, rng=rng())["image"]
    assert result.dtype == dtype
    np.testing.assert_array_equal(result, image)


@pytest.mark.parametrize("augmentor", COLOUR_AUGMENTORS)
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_colour_output_keeps_range_and_dtype(augmentor, dtype):
    image = random_image(dtype=dtype)
    result = augmentor(0, 3)(image, rng=rng())["image"]
    assert result.dtype == (np.uint8 if dtype == np.uint8 else np.float32)
    assert result.min() >= 0 and result.max() <= 255


def estimated_brightness_factor(image, result):
    inside = (image > 10) & (result < 250)
    return float(np.median(result[inside].astype(np.float64) / image[inside]))


def test_brightness_factor_stays_within_range():
    image = random_image(dtype=np.float32)
    generator = rng()
    factors = [estimated_brightness_factor(image, Brightness(0.8, 1.1)(image, rng=generator)["image"])
               for _ in range(200)]
    assert 0.8 - 1e-6 <= min(factors) < 0.85 and 1.05 < max(factors) <= 1.1 + 1e-6


def test_brightness_scales_and_clips():
    image = np.array([[[100, 200, 0]]], np.uint8)
    np.testing.assert_array_equal(Brightness(2, 2)(image, rng=rng())["image"], [[[200, 255, 0]]])
    np.testing.assert_array_equal(Brightness(0.5, 0.5)(image, rng=rng())["image"], [[[50, 100, 0]]])


def test_color_zero_gives_grayscale_and_factor_changes_saturation():
    image = random_image(dtype=np.float32)
    gray = Color(0, 0)(image, rng=rng())["image"]
    np.testing.assert_allclose(gray[..., 0], gray[..., 1], atol=1e-4)
    np.testing.assert_allclose(gray[..., 0], gray[..., 2], atol=1e-4)
    np.testing.assert_allclose(gray[..., 0], image @ [0.299, 0.587, 0.114], atol=1e-3)
    moderate = np.full((4, 4, 3), (150, 100, 120), np.float32)
    spread = [np.ptp(Color(f, f)(moderate, rng=rng())["image"], axis=-1).mean() for f in (0.5, 1, 1.5)]
    np.testing.assert_allclose(spread, [25, 50, 75], rtol=1e-4)


def test_color_factor_stays_within_range():
    moderate = np.full((4, 4, 3), (150, 100, 120), np.float32)
    generator = rng()
    factors = [np.ptp(Color(0.9, 1.2)(moderate, rng=generator)["image"][0, 0]) / 50 for _ in range(200)]
    assert 0.9 - 1e-5 <= min(factors) < 0.95 and 1.15 < max(factors) <= 1.2 + 1e-5


def test_contrast_zero_gives_mean_and_factor_scales_deviation():
    image = random_image(dtype=np.float32)
    mean = (image @ [0.299, 0.587, 0.114]).mean()
    np.testing.assert_allclose(Contrast(0, 0)(image, rng=rng())["image"], np.full_like(image, mean), rtol=1e-5)
    half = Contrast(0.5, 0.5)(image, rng=rng())["image"]
    np.testing.assert_allclose(half - mean, (image - mean) * 0.5, atol=1e-3)


def test_contrast_factor_stays_within_range():
    image = np.full((2, 2, 3), 100, np.float32)
    image[0, 0] = 140  # mean luma = 110
    generator = rng()
    factors = [(Contrast(0.7, 1.3)(image, rng=generator)["image"][0, 0, 0] - 110) / 30 for _ in range(200)]
    assert 0.7 - 1e-5 <= min(factors) < 0.75 and 1.25 < max(factors) <= 1.3 + 1e-5


@pytest.mark.parametrize("augmentor", [Color, Contrast, Hue])
def test_rgb_augmentors_reject_grayscale(augmentor):
    with pytest.raises(ValueError, match="RGB"):
        augmentor()(random_image((5, 5, 1)), rng=rng())


@pytest.mark.parametrize("augmentor", [Brightness, Color, Contrast, Hue])
def test_range_must_be_ordered(augmentor):
    with pytest.raises(ValueError, match="min_value"):
        augmentor(2, 1)


@pytest.mark.parametrize("augmentor", [Brightness, Color, Contrast])
def test_factors_must_not_be_negative(augmentor):
    with pytest.raises(ValueError, match="at least 0"):
        augmentor(-0.5, 1)


# Hue ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("degrees", [0, 360, -360, 720])
def test_hue_full_turns_are_identity(degrees):
    image = random_image((30, 30, 3))
    result = Hue(degrees, degrees)(image, rng=rng())["image"]
    assert result.dtype == np.uint8
    assert np.abs(result.astype(int) - image).max() <= 1
    float_result = Hue(degrees, degrees)(image.astype(np.float32), rng=rng())["image"]
    np.testing.assert_allclose(float_result, image, atol=1e-3)


def test_hue_rotates_primaries():
    red = np.array([[[255, 0, 0]]], np.uint8)
    np.testing.assert_array_equal(Hue(120, 120)(red, rng=rng())["image"], [[[0, 255, 0]]])
    np.testing.assert_array_equal(Hue(-120, -120)(red, rng=rng())["image"], [[[0, 0, 255]]])
    np.testing.assert_array_equal(Hue(60, 60)(red, rng=rng())["image"], [[[255, 255, 0]]])


def test_hue_keeps_grays_and_hsv_value_and_saturation():
    image = random_image((20, 20, 3)).astype(np.float32)
    image[:3] = image[:3, :, :1]  # gray rows
    result = shift_hue(image, 77)
    np.testing.assert_allclose(result[:3], image[:3], atol=1e-4)
    np.testing.assert_allclose(result.max(-1), image.max(-1), atol=1e-3)
    np.testing.assert_allclose(np.ptp(result, axis=-1), np.ptp(image, axis=-1), atol=1e-3)


@pytest.mark.parametrize("degrees", [-170, -45, 10, 90, 179])
def test_hue_matches_tensorflow_adjust_hue(degrees):
    tf = pytest.importorskip("tensorflow")
    image = random_image((16, 16, 3)).astype(np.float32)
    expected = tf.image.adjust_hue(image / 255, degrees / 360).numpy() * 255
    np.testing.assert_allclose(shift_hue(image, degrees), expected, atol=1e-2)


def test_hue_shifts_compose():
    image = random_image((10, 10, 3)).astype(np.float32)
    np.testing.assert_allclose(shift_hue(shift_hue(image, 100), -30), shift_hue(image, 70), atol=1e-2)


# Blur -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_blur_sigma_zero_is_identity(dtype):
    image = random_image(dtype=dtype)
    np.testing.assert_array_equal(Blur((0, 0))(image, rng=rng())["image"], image)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_blur_reduces_noise_variance_and_keeps_mean(dtype):
    image = random_image((40, 40, 3), dtype=dtype)
    result = Blur((1, 2))(image, rng=rng())["image"]
    assert result.dtype == dtype and result.shape == image.shape
    assert result.astype(np.float64).var() < 0.5 * image.astype(np.float64).var()
    assert result.astype(np.float64).mean() == pytest.approx(image.astype(np.float64).mean(), rel=0.02)


def test_blur_keeps_constant_image_and_works_on_tiny_images():
    image = np.full((3, 2, 3), 77, np.uint8)
    np.testing.assert_array_equal(Blur((3, 3))(image, rng=rng())["image"], image)


def test_stronger_blur_smooths_more():
    image = random_image((40, 40, 3), dtype=np.float32)
    variances = [Blur((s, s))(image, rng=rng())["image"].var() for s in (0.5, 1, 2)]
    assert variances[0] > variances[1] > variances[2]


def test_gaussian_kernel_is_normalized_and_symmetric():
    kernel = gaussian_kernel(1.3)
    assert kernel.sum() == pytest.approx(1, abs=1e-6)
    np.testing.assert_allclose(kernel, kernel[::-1])
    assert len(kernel) == 2 * 4 + 1 and np.argmax(kernel) == 4


@pytest.mark.parametrize("value", [(1, 0), (-1, 1), 3, (0, 1, 2)])
def test_blur_rejects_bad_range(value):
    with pytest.raises(ValueError):
        Blur(value)


# All augmentors -------------------------------------------------------------------------------


@pytest.mark.parametrize("augmentor", ALL_AUGMENTORS, ids=repr)
def test_same_seed_gives_same_output(augmentor):
    image = random_image()
    first = augmentor(image, rng=rng(42))["image"]
    second = augmentor(image, rng=rng(42))["image"]
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("augmentor", RANDOM_AUGMENTORS, ids=repr)
def test_different_seeds_usually_differ(augmentor):
    image = random_image()
    outputs = {augmentor(image, rng=rng(seed))["image"].tobytes() for seed in range(10)}
    assert len(outputs) > 1


@pytest.mark.parametrize("augmentor", ALL_AUGMENTORS, ids=repr)
def test_works_without_rng_and_passes_extra_keys(augmentor):
    marker = object()
    result = augmentor(random_image(), label=5, extra=marker)
    assert result["label"] == 5 and result["extra"] is marker
    assert set(result) == {"image", "label", "extra"}


@pytest.mark.parametrize("augmentor", [Brightness(), Color(), Contrast(), Hue(), Blur()], ids=repr)
def test_colour_augmentors_pass_boxes_through(augmentor):
    boxes = np.array([[1, 2, 3, 4, 0]])
    assert augmentor(random_image(), rng=rng(), gt_boxes=boxes)["gt_boxes"] is boxes


@settings(max_examples=40, deadline=None)
@given(image=image_arrays, seed=st.integers(0, 2 ** 32 - 1))
def test_augmentation_sequence_keeps_uint8_range(image, seed):
    sequence = Sequence([FlipLeftRight(), Brightness(0.5, 1.5), Color(0.5, 1.5), Contrast(0.5, 1.5), Hue(-30, 30),
                         Blur((0, 1))])
    result = sequence(image, rng=rng(seed))["image"]
    assert result.dtype == np.uint8 and result.shape == image.shape


def test_sequence_round_trips_through_dict_and_yaml():
    sequence = Sequence([Resize((40, 40)), Crop((32, 32), resize=(36, 36)), Pad((2, 1), fill=128),
                         FlipLeftRight(0.5), FlipTopBottom(0.25), Brightness(0.8, 1.2), Color(), Contrast(0.5, 1.5),
                         Hue(-15, 15), Blur((0, 0.5)), SSDRandomCrop(0.5, 10)])
    data = sequence.to_dict()
    assert data[1] == {"Crop": {"size": [32, 32], "resize": [36, 36]}}
    assert data[2] == {"Pad": {"size": [2, 1], "fill": 128}}
    assert data[-2] == {"Blur": {"value": [0.0, 0.5]}}
    assert data[-1] == {"SSDRandomCrop": {"min_crop_ratio": 0.5, "max_trials": 10}}
    rebuilt = processor_from_dict(data)
    assert rebuilt == sequence
    from_yaml = processor_from_dict(yaml.safe_load(yaml.safe_dump(data)))
    assert from_yaml == sequence
    image = random_image((50, 60, 3))
    np.testing.assert_array_equal(from_yaml(image, rng=rng(3))["image"], sequence(image, rng=rng(3))["image"])


def test_defaults_serialize():
    for augmentor in (FlipLeftRight(), Brightness(), Hue(), Blur(), SSDRandomCrop()):
        assert processor_from_dict(yaml.safe_load(yaml.safe_dump(augmentor.to_dict()))) == augmentor
    assert Crop((3, 4)).to_dict() == {"Crop": {"size": [3, 4], "resize": None}}
