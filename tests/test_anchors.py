"""Anchors: k-means on the 1 - shape IoU distance recovers known box sizes; BPR and mean best IoU by hand."""
import ast

import numpy as np
import pytest

from lmnet import anchors
from lmnet.errors import DatasetError

#: Three box shapes (w, h) in grid cells, of different sizes and aspect ratios.
KNOWN = np.array([[0.6, 0.9], [1.6, 1.1], [3.2, 4.5]])


def _jittered(rng, per_cluster=300, jitter=0.03):
    """``per_cluster`` boxes around each known size, each side scaled by up to +-``jitter``."""
    sizes = np.repeat(KNOWN, per_cluster, axis=0)
    return sizes * rng.uniform(1 - jitter, 1 + jitter, sizes.shape)


def test_kmeans_recovers_known_sizes_within_5_percent():
    sizes = _jittered(np.random.default_rng(7))
    fitted = anchors.fit_anchors(sizes, 3, seed=0)
    np.testing.assert_allclose(fitted, KNOWN, rtol=0.05)  # sorted by area, as KNOWN is
    assert anchors.mean_best_iou(sizes, fitted) > 0.95


def test_kmeans_is_deterministic_per_seed_and_sorted_by_area():
    sizes = np.random.default_rng(3).uniform(0.2, 5.0, (400, 2))
    first, again = anchors.fit_anchors(sizes, 5, seed=11), anchors.fit_anchors(sizes, 5, seed=11)
    np.testing.assert_array_equal(first, again)
    areas = first[:, 0] * first[:, 1]
    assert np.all(np.diff(areas) > 0)
    # k-means never ends worse than its best k-means++ start: better than five boxes picked at random
    assert anchors.mean_best_iou(sizes, first) > anchors.mean_best_iou(sizes, sizes[:5])


def test_bpr_and_mean_best_iou_on_a_hand_built_case():
    boxes = [[1, 1], [2, 2], [1, 4], [2, 1]]
    anchor_set = [[1, 1], [2, 2]]
    # shape IoU = min(w)·min(h) / (area1 + area2 - that):
    # (1,1): 1 with [1,1].  (2,2): 1 with [2,2].
    # (1,4): with [1,1] 1/(4+1-1) = 1/4, with [2,2] 2/(4+4-2) = 1/3 -> best 1/3.
    # (2,1): with [1,1] 1/(2+1-1) = 1/2, with [2,2] 2/(2+4-2) = 1/2 -> best 1/2 (reaches 0.5).
    np.testing.assert_allclose(anchors.shape_iou(boxes, anchor_set),
                               [[1, 0.25], [0.25, 1], [0.25, 1 / 3], [0.5, 0.5]])
    assert anchors.best_possible_recall(boxes, anchor_set) == 0.75  # IoU >= 0.5: three of four
    assert anchors.best_possible_recall(boxes, anchor_set, iou_threshold=0.6) == 0.5
    assert anchors.mean_best_iou(boxes, anchor_set) == pytest.approx((1 + 1 + 1 / 3 + 1 / 2) / 4)
    measured = anchors.match(boxes, anchor_set)
    assert (measured.bpr, measured.num_boxes, measured.iou_threshold) == (0.75, 4, anchors.BPR_IOU)


def test_box_sizes_in_grid_cells():
    # a 20x10 box of a 100 (high) x 200 (wide) image, on a grid of 4 rows and 8 columns
    np.testing.assert_allclose(anchors.resized_sizes([[20, 10]], [[100, 200]], (4, 8)), [[0.8, 0.4]])
    # at a 64x64 input it is 6.4 x 6.4 pixels
    np.testing.assert_allclose(anchors.resized_sizes([[20, 10]], (100, 200), (64, 64)), [[6.4, 6.4]])


def test_config_line_reads_back_sorted_by_area():
    line = anchors.anchors_line([[3.0, 2.0], [0.51234567, 0.75], [1.5, 1.5]])
    assert line == "NETWORK.ANCHORS = [[0.5123, 0.75], [1.5, 1.5], [3.0, 2.0]]"
    statement = ast.parse(line).body[0]
    assert ast.unparse(statement.targets[0]) == "NETWORK.ANCHORS"
    assert ast.literal_eval(statement.value) == [[0.5123, 0.75], [1.5, 1.5], [3.0, 2.0]]


def test_too_few_distinct_sizes_is_an_error():
    with pytest.raises(DatasetError, match="cannot fit 3 anchors to 2 distinct box sizes"):
        anchors.fit_anchors([[1, 1], [1, 1], [2, 3]], 3)
    with pytest.raises(DatasetError, match="positive, finite"):
        anchors.fit_anchors([[1, 1], [0, 2]], 1)
