"""Tests of lmnet.boxes: formats, geometry, IoU, ground-truth arrays and the TensorFlow twins.

The hypothesis strategies and checks at the top are shared with the processor tests.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lmnet import boxes as B

#: Float32 rounding slack, in pixels, for boxes that went through a scale.
INSIDE_TOLERANCE = 1e-3


# Strategies and checks shared with the processor tests ---------------------------------------


@st.composite
def quarter_pixel_box(draw, height, width):
    """One ``(x, y, w, h)`` box of positive size inside a ``height x width`` image, on a 1/4-pixel grid."""
    x_min, x_max = sorted(draw(st.lists(st.integers(0, 4 * width), min_size=2, max_size=2, unique=True)))
    y_min, y_max = sorted(draw(st.lists(st.integers(0, 4 * height), min_size=2, max_size=2, unique=True)))
    return [x_min / 4, y_min / 4, (x_max - x_min) / 4, (y_max - y_min) / 4]


@st.composite
def detection_samples(draw, min_side=1, max_side=40, max_boxes=6, interleave=False):
    """``(image uint8 [H, W, 3], gt_boxes float32 [max_boxes', 5])`` with valid boxes inside the image.

    Padding rows ``[0, 0, 0, 0, -1]`` follow the valid rows, as datasets make them, or are mixed
    among them when ``interleave``.
    """
    height, width = draw(st.integers(min_side, max_side)), draw(st.integers(min_side, max_side))
    rows = [draw(quarter_pixel_box(height, width)) + [draw(st.integers(0, 19))]
            for _ in range(draw(st.integers(0, max_boxes)))]
    rows += [list(B.PADDING_ROW)] * draw(st.integers(0 if rows else 1, 3))
    if interleave:
        rows = draw(st.permutations(rows))
    image = np.random.default_rng(draw(st.integers(0, 2 ** 16))).integers(0, 256, (height, width, 3), np.uint8)
    return image, np.array(rows, np.float32)


def assert_inside(gt_boxes, image_size, atol=0.0):
    """Every valid box has a positive size and lies inside the image (up to ``atol`` pixels)."""
    height, width = image_size
    boxes = gt_boxes[B.valid_rows(gt_boxes)].astype(np.float64)
    x, y, w, h = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    assert np.all(w > 0) and np.all(h > 0), boxes
    assert np.all(x >= -atol) and np.all(y >= -atol), boxes
    assert np.all(x + w <= width + atol) and np.all(y + h <= height + atol), (boxes, image_size)


def assert_compact(gt_boxes):
    """Valid rows come first; every row after them is padding."""
    valid = B.valid_rows(gt_boxes)
    count = int(valid.sum())
    assert valid[:count].all() and not valid[count:].any(), gt_boxes
    assert np.all(gt_boxes[count:, 4] == -1)


def random_boxes(shape, seed=0, low=-20, high=60):
    """``float64 [*shape, 4]`` boxes with non-negative sizes."""
    rng = np.random.default_rng(seed)
    corners = rng.uniform(low, high, (*shape, 2))
    sizes = rng.uniform(0, 30, (*shape, 2))
    return np.concatenate([corners, sizes], axis=-1)


finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
box_shapes = hnp.array_shapes(min_dims=1, max_dims=3, max_side=4).map(lambda shape: shape + (4,))


# Formats --------------------------------------------------------------------------------------


def test_conversions_by_hand():
    xywh = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(B.xywh_to_xyxy(xywh), [1, 2, 4, 6])
    np.testing.assert_array_equal(B.xyxy_to_xywh([1.0, 2.0, 4.0, 6.0]), xywh)
    np.testing.assert_array_equal(B.cxcywh_to_xywh([2.5, 4.0, 3.0, 4.0]), xywh)
    assert B.voc_to_xywh(1, 2, 10, 2) == [0.0, 1.0, 10.0, 1.0]  # VOC columns 1..10 inclusive, one row
    assert B.xywh_to_voc(0, 1, 10, 1) == (1, 2, 10, 2)


@settings(max_examples=60, deadline=None)
@given(boxes=hnp.arrays(np.float64, box_shapes, elements=finite))
def test_conversions_round_trip(boxes):
    np.testing.assert_allclose(B.xyxy_to_xywh(B.xywh_to_xyxy(boxes)), boxes, atol=1e-9)
    np.testing.assert_allclose(B.xywh_to_xyxy(B.xyxy_to_xywh(boxes)), boxes, atol=1e-9)
    centred = boxes.copy()
    centred[..., :2] += boxes[..., 2:] / 2
    np.testing.assert_allclose(B.cxcywh_to_xywh(centred), boxes, atol=1e-9)
    assert B.xywh_to_xyxy(boxes).shape == boxes.shape


def test_conversions_copy_extra_columns_and_keep_float_dtype():
    gt_boxes = np.array([[[1, 2, 3, 4, 7], [0, 0, 0, 0, -1]]], np.float32)
    result = B.xywh_to_xyxy(gt_boxes)
    assert result.dtype == np.float32 and result.shape == (1, 2, 5)
    np.testing.assert_array_equal(result[0, 0], [1, 2, 4, 6, 7])
    np.testing.assert_array_equal(result[..., 4], gt_boxes[..., 4])
    assert B.cxcywh_to_xywh(np.array([[3, 4, 2, 4]])).dtype == np.float64
    np.testing.assert_array_equal(B.cxcywh_to_xywh(np.array([[3, 4, 2, 4]])), [[2, 2, 2, 4]])


@pytest.mark.parametrize("function", [B.xywh_to_xyxy, B.xyxy_to_xywh, B.cxcywh_to_xywh, B.area_xywh])
def test_conversions_need_four_columns(function):
    with pytest.raises(ValueError, match="4"):
        function(np.zeros((2, 3)))


# Geometry -------------------------------------------------------------------------------------


def test_area_counts_negative_sizes_as_zero():
    np.testing.assert_array_equal(B.area_xywh([[0, 0, 3, 4], [5, 5, -2, 3], [1, 1, 0, 9]]), [12, 0, 0])


def test_clip_by_hand():
    boxes = [[-5, 2, 10, 4], [8, 7, 10, 10], [20, 20, 3, 3], [1, 1, 2, 2]]
    np.testing.assert_array_equal(B.clip_xywh(boxes, (10, 12)),
                                  [[0, 2, 5, 4], [8, 7, 4, 3], [12, 10, 0, 0], [1, 1, 2, 2]])


@settings(max_examples=60, deadline=None)
@given(boxes=hnp.arrays(np.float64, box_shapes, elements=finite), height=st.integers(1, 50),
       width=st.integers(1, 50))
def test_clipped_boxes_are_the_part_inside_the_image(boxes, height, width):
    boxes[..., 2:] = np.abs(boxes[..., 2:])
    clipped = B.clip_xywh(boxes, (height, width))
    x_min, y_min, x_max, y_max = np.moveaxis(B.xywh_to_xyxy(clipped), -1, 0)
    assert np.all((0 <= x_min) & (x_min <= x_max) & (x_max <= width))
    assert np.all((0 <= y_min) & (y_min <= y_max) & (y_max <= height))
    iou = B.iou_xywh_aligned(boxes, np.array([0, 0, width, height], np.float64))
    intersection = iou * (B.area_xywh(boxes) + width * height) / (1 + iou)  # from IoU = I / (A + B - I)
    np.testing.assert_allclose(B.area_xywh(clipped), intersection, rtol=1e-9, atol=1e-6)


def test_shift_scale_and_flip_by_hand():
    boxes = np.array([[2.0, 3.0, 10.0, 5.0, 1.0]])
    np.testing.assert_array_equal(B.shift_xywh(boxes, 3, -1), [[5, 2, 10, 5, 1]])
    np.testing.assert_array_equal(B.scale_xywh(boxes, 2, 0.5), [[4, 1.5, 20, 2.5, 1]])
    np.testing.assert_array_equal(B.flip_left_right_xywh(boxes, 30), [[18, 3, 10, 5, 1]])
    np.testing.assert_array_equal(B.flip_top_bottom_xywh(boxes, 20), [[2, 12, 10, 5, 1]])


@settings(max_examples=50, deadline=None)
@given(boxes=hnp.arrays(np.float64, box_shapes, elements=st.floats(-1, 50, allow_nan=False)))
def test_flipping_boxes_twice_is_identity(boxes):
    np.testing.assert_allclose(B.flip_left_right_xywh(B.flip_left_right_xywh(boxes, 64), 64), boxes, atol=1e-9)
    np.testing.assert_allclose(B.flip_top_bottom_xywh(B.flip_top_bottom_xywh(boxes, 48), 48), boxes, atol=1e-9)


def test_centers_inside_is_strict_and_broadcasts_windows():
    # centres (2, 2), (10, 3), (4, 4), (6, 10)
    boxes = np.array([[0, 0, 4, 4], [8, 2, 4, 2], [3, 3, 2, 2], [5, 9, 2, 2]], np.float32)
    window = (2, 2, 8, 8)  # 2 < c < 10
    np.testing.assert_array_equal(B.centers_inside_xywh(boxes, window), [False, False, True, False])
    windows = np.array([[2, 2, 8, 8], [0, 0, 20, 20], [1.5, 1.5, 1, 1]])
    np.testing.assert_array_equal(B.centers_inside_xywh(boxes[None], windows[:, None]),
                                  [[False, False, True, False], [True, True, True, True],
                                   [True, False, False, False]])


# IoU ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("a, b, expected", [
    ([0, 0, 4, 4], [0, 0, 4, 4], 1.0),  # identical
    ([0, 0, 4, 4], [10, 10, 2, 2], 0.0),  # disjoint
    ([0, 0, 4, 4], [4, 0, 4, 4], 0.0),  # touching edges
    ([0, 0, 4, 4], [0, 0, 2, 4], 0.5),  # b is the left half of a
    ([0, 0, 2, 2], [1, 0, 2, 2], 1 / 3),  # half of each overlaps: 2 / (4 + 4 - 2)
    ([0, 0, 4, 4], [1, 1, 2, 2], 0.25),  # contained
    ([0, 0, 2, 2], [1, 1, 2, 2], 1 / 7),  # corner overlap: 1 / (4 + 4 - 1)
    ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),  # empty union
    ([1, 1, 0, 3], [0, 0, 4, 4], 0.0),  # zero-area box
])
def test_iou_by_hand(a, b, expected):
    assert B.iou_xywh_aligned(np.array(a, float), np.array(b, float)) == pytest.approx(expected)
    assert B.iou_xywh([a], [b])[0, 0] == pytest.approx(expected)


def test_iou_pairwise_shape_symmetry_and_batch_dims():
    a, b = random_boxes((3, 5), seed=1), random_boxes((3, 7), seed=2)
    pairwise = B.iou_xywh(a, b)
    assert pairwise.shape == (3, 5, 7)
    np.testing.assert_allclose(pairwise, np.swapaxes(B.iou_xywh(b, a), -1, -2))
    for batch in range(3):
        for i in range(5):
            np.testing.assert_allclose(pairwise[batch, i], B.iou_xywh_aligned(a[batch, i], b[batch]))
    assert B.iou_xywh(a, b[0]).shape == (3, 5, 7)  # leading dims broadcast
    with pytest.raises(ValueError, match="N, 4"):
        B.iou_xywh(a[0, 0], b[0])


def pixel_iou(a, b, size=12):
    """IoU of two integer boxes by counting covered pixels."""
    masks = []
    for x, y, w, h in (a, b):
        mask = np.zeros((size, size), bool)
        mask[y:y + h, x:x + w] = True
        masks.append(mask)
    union = (masks[0] | masks[1]).sum()
    return (masks[0] & masks[1]).sum() / union if union else 0.0


integer_boxes = st.tuples(st.integers(0, 11), st.integers(0, 11), st.integers(0, 6), st.integers(0, 6)).map(
    lambda box: (box[0], box[1], min(box[2], 12 - box[0]), min(box[3], 12 - box[1])))


@settings(max_examples=100, deadline=None)
@given(a=integer_boxes, b=integer_boxes)
def test_iou_matches_pixel_counting(a, b):
    value = B.iou_xywh_aligned(np.array(a, float), np.array(b, float))
    assert value == pytest.approx(pixel_iou(a, b))
    assert 0 <= value <= 1
    if a[2] * a[3] > 0:
        assert B.iou_xywh_aligned(np.array(a, float), np.array(a, float)) == 1


# Ground-truth arrays --------------------------------------------------------------------------


GT = np.array([[0, 0, 0, 0, -1], [2, 3, 10, 5, 4], [9, 9, 9, 9, -1], [20, 10, 10, 10, 0]], np.float32)


def test_as_gt_boxes_validates_and_converts():
    assert B.as_gt_boxes(GT) is GT
    assert B.as_gt_boxes(GT.astype(int)).dtype == np.float32
    for bad in (np.zeros((3, 4)), np.zeros(5)):
        with pytest.raises(ValueError, match="gt_boxes"):
            B.as_gt_boxes(bad)


def test_valid_rows_and_compact_by_hand():
    np.testing.assert_array_equal(B.valid_rows(GT), [False, True, False, True])
    compact = B.compact_gt_boxes(GT)
    assert compact.dtype == np.float32
    np.testing.assert_array_equal(compact, [[2, 3, 10, 5, 4], [20, 10, 10, 10, 0], [0, 0, 0, 0, -1], [0, 0, 0, 0, -1]])
    np.testing.assert_array_equal(GT[2], [9, 9, 9, 9, -1])  # input untouched


@settings(max_examples=60, deadline=None)
@given(samples=st.lists(detection_samples(max_side=10, interleave=True), min_size=1, max_size=3))
def test_compact_keeps_valid_rows_in_order_with_batch_dims(samples):
    length = max(len(gt) for _, gt in samples)
    batch = np.stack([np.concatenate([gt, np.tile(B.PADDING_ROW, (length - len(gt), 1))]) for _, gt in samples])
    compact = B.compact_gt_boxes(batch)
    assert compact.shape == batch.shape and compact.dtype == np.float32
    for row, gt in zip(compact, batch):
        valid = gt[B.valid_rows(gt)]
        np.testing.assert_array_equal(row[:len(valid)], valid)
        np.testing.assert_array_equal(row[len(valid):], np.tile(B.PADDING_ROW, (length - len(valid), 1)))


def test_keep_gt_boxes_turns_dropped_rows_into_trailing_padding():
    kept = B.keep_gt_boxes(GT, [True, False, True, True])
    np.testing.assert_array_equal(kept, [[20, 10, 10, 10, 0], [0, 0, 0, 0, -1], [0, 0, 0, 0, -1],
                                         [0, 0, 0, 0, -1]])


def test_map_valid_boxes_leaves_padding_untouched():
    moved = B.map_valid_boxes(GT, B.shift_xywh, 1, dy=2)
    np.testing.assert_array_equal(moved, [[0, 0, 0, 0, -1], [3, 5, 10, 5, 4], [9, 9, 9, 9, -1], [21, 12, 10, 10, 0]])
    assert moved.dtype == np.float32


def test_resize_gt_boxes_scales_and_clips():
    gt = np.array([[2, 3, 10, 5, 4], [0, 0, 30, 20, 1], [0, 0, 0, 0, -1]], np.float32)
    np.testing.assert_array_equal(B.resize_gt_boxes(gt, (20, 30), (40, 15)),
                                  [[1, 6, 5, 10, 4], [0, 0, 15, 40, 1], [0, 0, 0, 0, -1]])


def test_crop_gt_boxes_keeps_boxes_by_centre_clips_and_shifts():
    gt = np.array([[0, 0, 0, 0, -1],
                   [0, 0, 10, 10, 1],  # centre (5, 5): inside, clipped on the left and top
                   [4, 4, 2, 2, 2],  # centre (5, 5): inside, not clipped
                   [3, 8, 2, 4, 3],  # centre (4, 10): on the left border, dropped
                   [12, 6, 20, 2, 5]],  # centre (22, 7): inside, clipped on the right
                  np.float32)
    window = (4, 2, 20, 12)  # x in (4, 24), y in (2, 14)
    result = B.crop_gt_boxes(gt, window)
    np.testing.assert_array_equal(result, [[0, 0, 6, 8, 1], [0, 2, 2, 2, 2], [8, 4, 12, 2, 5], [0, 0, 0, 0, -1],
                                           [0, 0, 0, 0, -1]])


# TensorFlow twins -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


def test_tf_iou_equals_numpy(tf):
    a, b = random_boxes((2, 5), seed=3), random_boxes((2, 4), seed=4)
    b[0, 0] = a[0, 0]  # one identical pair
    b[1, 1] = 0  # one empty box
    np.testing.assert_allclose(B.tf_iou_xywh(a, b).numpy(), B.iou_xywh(a, b), atol=1e-12)
    pairwise = B.tf_iou_xywh(tf.constant(a, tf.float32), b)
    assert pairwise.dtype == tf.float32 and pairwise.shape == (2, 5, 4)
    np.testing.assert_allclose(pairwise.numpy(), B.iou_xywh(a, b), atol=1e-6)
    aligned = B.tf_iou_xywh_aligned(a[:, :, None], b[:, None, :])
    np.testing.assert_allclose(aligned.numpy(), B.iou_xywh_aligned(a[:, :, None], b[:, None, :]), atol=1e-12)


def test_tf_iou_works_in_a_graph_with_unknown_shapes_and_has_finite_gradients(tf):
    spec = tf.TensorSpec([None, None, 4], tf.float32)

    @tf.function(input_signature=[spec, spec])
    def iou_and_gradient(a, b):
        with tf.GradientTape() as tape:
            tape.watch(a)
            iou = B.tf_iou_xywh(a, b)
            total = tf.reduce_sum(iou)
        return iou, tape.gradient(total, a)

    a = np.zeros((1, 3, 4), np.float32)  # padding-like empty boxes
    a[0, 1] = [1, 1, 4, 4]
    b = np.array([[[1, 1, 4, 4], [0, 0, 0, 0]]], np.float32)
    iou, gradient = iou_and_gradient(a, b)
    np.testing.assert_allclose(iou.numpy(), B.iou_xywh(a, b), atol=1e-6)
    gradient = gradient.numpy()
    assert np.isfinite(gradient).all()
    assert np.all(gradient[0, 0] == 0)  # an empty box against anything: zero, not NaN


def test_ciou_by_hand(tf):
    identical = B.tf_ciou_xywh_aligned([[0.0, 0.0, 4.0, 2.0]], [[0.0, 0.0, 4.0, 2.0]]).numpy()
    np.testing.assert_allclose(identical, [1.0], atol=1e-6)
    # same shape, centres 2 apart along x: IoU 2/6, enclosing box 6x2 (diagonal^2 40), no aspect term
    shifted = B.tf_ciou_xywh_aligned([[0.0, 0.0, 4.0, 2.0]], [[2.0, 0.0, 4.0, 2.0]]).numpy()
    np.testing.assert_allclose(shifted, [2 / 6 - 4 / 40], atol=1e-6)
    # same centre, 2x2 inside 4x2: IoU 0.5, aspect term v = 4/pi^2 (atan 2 - atan 1)^2, alpha = v / (0.5 + v)
    v = 4 / np.pi ** 2 * (np.arctan(2.0) - np.arctan(1.0)) ** 2
    nested = B.tf_ciou_xywh_aligned([[1.0, 0.0, 2.0, 2.0]], [[0.0, 0.0, 4.0, 2.0]]).numpy()
    np.testing.assert_allclose(nested, [0.5 - v / (0.5 + v) * v], atol=1e-6)


def test_ciou_gradient_is_finite_for_empty_boxes(tf):
    a = tf.Variable([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 2.0, 3.0]])
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(B.tf_ciou_xywh_aligned(a, [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 2.0, 2.0]]))
    assert np.isfinite(tape.gradient(total, a).numpy()).all()
