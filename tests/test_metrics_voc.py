"""PASCAL VOC AP: hand-worked cases, a loop-based reference implementation and the DetectionMetrics accumulator."""
import math

import numpy as np
import pytest

from lmnet.datasets.detection_base import Annotation
from lmnet.metrics.detection import DetectionMetrics
from lmnet.metrics.voc import average_precision, voc_evaluate, voc_summary


def ann(boxes, class_ids, difficult=None, size=(100, 100)):
    return Annotation(np.asarray(boxes, np.float32).reshape(-1, 4), class_ids, difficult, size)


def dets(*rows):
    return np.asarray(rows, np.float64).reshape(-1, 6)


def test_perfect_detector_has_ap_one():
    annotations = [ann([[0, 0, 10, 10], [20, 20, 30, 40]], [0, 1]), ann([[5, 5, 50, 50]], [0])]
    detections = [dets([0, 0, 10, 10, 0, 0.9], [20, 20, 30, 40, 1, 0.8]), dets([5, 5, 50, 50, 0, 0.7])]
    for use_07 in (False, True):
        result = voc_evaluate(detections, annotations, 2, use_07_metric=use_07)
        # 11-point sums p / 11 eleven times, as the devkit does: 1.0000000000000002, hence approx
        assert result["ap"] == pytest.approx([1.0, 1.0], abs=1e-12)
        assert result["map"] == pytest.approx(1.0, abs=1e-12)
        assert result["npos"] == [2, 1]
        assert result["num_detections"] == [2, 1]


def test_padding_rows_are_ignored():
    annotations = [ann([[0, 0, 10, 10]], [0])]
    padded = dets([0, 0, 10, 10, 0, 0.9], [0, 0, 0, 0, -1, 0.0], [50, 50, 10, 10, -1, 0.99])
    result = voc_evaluate([padded], annotations, 1)
    assert result["num_detections"] == [1]
    assert result["ap"] == [1.0]


def test_difficult_objects_are_neither_tp_nor_fp_and_not_counted():
    # One image: object A (normal) and object B (difficult), class 0.
    annotations = [ann([[0, 0, 10, 10], [50, 50, 20, 20]], [0, 0], difficult=[False, True])]
    detections = [dets([50, 50, 20, 20, 0, 0.9],   # on B: ignored -> tp 0, fp 0
                       [0, 0, 10, 10, 0, 0.8],     # on A: TP
                       [80, 0, 10, 10, 0, 0.7])]   # nothing there: FP
    result = voc_evaluate(detections, annotations, 1)
    # npos = 1 (B does not count). cumsum tp = [0, 1, 1], fp = [0, 0, 1]
    # recall = [0, 1, 1]; precision = [0/eps = 0, 1/1, 1/2]
    assert result["npos"] == [1]
    assert result["num_detections"] == [3]
    np.testing.assert_array_equal(result["recall"][0], [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(result["precision"][0], [0.0, 1.0, 0.5])
    # all-point: envelope at recall 1 is 1 -> AP = (1 - 0) * 1 = 1 (had B's detection been FP, AP would be 0.5)
    assert result["ap"] == [1.0]


def test_only_difficult_objects_give_nan():
    annotations = [ann([[0, 0, 10, 10]], [0], difficult=[True])]
    result = voc_evaluate([dets([0, 0, 10, 10, 0, 0.9])], annotations, 1)
    assert result["npos"] == [0]
    assert math.isnan(result["ap"][0]) and math.isnan(result["map"])


def duplicate_case():
    # Image 0: object g0, detected twice; image 1: object g1, detected once.
    annotations = [ann([[0, 0, 10, 10]], [0]), ann([[30, 30, 10, 10]], [0])]
    detections = [dets([0, 0, 10, 10, 0, 0.9], [0, 0, 10, 10, 0, 0.8]), dets([30, 30, 10, 10, 0, 0.7])]
    return detections, annotations


def test_duplicate_detection_is_fp():
    result = voc_evaluate(*duplicate_case(), 1)
    # order 0.9 (TP), 0.8 (duplicate of g0: FP), 0.7 (TP); npos = 2
    # cumsum tp = [1, 1, 2], fp = [0, 1, 1] -> recall [0.5, 0.5, 1], precision [1, 0.5, 2/3]
    np.testing.assert_array_equal(result["recall"][0], [0.5, 0.5, 1.0])
    np.testing.assert_allclose(result["precision"][0], [1.0, 0.5, 2 / 3])
    # all-point: mrec [0, .5, .5, 1, 1], mpre [0, 1, .5, 2/3, 0] -> envelope [1, 1, 2/3, 2/3, 0]
    # recall steps 0->0.5 at precision 1 and 0.5->1 at 2/3: AP = 0.5 * 1 + 0.5 * 2/3 = 5/6
    assert result["ap"][0] == pytest.approx(5 / 6, abs=1e-12)


def test_eleven_point_and_all_point_differ_on_the_same_case():
    all_point = voc_evaluate(*duplicate_case(), 1)["ap"][0]
    eleven = voc_evaluate(*duplicate_case(), 1, use_07_metric=True)["ap"][0]
    # 11-point: t = 0, .1, .2, .3, .4, .5 -> max precision at recall >= t is 1 (6 points);
    # t = .6, .7, .8, .9, 1 -> only recall 1 (precision 2/3) qualifies (5 points).
    # AP = (6 * 1 + 5 * 2/3) / 11 = (28/3) / 11 = 28/33
    assert eleven == pytest.approx(28 / 33, abs=1e-12)
    assert all_point == pytest.approx(5 / 6, abs=1e-12)
    assert eleven != pytest.approx(all_point)


def test_eleven_point_thresholds_are_the_devkit_arange():
    # 3 TPs out of npos = 10, nothing else: recall tops at 3/10 = 0.3 with precision 1.
    # The devkit's np.arange(0, 1.1, 0.1) makes the fourth threshold 0.30000000000000004 > 0.3,
    # so only t = 0, .1, .2 count: AP = 3/11 (not 4/11).
    recall = np.array([0.1, 0.2, 0.3])
    assert average_precision(recall, np.ones(3), use_07_metric=True) == pytest.approx(3 / 11, abs=1e-12)


def test_tied_scores_keep_input_order():
    # Image 0 has no object: its detection is FP. Image 1: one object, detected. Both score 0.5.
    empty = ann(np.zeros((0, 4)), [])
    target = ann([[0, 0, 10, 10]], [0])
    fp_row, tp_row = dets([0, 0, 10, 10, 0, 0.5]), dets([0, 0, 10, 10, 0, 0.5])
    # Input order FP, TP: recall [0, 1], precision [0, 0.5]
    # all-point: mrec [0, 0, 1, 1], envelope [.5, .5, .5, 0]: AP = 1 * 0.5 = 0.5
    first = voc_evaluate([fp_row, tp_row], [empty, target], 1)
    np.testing.assert_array_equal(first["precision"][0], [0.0, 0.5])
    assert first["ap"] == [0.5]
    # Images swapped, so TP comes first: recall [1, 1], precision [1, 0.5]: AP = 1
    second = voc_evaluate([tp_row, fp_row], [target, empty], 1)
    assert second["ap"] == [1.0]


def test_tied_scores_inside_an_image_keep_row_order():
    annotations = [ann([[0, 0, 10, 10]], [0])]
    # miss first, hit second, same score: precision [0, 0.5] -> AP 0.5 (reversed rows: AP 1)
    assert voc_evaluate([dets([60, 60, 10, 10, 0, .3], [0, 0, 10, 10, 0, .3])], annotations, 1)["ap"] == [0.5]
    assert voc_evaluate([dets([0, 0, 10, 10, 0, .3], [60, 60, 10, 10, 0, .3])], annotations, 1)["ap"] == [1.0]


def test_detections_in_images_without_ground_truth_are_fp():
    annotations = [ann([[0, 0, 10, 10]], [0]), ann(np.zeros((0, 4)), [])]
    detections = [dets([0, 0, 10, 10, 0, 0.5]), dets([0, 0, 10, 10, 0, 0.9])]
    result = voc_evaluate(detections, annotations, 1)
    # order: 0.9 in image 1 (no objects: FP), 0.5 TP -> precision [0, 0.5], recall [0, 1] -> AP 0.5
    np.testing.assert_array_equal(result["recall"][0], [0.0, 1.0])
    assert result["ap"] == [0.5]


def test_missing_detections_and_missing_ground_truth():
    annotations = [ann([[0, 0, 10, 10], [20, 20, 10, 10]], [0, 1])]
    detections = [dets([0, 0, 10, 10, 0, 0.9], [40, 40, 10, 10, 2, 0.8])]
    result = voc_evaluate(detections, annotations, 3)
    # class 0: perfect (AP 1); class 1: object but no detection (AP 0); class 2: no object (nan)
    assert result["ap"][:2] == [1.0, 0.0]
    assert math.isnan(result["ap"][2])
    assert result["npos"] == [1, 1, 0]
    assert result["num_detections"] == [1, 0, 1]
    assert result["map"] == 0.5  # (1 + 0) / 2: the nan class is left out
    assert voc_evaluate(detections, annotations, 3, use_07_metric=True)["ap"][1] == 0.0


def test_iou_exactly_at_threshold_is_not_a_match():
    annotations = [ann([[0, 0, 10, 10]], [0])]
    # the half-height box: intersection 10*5 = 50, union 100 + 50 - 50 = 100 -> IoU exactly 0.5
    half = [dets([0, 0, 10, 5, 0, 0.9])]
    assert voc_evaluate(half, annotations, 1, iou_threshold=0.5)["ap"] == [0.0]
    assert voc_evaluate(half, annotations, 1, iou_threshold=0.49)["ap"] == [1.0]
    # 10*6 / 100 = 0.6 > 0.5
    assert voc_evaluate([dets([0, 0, 10, 6, 0, 0.9])], annotations, 1)["ap"] == [1.0]


def test_inclusive_plus_one_rule_matches_the_devkit_on_xml_corners():
    # VOC XML (1-based, inclusive): object xmin=1, ymin=1, xmax=10, ymax=10; detection 3..12 x 1..10.
    gt_xml, det_xml = (1, 1, 10, 10), (3, 1, 12, 10)
    # Devkit on inclusive corners: iw = min(10, 12) - max(1, 3) + 1 = 8, ih = 10 - 1 + 1 = 10,
    # inter = 80, union = 10*10 + 10*10 - 80 = 120 -> IoU 2/3.
    iw = min(gt_xml[2], det_xml[2]) - max(gt_xml[0], det_xml[0]) + 1
    ih = min(gt_xml[3], det_xml[3]) - max(gt_xml[1], det_xml[1]) + 1
    devkit_iou = iw * ih / (100 + 100 - iw * ih)
    assert devkit_iou == pytest.approx(2 / 3)
    # Forgetting the +1: inter = 7 * 9 = 63, union = 81 + 81 - 63 = 99 -> 0.636
    naive_iou = (10 - 3) * (10 - 1) / (81 + 81 - 63)
    assert naive_iou < 0.65 < devkit_iou

    def to_edges(xml):  # x = xmin - 1, w = xmax - xmin + 1
        return [xml[0] - 1, xml[1] - 1, xml[2] - xml[0] + 1, xml[3] - xml[1] + 1]

    annotations = [ann([to_edges(gt_xml)], [0])]
    detections = [dets(to_edges(det_xml) + [0, 0.9])]
    assert voc_evaluate(detections, annotations, 1, iou_threshold=0.65)["ap"] == [1.0]
    assert voc_evaluate(detections, annotations, 1, iou_threshold=0.67)["ap"] == [0.0]


def test_no_fallback_to_second_best_object():
    # Objects A (x 0..10) and B (x 3..13). Detection 1 (x 0..10): IoU 1 with A, 70/130 with B -> takes A.
    # Detection 2 (x 1..11): IoU 90/110 = 0.82 with A, 80/120 = 0.67 with B -> best is A, already taken: FP,
    # although B would have been a match.
    annotations = [ann([[0, 0, 10, 10], [3, 0, 10, 10]], [0, 0])]
    detections = [dets([0, 0, 10, 10, 0, 0.9], [1, 0, 10, 10, 0, 0.8])]
    result = voc_evaluate(detections, annotations, 1)
    np.testing.assert_array_equal(result["recall"][0], [0.5, 0.5])


def test_errors():
    annotations = [ann([[0, 0, 10, 10]], [0])]
    with pytest.raises(ValueError):
        voc_evaluate([dets([0, 0, 10, 10, 3, 0.9])], annotations, 2)
    with pytest.raises(ValueError):
        voc_evaluate([], annotations, 1)


def test_summary_table():
    annotations = [ann([[0, 0, 10, 10]], [0])]
    result = voc_evaluate([dets([0, 0, 10, 10, 0, 0.9])], annotations, 2)
    table = voc_summary(result, ["cat", "dog"])
    assert "| cat | 1.0000 | 1 | 1 |" in table
    assert "| dog | n/a | 0 | 0 |" in table
    assert "**mAP** | 1.0000" in table


# A straightforward, loop-based transcription of the devkit algorithm on 1-based inclusive XML boxes.

def reference_voc(images, num_classes, threshold, use_07):
    """``images``: list of (objects, detections); objects (xml_box, class, difficult), detections (xml_box, class,
    score) with xml boxes (xmin, ymin, xmax, ymax) inclusive. Returns the list of per-class AP (nan: no objects)."""
    aps = []
    for c in range(num_classes):
        records, npos = {}, 0
        for i, (objects, _) in enumerate(images):
            records[i] = [[box, diff, False] for box, cls, diff in objects if cls == c]
            npos += sum(1 for box, cls, diff in objects if cls == c and not diff)
        found = [(score, i, box) for i, (_, detections) in enumerate(images) for box, cls, score in detections
                 if cls == c]
        order = sorted(range(len(found)), key=lambda k: -found[k][0])  # Python's sort is stable
        tp, fp = [], []
        for k in order:
            _, i, box = found[k]
            ovmax, jmax = -math.inf, -1
            for j, (gt, _, _) in enumerate(records[i]):
                iw = min(box[2], gt[2]) - max(box[0], gt[0]) + 1
                ih = min(box[3], gt[3]) - max(box[1], gt[1]) + 1
                if iw > 0 and ih > 0:
                    union = ((box[2] - box[0] + 1) * (box[3] - box[1] + 1) + (gt[2] - gt[0] + 1) * (gt[3] - gt[1] + 1)
                             - iw * ih)
                    if iw * ih / union > ovmax:
                        ovmax, jmax = iw * ih / union, j
            t = f = 0
            if ovmax > threshold:
                if not records[i][jmax][1]:
                    if not records[i][jmax][2]:
                        t, records[i][jmax][2] = 1, True
                    else:
                        f = 1
            else:
                f = 1
            tp.append(t)
            fp.append(f)
        aps.append(reference_ap(tp, fp, npos, use_07))
    return aps


def reference_ap(tp, fp, npos, use_07):
    if npos == 0:
        return math.nan
    rec, prec, ctp, cfp = [], [], 0, 0
    for t, f in zip(tp, fp):
        ctp, cfp = ctp + t, cfp + f
        rec.append(ctp / npos)
        prec.append(ctp / max(ctp + cfp, np.finfo(np.float64).eps))
    if use_07:
        ap = 0.0
        for k in range(11):
            threshold = k * 0.1  # as np.arange(0, 1.1, 0.1)
            ap += max([p for r, p in zip(rec, prec) if r >= threshold], default=0.0) / 11
        return ap
    mrec, mpre = [0.0] + rec + [1.0], [0.0] + prec + [0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum((mrec[i + 1] - mrec[i]) * mpre[i + 1] for i in range(len(mrec) - 1) if mrec[i + 1] != mrec[i])


def random_xml_box(rng, near=None):
    if near is not None and rng.random() < 0.7:
        box = np.array(near) + rng.integers(-4, 5, 4)
    else:
        x, y = rng.integers(1, 60, 2)
        box = np.array([x, y, x + rng.integers(0, 30), y + rng.integers(0, 30)])
    return tuple(int(v) for v in (box[0], box[1], max(box[0], box[2]), max(box[1], box[3])))


def random_case(rng, num_classes):
    images = []
    for _ in range(rng.integers(1, 8)):
        objects = [(random_xml_box(rng), int(rng.integers(num_classes)), bool(rng.random() < 0.2))
                   for _ in range(rng.integers(0, 5))]
        detections = []
        for _ in range(rng.integers(0, 8)):
            source = objects[rng.integers(len(objects))] if objects and rng.random() < 0.8 else None
            box = random_xml_box(rng, None if source is None else source[0])
            cls = source[1] if source is not None and rng.random() < 0.8 else int(rng.integers(num_classes))
            detections.append((box, cls, float(rng.integers(0, 6)) / 5))  # few distinct scores: many ties
        images.append((objects, detections))
    return images


def to_inputs(images):
    def edges(box):
        return [box[0] - 1, box[1] - 1, box[2] - box[0] + 1, box[3] - box[1] + 1]

    annotations = [ann([edges(b) for b, _, _ in objects], [c for _, c, _ in objects], [d for _, _, d in objects])
                   for objects, _ in images]
    detections = [dets(*[edges(b) + [c, s] for b, c, s in detections]) for _, detections in images]
    return detections, annotations


@pytest.mark.parametrize("use_07", [False, True])
@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.75])
def test_matches_loop_reference_on_random_cases(use_07, threshold):
    rng = np.random.default_rng(7)
    for _ in range(150):
        num_classes = int(rng.integers(1, 4))
        images = random_case(rng, num_classes)
        expected = reference_voc(images, num_classes, threshold, use_07)
        result = voc_evaluate(*to_inputs(images), num_classes, threshold, use_07)
        np.testing.assert_allclose(result["ap"], expected, rtol=0, atol=1e-12)
        present = [ap for ap in expected if not math.isnan(ap)]
        if present:
            assert result["map"] == pytest.approx(np.mean(present), abs=1e-12)


def test_array_input_equals_list_input():
    rng = np.random.default_rng(3)
    detections, annotations = to_inputs(random_case(rng, 3))
    width = max(len(d) for d in detections) + 2
    padded = np.zeros((len(detections), width, 6))
    padded[:, :, 4] = -1
    for i, d in enumerate(detections):
        padded[i, :len(d)] = d
    np.testing.assert_array_equal(voc_evaluate(padded, annotations, 3)["ap"],
                                  voc_evaluate(detections, annotations, 3)["ap"])


class StubDataset:
    classes = ["a", "b"]

    def __init__(self, annotations):
        self.annotations = annotations

    def __len__(self):
        return len(self.annotations)

    def annotation(self, index):
        return self.annotations[index]


class DoubleBoxes:
    """A post-processor stand-in: the network 'outputs' are half-size boxes."""

    def __call__(self, outputs):
        return {"outputs": outputs * np.array([2, 2, 2, 2, 1, 1])}


def test_detection_metrics_accumulates_batches():
    rng = np.random.default_rng(5)
    detections, annotations = to_inputs(random_case(rng, 2) + random_case(rng, 2))
    width = max(len(d) for d in detections) + 1
    padded = np.zeros((len(detections), width, 6))
    padded[:, :, 4] = -1
    for i, d in enumerate(detections):
        padded[i, :len(d)] = d
    metrics = DetectionMetrics(StubDataset(annotations), post_processor=DoubleBoxes())
    for start in range(0, len(padded), 3):
        metrics.update(None, padded[start:start + 3] / np.array([2, 2, 2, 2, 1, 1]))
    result = metrics.result()
    expected = voc_evaluate(detections, annotations, 2)
    assert result["mAP@0.5"] == pytest.approx(expected["map"], nan_ok=True)
    assert result["mAP@0.75"] == pytest.approx(voc_evaluate(detections, annotations, 2, 0.75)["map"], nan_ok=True)
    assert result["mAP@0.5_voc07"] == pytest.approx(voc_evaluate(detections, annotations, 2, 0.5, True)["map"],
                                                    nan_ok=True)
    assert {"coco/AP", "coco/AP50", "coco/ARl"} <= set(result)
    assert len([key for key in result if key.startswith("coco/")]) == 12
    np.testing.assert_allclose(list(metrics.per_class_ap.values()), expected["ap"])
    assert "| a |" in metrics.summary()


def test_detection_metrics_rescales_and_checks_length():
    annotations = [ann([[0, 0, 100, 50]], [0], size=(200, 400))]
    metrics = DetectionMetrics(StubDataset(annotations), input_size=(100, 100), use_coco=False)
    metrics.update(None, np.array([[[0, 0, 25, 25, 0, 0.9]]]))  # x4 in x, x2 in y -> (0, 0, 100, 50)
    assert metrics.result() == pytest.approx({"mAP@0.5": 1.0, "mAP@0.75": 1.0, "mAP@0.5_voc07": 1.0}, abs=1e-12)
    with pytest.raises(ValueError):
        metrics.update(None, np.array([[[0, 0, 25, 25, 0, 0.9]]]))


def test_detection_metrics_without_dataset_reads_targets():
    metrics = DetectionMetrics(None, classes=["a"], use_coco=False)
    targets = np.array([[[0, 0, 10, 10, 0], [0, 0, 0, 0, -1]]], np.float32)
    metrics.update(targets, np.array([[[0, 0, 10, 10, 0, 0.9]]]))
    assert metrics.result()["mAP@0.5"] == 1.0
