"""COCO detection metrics for any detection dataset, through pycocotools' ``COCOeval``.

The ground truth is turned into a COCO ground-truth dict in memory and the detections into a COCO
results list, so the numbers are pycocotools' own. The conversion:

* image ``i`` gets id ``image_ids[i]`` (default ``i + 1``), width and height from
  :attr:`Annotation.image_size <lmnet.datasets.detection_base.Annotation>`;
* class ``c`` becomes category ``category_ids[c]`` (default ``c + 1``) named ``classes[c]``;
* each object becomes an annotation with ids from 1, ``bbox`` = its ``(x, y, w, h)``,
  ``area = w * h`` (so the small/medium/large ranges use box areas; the COCO files store mask
  areas, which only the original annotations have) and ``iscrowd`` = its ``ignore`` flag
  (COCO crowd regions; VOC difficult objects are treated the same way). pycocotools matches a
  detection to a crowd region by ``intersection / detection area`` and neither rewards nor
  penalizes such a match;
* each detection row ``(x, y, w, h, class_id, score)`` (class_id ``-1``: padding, skipped) becomes
  ``{"image_id", "category_id", "bbox", "score"}``.
"""
import contextlib
import io

import numpy as np

from lmnet.boxes import area_xywh
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def pycocotools_available():
    """Whether pycocotools can be imported."""
    try:
        import pycocotools.cocoeval  # noqa: F401
    except ImportError:
        return False
    return True


def coco_evaluate(detections, annotations, classes, image_ids=None, category_ids=None, print_summary=False):
    """The 12 ``COCOeval.stats`` (``iouType="bbox"``, default parameters) of detections over a dataset.

    pycocotools prints while it works; its output is captured and only the summary table is
    printed, when ``print_summary`` is set. ``loadRes`` refuses an empty result list, so without any
    detection the results are given to ``COCOeval`` as an empty COCO object: every statistic is then
    what pycocotools' accumulation gives, 0 where ground truth exists in the area range and -1
    where none does (-1 everywhere for a dataset without objects).

    Args:
        detections: one ``[N_i, 6]`` array per image (or a ``[images, N, 6]`` array), rows
            ``(x, y, w, h, class_id, score)``; class_id ``-1`` rows are padding.
        annotations: one :class:`~lmnet.datasets.detection_base.Annotation` per image, same order.
        classes: class names in class-id order.
        image_ids: COCO image ids, one per image (default ``1, 2, ...``).
        category_ids: COCO category id of each class (default ``class_id + 1``).
        print_summary: print pycocotools' 12-line summary.

    Returns:
        ``{name: value}`` for the names in :data:`STAT_NAMES` (AP, AP50, AP75, APs, APm, APl, AR1,
        AR10, AR100, ARs, ARm, ARl), Python floats.

    Raises:
        ValueError: different numbers of detection arrays, annotations and image ids.
    """
    if len(detections) != len(annotations):
        raise ValueError(f"{len(detections)} detection arrays for {len(annotations)} annotations")
    image_ids = list(range(1, len(annotations) + 1)) if image_ids is None else [int(i) for i in image_ids]
    if len(image_ids) != len(annotations):
        raise ValueError(f"{len(image_ids)} image ids for {len(annotations)} annotations")
    category_ids = list(range(1, len(classes) + 1)) if category_ids is None else [int(c) for c in category_ids]
    ground_truth = coco_ground_truth(annotations, classes, image_ids, category_ids)
    results = coco_results(detections, image_ids, category_ids)
    stats, summary = _run_cocoeval(ground_truth, results)
    if print_summary:
        print(summary, end="")
    return dict(zip(STAT_NAMES, stats))


def coco_ground_truth(annotations, classes, image_ids, category_ids):
    """The COCO ground-truth dict (``images``, ``annotations``, ``categories``) of a dataset.

    Args:
        annotations: one :class:`~lmnet.datasets.detection_base.Annotation` per image.
        classes: class names in class-id order.
        image_ids: COCO image id of each image.
        category_ids: COCO category id of each class.

    Returns:
        A dict that ``pycocotools.coco.COCO`` accepts (see the module docstring for the fields).
    """
    images, objects = [], []
    for image_id, annotation in zip(image_ids, annotations):
        height, width = annotation.image_size
        images.append({"id": image_id, "width": int(width), "height": int(height)})
        for box, class_id, ignore in zip(annotation.boxes, annotation.class_ids, annotation.ignore):
            x, y, w, h = (float(v) for v in box)
            objects.append({"id": len(objects) + 1, "image_id": image_id, "category_id": category_ids[int(class_id)],
                            "bbox": [x, y, w, h], "area": float(area_xywh([x, y, w, h])), "iscrowd": int(bool(ignore))})
    categories = [{"id": category_id, "name": str(name)} for category_id, name in zip(category_ids, classes)]
    return {"images": images, "annotations": objects, "categories": categories}


def coco_results(detections, image_ids, category_ids):
    """The COCO results list (``image_id``, ``category_id``, ``bbox``, ``score``) of per-image detections.

    Args:
        detections: one ``[N_i, 6]`` array per image, rows ``(x, y, w, h, class_id, score)``;
            class_id ``-1`` rows are skipped.
        image_ids: COCO image id of each image.
        category_ids: COCO category id of each class.

    Returns:
        A list of dicts, image by image, in row order.
    """
    results = []
    for image_id, rows in zip(image_ids, detections):
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
        for x, y, w, h, class_id, score in rows[np.rint(rows[:, 4]) != -1].tolist():
            results.append({"image_id": image_id, "category_id": category_ids[int(round(class_id))],
                            "bbox": [x, y, w, h], "score": score})
    return results


def _run_cocoeval(ground_truth, results):
    """Runs ``COCOeval`` quietly; returns the 12 stats as floats and the printed summary."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = _coco_from_dict(COCO, ground_truth)
        coco_dt = coco_gt.loadRes(results) if results else _coco_from_dict(COCO, dict(ground_truth, annotations=[]))
        evaluator = COCOeval(coco_gt, coco_dt, iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):
        evaluator.summarize()
    return [float(value) for value in evaluator.stats], summary.getvalue()


def _coco_from_dict(coco_class, dataset):
    coco = coco_class()
    coco.dataset = dataset
    coco.createIndex()
    return coco
