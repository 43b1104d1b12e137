"""COCO metrics: coco_evaluate equals pycocotools run directly on JSON files."""
import json

import numpy as np
import pytest

from lmnet.datasets.detection_base import Annotation
from lmnet.metrics.coco import STAT_NAMES, coco_evaluate

pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

CLASSES = ["person", "car", "dog"]


def random_dataset(rng, num_images=40, crowd_rate=0.1):
    """Objects of all COCO area ranges (small < 32^2 <= medium < 96^2 <= large), some crowd, and noisy detections."""
    annotations, detections = [], []
    for _ in range(num_images):
        height, width = int(rng.integers(200, 500)), int(rng.integers(200, 640))
        count = int(rng.integers(0, 6))
        side = rng.choice([12.0, 50.0, 150.0], size=(count, 1)) * rng.uniform(0.6, 1.4, (count, 2))
        xy = rng.uniform(0, 1, (count, 2)) * np.maximum(np.array([width, height]) - side, 1)
        boxes = np.round(np.concatenate([xy, side], axis=1), 1)
        class_ids = rng.integers(0, len(CLASSES), count)
        annotations.append(Annotation(boxes, class_ids, rng.random(count) < crowd_rate, (height, width)))
        rows = []
        for _ in range(int(rng.integers(0, 12))):
            if count and rng.random() < 0.75:
                k = rng.integers(count)
                box = boxes[k] + rng.normal(0, 0.1, 4) * boxes[k, [2, 3, 2, 3]]
                cls = class_ids[k] if rng.random() < 0.85 else rng.integers(len(CLASSES))
            else:
                box = np.concatenate([rng.uniform(0, 1, 2) * [width, height], rng.uniform(5, 120, 2)])
                cls = rng.integers(len(CLASSES))
            box[2:] = np.abs(box[2:]) + 1
            rows.append([*box, cls, round(float(rng.random()), 2)])
        rows.append([0, 0, 0, 0, -1, 0])  # padding
        detections.append(np.asarray(rows, np.float32))
    return annotations, detections


def direct_pycocotools(tmp_path, annotations, detections, image_ids, category_ids):
    """Writes the ground truth and results as COCO JSON files and runs pycocotools on them."""
    images, objects, results = [], [], []
    for image_id, annotation, rows in zip(image_ids, annotations, detections):
        images.append({"id": image_id, "height": annotation.image_size[0], "width": annotation.image_size[1],
                       "file_name": f"{image_id}.jpg"})
        flags = annotation.ignore.tolist()
        for box, cls, crowd in zip(annotation.boxes.tolist(), annotation.class_ids.tolist(), flags):
            objects.append({"id": len(objects) + 1, "image_id": image_id, "category_id": category_ids[cls],
                            "bbox": box, "area": box[2] * box[3], "iscrowd": int(crowd)})
        for x, y, w, h, cls, score in rows.tolist():
            if cls != -1:
                results.append({"image_id": image_id, "category_id": category_ids[int(cls)], "bbox": [x, y, w, h],
                                "score": score})
    gt_path, dt_path = tmp_path / "gt.json", tmp_path / "results.json"
    categories = [{"id": c, "name": n, "supercategory": "thing"} for c, n in zip(category_ids, CLASSES)]
    gt_path.write_text(json.dumps({"images": images, "annotations": objects, "categories": categories}))
    dt_path.write_text(json.dumps(results))
    coco_gt = COCO(str(gt_path))
    evaluator = COCOeval(coco_gt, coco_gt.loadRes(str(dt_path)), iouType="bbox")
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return evaluator.stats


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_pycocotools_on_json_files(tmp_path, seed):
    annotations, detections = random_dataset(np.random.default_rng(seed))
    ours = coco_evaluate(detections, annotations, CLASSES)
    expected = direct_pycocotools(tmp_path, annotations, detections, list(range(1, len(annotations) + 1)),
                                  [1, 2, 3])
    assert list(ours) == list(STAT_NAMES)
    assert [ours[name] for name in STAT_NAMES] == list(expected)  # bit-identical
    assert 0 < ours["AP"] < 1 and ours["APs"] >= 0 and ours["APl"] >= 0


def test_custom_image_and_category_ids(tmp_path):
    annotations, detections = random_dataset(np.random.default_rng(3), num_images=25, crowd_rate=0.3)
    image_ids = [1000 + 7 * i for i in range(len(annotations))]
    category_ids = [1, 18, 5]
    ours = coco_evaluate(detections, annotations, CLASSES, image_ids=image_ids, category_ids=category_ids)
    expected = direct_pycocotools(tmp_path, annotations, detections, image_ids, category_ids)
    assert [ours[name] for name in STAT_NAMES] == list(expected)  # bit-identical


def test_crowd_regions_are_ignored_as_pycocotools_does(tmp_path):
    # One person (normal) and one crowd region. The detection of the person is a TP; the three detections
    # inside the crowd region match it (pycocotools' crowd IoU = intersection / detection area = 1) and
    # are ignored, so precision stays 1 at every IoU threshold: AP = 1 (they would be FPs without the crowd flag).
    annotations = [Annotation([[10, 10, 100, 100], [200, 200, 200, 200]], [0, 0], [False, True], (480, 640))]
    detections = [np.array([[10, 10, 100, 100, 0, 0.5], [210, 210, 50, 50, 0, 0.9], [300, 300, 40, 60, 0, 0.8],
                            [250, 220, 100, 100, 0, 0.7]])]
    ours = coco_evaluate(detections, annotations, CLASSES)
    expected = direct_pycocotools(tmp_path, annotations, detections, [1], [1, 2, 3])
    assert [ours[name] for name in STAT_NAMES] == list(expected)  # bit-identical
    assert ours["AP"] == pytest.approx(1.0)
    not_crowd = [Annotation(annotations[0].boxes, [0, 0], [False, False], (480, 640))]
    assert coco_evaluate(detections, not_crowd, CLASSES)["AP50"] < 0.6


def test_zero_detections(capsys):
    # Only one large object (100 x 100 >= 96^2): AP/AR over "all" and "large" are 0; small and medium have no
    # ground truth and stay -1, as pycocotools' accumulate leaves them.
    annotations = [Annotation([[0, 0, 100, 100]], [1], None, (200, 200)), Annotation(np.zeros((0, 4)), [], None,
                                                                                     (200, 200))]
    empty = [np.zeros((0, 6)), np.array([[0, 0, 0, 0, -1, 0]])]
    stats = coco_evaluate(empty, annotations, CLASSES)
    assert stats == {"AP": 0.0, "AP50": 0.0, "AP75": 0.0, "APs": -1.0, "APm": -1.0, "APl": 0.0,
                     "AR1": 0.0, "AR10": 0.0, "AR100": 0.0, "ARs": -1.0, "ARm": -1.0, "ARl": 0.0}
    assert capsys.readouterr().out == ""


def test_no_ground_truth_at_all_gives_minus_one():
    annotations = [Annotation(np.zeros((0, 4)), [], None, (100, 100))]
    stats = coco_evaluate([np.array([[0, 0, 10, 10, 0, 0.9]])], annotations, CLASSES)
    assert set(stats.values()) == {-1.0}


def test_quiet_unless_summary_requested(capsys):
    annotations, detections = random_dataset(np.random.default_rng(4), num_images=5)
    coco_evaluate(detections, annotations, CLASSES)
    assert capsys.readouterr().out == ""
    coco_evaluate(detections, annotations, CLASSES, print_summary=True)
    out = capsys.readouterr().out
    assert out.count("Average Precision") == 6 and out.count("Average Recall") == 6
    assert "index created" not in out


def test_length_mismatch():
    annotations = [Annotation(np.zeros((0, 4)), [], None, (100, 100))]
    with pytest.raises(ValueError):
        coco_evaluate([], annotations, CLASSES)
    with pytest.raises(ValueError):
        coco_evaluate([np.zeros((0, 6))], annotations, CLASSES, image_ids=[1, 2])
