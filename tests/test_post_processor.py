"""Tests of the detection post-processors: FormatYoloV2, ExcludeLowScoreBox and NMS."""
import math

import numpy as np
import pytest
import tensorflow as tf
import yaml

from lmnet.data_processor import Sequence, processor_from_dict
from lmnet.post_processor import NMS, PADDING_ROW, ExcludeLowScoreBox, FormatYoloV2, padding_rows, valid_boxes

CLASSES = ["a", "b", "c"]
ANCHORS = [(1.0, 1.5), (2.5, 0.75)]


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


# --- FormatYoloV2 ------------------------------------------------------------------------------

def test_format_yolo_v2_one_cell_one_anchor_exact():
    # Upstream's order: logits (0, ln 3) → (1/4, 3/4); to = 0 → σ = 1/2; tx = 0 → σ = 1/2; ty = ln 3 → σ = 3/4;
    # tw = ln 2; th = 0.
    raw = np.array([[[[0.0, math.log(3), 0.0, 0.0, math.log(3), math.log(2), 0.0]]]], np.float32)
    processor = FormatYoloV2(image_size=(32, 64), classes=["x", "y"], anchors=[(1.5, 0.5)])
    out = processor(outputs=raw, other="kept")
    assert out["other"] == "kept"
    boxes = out["outputs"]
    assert boxes.shape == (1, 2, 6) and boxes.dtype == np.float32
    # cx = 0.5·64 = 32, cy = 0.75·32 = 24, w = 1.5·2·64 = 192, h = 0.5·32 = 16.
    expected = [[32 - 96, 24 - 8, 192, 16, 0, 0.5 * 0.25], [32 - 96, 24 - 8, 192, 16, 1, 0.5 * 0.75]]
    np.testing.assert_allclose(boxes[0], expected, rtol=1e-6, atol=1e-6)


def test_format_yolo_v2_row_order_and_math():
    rng = np.random.default_rng(0)
    grid_h, grid_w, num_anchors, num_classes = 2, 3, len(ANCHORS), len(CLASSES)
    raw = rng.normal(size=(2, grid_h, grid_w, num_anchors * (5 + num_classes))).astype(np.float32)
    boxes = FormatYoloV2((64, 96), CLASSES, ANCHORS).process(raw)
    assert boxes.shape == (2, grid_h * grid_w * num_anchors * num_classes, 6)
    for image, row, col, anchor, cls in [(0, 0, 0, 0, 0), (1, 1, 2, 1, 2), (0, 1, 0, 1, 1), (1, 0, 1, 0, 2)]:
        t = raw[image, row, col, anchor * (5 + num_classes):(anchor + 1) * (5 + num_classes)].astype(np.float64)
        logits, (to, tx, ty, tw, th) = t[:num_classes], t[num_classes:]  # upstream Blueoil's order
        aw, ah = ANCHORS[anchor]
        cx, cy = (col + sigmoid(tx)) / grid_w * 96, (row + sigmoid(ty)) / grid_h * 64
        w, h = aw * math.exp(tw) / grid_w * 96, ah * math.exp(th) / grid_h * 64
        softmax = np.exp(logits) / np.exp(logits).sum()
        expected = [cx - w / 2, cy - h / 2, w, h, cls, sigmoid(to) * softmax[cls]]
        index = ((row * grid_w + col) * num_anchors + anchor) * num_classes + cls
        np.testing.assert_allclose(boxes[image, index], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
def test_format_yolo_v2_numpy_matches_tensorflow(data_format):
    rng = np.random.default_rng(1)
    raw = (3 * rng.normal(size=(2, 4, 5, len(ANCHORS) * (5 + len(CLASSES))))).astype(np.float32)
    if data_format == "NCHW":
        raw = raw.transpose(0, 3, 1, 2).copy()
    processor = FormatYoloV2((128, 160), CLASSES, ANCHORS, data_format=data_format)
    expected = processor.process(raw)
    np.testing.assert_allclose(processor.tf_call(raw).numpy(), expected, rtol=1e-5, atol=1e-5)
    graph = tf.function(processor.tf_call, input_signature=[tf.TensorSpec([None] + list(raw.shape[1:]))])
    np.testing.assert_allclose(graph(raw).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_a_centre_margin_widens_the_centre_range_in_both_implementations_and_only_then_is_written():
    raw = np.zeros((1, 1, 1, 7), np.float32)
    raw[..., 3:5] = [30.0, -30.0]  # tx, ty saturate: offsets 1 + m and -m
    processor = FormatYoloV2(image_size=(32, 32), classes=["x", "y"], anchors=[(1.0, 1.0)], centre_margin=0.5)
    np.testing.assert_allclose(processor.process(raw)[0, 0, :4], [32, -32, 32, 32], atol=1e-4)  # centre (48, -16)
    np.testing.assert_allclose(processor.tf_call(raw).numpy(), processor.process(raw), atol=1e-5)
    assert processor.params()["centre_margin"] == 0.5
    assert processor_from_dict(processor.to_dict(), "here") == processor
    assert "centre_margin" not in FormatYoloV2((32, 32), CLASSES, ANCHORS).params()  # upstream's names


def test_format_yolo_v2_checks():
    with pytest.raises(ValueError, match="channels"):
        FormatYoloV2((32, 32), CLASSES, ANCHORS).process(np.zeros((1, 1, 1, 7), np.float32))
    with pytest.raises(ValueError, match="data_format"):
        FormatYoloV2((32, 32), CLASSES, ANCHORS, data_format="HWC")
    with pytest.raises(ValueError, match="anchors"):
        FormatYoloV2((32, 32), CLASSES, [(1.0, 2.0, 3.0)])


# --- ExcludeLowScoreBox ------------------------------------------------------------------------

def test_exclude_low_score_box_semantics():
    boxes = np.array([[[1, 1, 2, 2, 0, 0.1], [2, 2, 3, 3, 1, 0.5], [0, 0, 0, 0, -1, 0], [3, 3, 4, 4, 2, 0.3],
                       [4, 4, 5, 5, 0, 0.29]]], np.float32)
    out = ExcludeLowScoreBox(0.3)(outputs=boxes)["outputs"]
    expected = np.array([[[2, 2, 3, 3, 1, 0.5], [3, 3, 4, 4, 2, 0.3]] + [PADDING_ROW] * 3], np.float32)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(valid_boxes(out[0]), expected[0, :2])
    np.testing.assert_array_equal(ExcludeLowScoreBox(0.3).tf_call(boxes).numpy(), expected)


def test_exclude_low_score_box_numpy_matches_tensorflow():
    rng = np.random.default_rng(2)
    boxes = rng.uniform(0, 1, (3, 50, 6)).astype(np.float32)
    boxes[..., 4] = rng.integers(-1, 3, (3, 50))
    processor = ExcludeLowScoreBox(0.4)
    expected = processor.process(boxes)
    assert expected.shape == boxes.shape
    np.testing.assert_array_equal(tf.function(processor.tf_call)(boxes).numpy(), expected)
    for image in range(3):
        keep = (boxes[image, :, 5] >= 0.4) & (boxes[image, :, 4] >= 0)
        np.testing.assert_array_equal(valid_boxes(expected[image]), boxes[image][keep])


# --- NMS ---------------------------------------------------------------------------------------

@pytest.fixture(params=["numpy", "numba"])
def nms_backend(request, monkeypatch):
    """Runs an NMS test with the NumPy path and with the compiled kernel (lmnet.nms_kernel)."""
    if request.param == "numba":
        pytest.importorskip("numba")
    monkeypatch.setenv("LMNET_NMS_BACKEND", request.param)
    return request.param


def random_boxes(rng, batch, num_boxes, num_classes):
    """Random [batch, num_boxes, 6] rows with duplicates, score ties, tiny and empty boxes, padding."""
    xy = rng.uniform(0, 100, (batch, num_boxes, 2))
    wh = rng.uniform(1, 60, (batch, num_boxes, 2)) * rng.choice([1.0, 1e-3, 0.0], (batch, num_boxes, 1),
                                                                p=[0.85, 0.1, 0.05])
    boxes = np.concatenate([xy, wh, rng.integers(-1, num_classes, (batch, num_boxes, 1)),
                            rng.integers(0, 8, (batch, num_boxes, 1)) / 8], axis=2).astype(np.float32)
    if num_boxes > 1:
        duplicated = rng.integers(0, num_boxes, (batch, num_boxes // 4))
        for image in range(batch):
            boxes[image, duplicated[image]] = boxes[image, rng.integers(0, num_boxes, num_boxes // 4)]
    return boxes


def reference_nms(boxes, num_classes, iou_threshold, max_output_size, per_class=True):
    """``tf.image.non_max_suppression`` per class on one image's rows: ``{class: kept rows in order}``."""
    class_ids = np.rint(boxes[:, 4])
    groups = range(num_classes) if per_class else [None]
    result = {}
    for group in groups:
        mask = (class_ids >= 0) & (class_ids < num_classes) & (class_ids == group if per_class else True)
        index = np.flatnonzero(mask)
        near, far = boxes[index, 0:2], boxes[index, 0:2] + boxes[index, 2:4]
        corners = np.concatenate([near[:, ::-1], far[:, ::-1]], axis=1)
        selected = tf.image.non_max_suppression(corners.reshape(-1, 4), boxes[index, 5], max_output_size,
                                                iou_threshold).numpy()
        result[group] = boxes[index[selected]]
    return result


def check_against_reference(out, boxes, num_classes, iou_threshold, max_output_size, per_class=True):
    for image in range(len(boxes)):
        kept = valid_boxes(out[image])
        assert np.all(out[image, len(kept):] == np.asarray(PADDING_ROW, np.float32))
        assert np.all(np.diff(kept[:, 5]) <= 0), "rows must be sorted by score descending"
        reference = reference_nms(boxes[image], num_classes, iou_threshold, max_output_size, per_class)
        if per_class:
            for cls, rows in reference.items():
                np.testing.assert_array_equal(kept[kept[:, 4] == cls], rows, err_msg=f"image {image} class {cls}")
        else:
            rows = reference[None]
            order = np.argsort(-rows[:, 5], kind="stable")
            np.testing.assert_array_equal(kept, rows[order])
        assert len(kept) == sum(len(rows) for rows in reference.values())


@pytest.mark.parametrize("seed", range(12))
def test_nms_matches_tensorflow_per_class(seed, nms_backend):
    rng = np.random.default_rng(seed)
    num_classes = int(rng.integers(1, 5))
    num_boxes = int(rng.choice([1, 7, 60, 300]))
    iou_threshold = float(rng.choice([0.0, 0.3, 0.5, 0.9, 1.0]))
    max_output_size = int(rng.choice([1, 3, 20, 100]))
    boxes = random_boxes(rng, 2, num_boxes, num_classes)
    processor = NMS([str(i) for i in range(num_classes)], iou_threshold, max_output_size)
    out = processor(outputs=boxes)["outputs"]
    assert out.shape == (2, min(num_boxes, max_output_size * num_classes), 6)
    check_against_reference(out, boxes, num_classes, iou_threshold, max_output_size)
    np.testing.assert_array_equal(processor.tf_call(boxes).numpy(), out)


@pytest.mark.parametrize("seed", range(3))
def test_nms_class_agnostic_matches_tensorflow(seed, nms_backend):
    rng = np.random.default_rng(100 + seed)
    boxes = random_boxes(rng, 2, 200, 3)
    processor = NMS(CLASSES, 0.45, 30, per_class=False)
    out = processor.process(boxes)
    assert out.shape == (2, 30, 6)
    check_against_reference(out, boxes, 3, 0.45, 30, per_class=False)
    np.testing.assert_array_equal(processor.tf_call(boxes).numpy(), out)


@pytest.mark.parametrize("tied_scores", [False, True])
def test_nms_many_boxes_many_blocks(tied_scores, nms_backend):
    # Dense overlapping boxes, ~2,500 per class: most are suppressed, so the NumPy version visits
    # many blocks and sorts a partitioned top (or, when tied scores straddle the cut, everything).
    rng = np.random.default_rng(7)
    boxes = random_boxes(rng, 1, 6000, 2)
    boxes[..., 0:2] = rng.uniform(0, 30, (1, 6000, 2))
    boxes[..., 5] = rng.integers(0, 50, (1, 6000)) / 50 if tied_scores else rng.uniform(0, 1, (1, 6000))
    processor = NMS(["a", "b"], 0.3, 150)
    out = processor.process(boxes)
    check_against_reference(out, boxes, 2, 0.3, 150)
    np.testing.assert_array_equal(tf.function(processor.tf_call)(boxes).numpy(), out)


def test_nms_on_format_yolo_v2_rows(nms_backend):
    # Rows straight from FormatYoloV2 (class = row mod C) are grouped without sorting; same result.
    rng = np.random.default_rng(11)
    raw = (2 * rng.normal(size=(2, 5, 5, len(ANCHORS) * (5 + len(CLASSES))))).astype(np.float32)
    boxes = FormatYoloV2((160, 160), CLASSES, ANCHORS).process(raw)
    processor = NMS(CLASSES, 0.4, 20)
    out = processor.process(boxes)
    check_against_reference(out, boxes, len(CLASSES), 0.4, 20)
    # The general (sorting) path on shuffled rows gives the same boxes (scores here have no ties).
    np.testing.assert_array_equal(processor.process(boxes[:, rng.permutation(boxes.shape[1])]), out)


def test_nms_cyclic_rows_beyond_the_presorted_candidates(nms_backend):
    # FormatYoloV2-style rows (class = row mod C) of dense boxes: most are suppressed, so the kernel
    # uses up the candidates it sorted up front and orders the rest with its heap.
    rng = np.random.default_rng(5)
    boxes = random_boxes(rng, 2, 3 * 700, 3)
    boxes[..., 0:2] = rng.uniform(0, 40, (2, 3 * 700, 2))
    boxes[..., 2:4] = rng.uniform(8, 20, (2, 3 * 700, 2))
    boxes[..., 4] = np.arange(3 * 700) % 3
    boxes[..., 5] = rng.integers(0, 64, (2, 3 * 700)) / 64
    processor = NMS(["a", "b", "c"], 0.2, 40)
    out = processor.process(boxes)
    check_against_reference(out, boxes, 3, 0.2, 40)
    # Suppression, not the output limit, ended every class: all 700 candidates were visited.
    assert all(np.bincount(valid_boxes(image)[:, 4].astype(int), minlength=3).max() < 40 for image in out)


def test_nms_backend_choice_is_checked(monkeypatch):
    monkeypatch.setenv("LMNET_NMS_BACKEND", "cuda")
    with pytest.raises(ValueError, match="LMNET_NMS_BACKEND='cuda': expected one of auto, numba, numpy"):
        NMS(CLASSES, 0.5, 4).process(np.zeros((1, 3, 6), np.float32))


def test_nms_threshold_is_strict_and_ties_keep_lower_index(nms_backend):
    # IoU([0,0,2,1], [0,0,1,1]) = 1/2 exactly: not suppressed at 0.5, suppressed below.
    boxes = np.array([[[0, 0, 2, 1, 0, 0.9], [0, 0, 1, 1, 0, 0.8]]], np.float32)
    assert len(valid_boxes(NMS(["a"], 0.5, 10).process(boxes)[0])) == 2
    assert len(valid_boxes(NMS(["a"], 0.49, 10).process(boxes)[0])) == 1
    tied = np.array([[[0, 0, 1, 1, 0, 0.5], [0, 0, 1, 1.0001, 0, 0.5], [5, 5, 1, 1, 0, 0.5]]], np.float32)
    out = NMS(["a"], 0.5, 10).process(tied)
    np.testing.assert_array_equal(valid_boxes(out[0]), tied[0, [0, 2]])


def test_nms_edge_cases(nms_backend):
    processor = NMS(CLASSES, 0.5, 4)
    assert processor.process(np.zeros((2, 0, 6), np.float32)).shape == (2, 0, 6)
    assert processor.tf_call(np.zeros((2, 0, 6), np.float32)).shape == (2, 0, 6)
    only_padding = padding_rows(5)[None]
    np.testing.assert_array_equal(processor.process(only_padding), only_padding)
    # Class 1 empty; class 0 has more boxes than max_output_size: the 4 best survive.
    boxes = np.array([[[10 * i, 0, 5, 5, 0, i / 10] for i in range(6)] + [[0, 50, 5, 5, 2, 0.35]]], np.float32)
    out = processor.process(boxes)
    assert out.shape == (1, 7, 6)
    np.testing.assert_array_equal(out[0, :5], boxes[0, [5, 4, 6, 3, 2]])
    np.testing.assert_array_equal(out[0, 5:], padding_rows(2))
    np.testing.assert_array_equal(processor.tf_call(boxes).numpy(), out)
    # Scores of -inf and NaN are never selected, as in TensorFlow.
    odd = np.array([[[0, 0, 5, 5, 0, -np.inf], [0, 0, 5, 5, 0, np.nan], [1, 1, 5, 5, 0, 0.1]]], np.float32)
    np.testing.assert_array_equal(valid_boxes(processor.process(odd)[0]), odd[0, 2:])
    np.testing.assert_array_equal(processor.tf_call(odd).numpy(), processor.process(odd))
    with pytest.raises(ValueError, match="iou_threshold"):
        NMS(CLASSES, 1.5, 4)
    with pytest.raises(ValueError, match="max_output_size"):
        NMS(CLASSES, 0.5, 0)
    with pytest.raises(ValueError, match="num_boxes, 6"):
        processor.process(np.zeros((2, 6), np.float32))


# --- serialization and composition ---------------------------------------------------------------

def test_serialization_round_trip():
    sequence = Sequence([FormatYoloV2([64, 96], CLASSES, ANCHORS), ExcludeLowScoreBox(0.05),
                         NMS(CLASSES, 0.5, 100, per_class=False)])
    data = sequence.to_dict()
    assert data[0] == {"FormatYoloV2": {"image_size": [64, 96], "classes": CLASSES,
                                        "anchors": [[1.0, 1.5], [2.5, 0.75]], "data_format": "NHWC",
                                        "num_classes": 3, "boxes_per_cell": 2}}  # upstream's runtimes read the last two
    assert data[2] == {"NMS": {"classes": CLASSES, "iou_threshold": 0.5, "max_output_size": 100,
                               "per_class": False}}
    rebuilt = processor_from_dict(yaml.safe_load(yaml.safe_dump(data)))
    assert rebuilt.processors == sequence.processors
    for processor in sequence.processors:
        assert processor_from_dict(processor.to_dict()) == processor


def test_format_yolo_v2_checks_the_upstream_counts():
    assert FormatYoloV2([64, 96], CLASSES, ANCHORS, num_classes=3, boxes_per_cell=2).params()["num_classes"] == 3
    with pytest.raises(ValueError, match=r"num_classes must equal len\(classes\) \(3\), got 4"):
        FormatYoloV2([64, 96], CLASSES, ANCHORS, num_classes=4)
    with pytest.raises(ValueError, match=r"boxes_per_cell must equal len\(anchors\) \(2\), got 5"):
        FormatYoloV2([64, 96], CLASSES, ANCHORS, boxes_per_cell=5)


def test_sequence_end_to_end():
    rng = np.random.default_rng(3)
    raw = (2 * rng.normal(size=(2, 4, 6, len(ANCHORS) * (5 + len(CLASSES))))).astype(np.float32)
    steps = [FormatYoloV2((128, 192), CLASSES, ANCHORS), ExcludeLowScoreBox(0.1), NMS(CLASSES, 0.5, 10)]
    out = Sequence(steps)(outputs=raw, image_id=7)
    assert out["image_id"] == 7
    boxes = out["outputs"]
    assert boxes.shape == (2, 30, 6)
    decoded = steps[1].process(steps[0].process(raw))
    check_against_reference(boxes, decoded, len(CLASSES), 0.5, 10)
    assert np.all(valid_boxes(boxes[0])[:, 5] >= 0.1) and len(valid_boxes(boxes[0])) > 0

    @tf.function
    def graph(x):
        for step in steps:
            x = step.tf_call(x)
        return x

    expected = graph(raw).numpy()
    np.testing.assert_allclose(boxes, expected, rtol=1e-5, atol=1e-4)
