"""Detection post-processing speed: NumPy NMS against TensorFlow, and VOC mAP over a large set.

Section 1 times :class:`lmnet.post_processor.NMS` — its compiled kernel (``lmnet.nms_kernel``,
Numba) and its NumPy path — on one image of 2,000 boxes × 20 classes (40,000
``(x, y, w, h, class, score)`` rows, as ``FormatYoloV2`` produces them) against
``tf.image.combined_non_max_suppression`` on the same boxes and scores, eager and inside a
``tf.function`` (same IoU threshold, ``max_output_size_per_class`` equal, ``max_total_size`` =
classes × that, no score threshold, ``clip_boxes=False``), and ``NMS.tf_call`` in a
``tf.function``. Target: lmnet's NMS no slower than TensorFlow.

Section 2 times ``lmnet.metrics.voc.voc_evaluate`` over 5,000 images × 20 classes with about
20 ground-truth objects and 100 detections per image.

Times are medians over ``--repeats`` runs after ``--warmup`` runs.

    python -m benchmarks.postprocess [--repeats 50] [--warmup 5]
"""
import argparse
import os
import time

import numpy as np

from benchmarks.common import print_table  # also quiets TensorFlow's logs
from lmnet.boxes import xywh_to_xyxy
from lmnet.nms_kernel import BACKEND_VARIABLE
from lmnet.post_processor import NMS

IMAGE_SIZE = (416, 416)
NUM_CLASSES = 20
NUM_BOXES = 2000
MAX_OUTPUT_SIZE = 100
IOU_THRESHOLD = 0.5
VOC_IMAGES = 5000


def median_ms(function, repeats, warmup):
    """Median wall time of ``function()`` in milliseconds over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000


def with_backend(backend, function, *args):
    """Calls ``function(*args)`` with ``LMNET_NMS_BACKEND`` set to ``backend``."""
    previous = os.environ.get(BACKEND_VARIABLE)
    os.environ[BACKEND_VARIABLE] = backend
    try:
        return function(*args)
    finally:
        if previous is None:
            del os.environ[BACKEND_VARIABLE]
        else:
            os.environ[BACKEND_VARIABLE] = previous


def random_xywh(rng, count, image_size, min_size=10, max_size=150):
    """``[count, 4]`` float32 random boxes inside an image of ``(height, width)``."""
    height, width = image_size
    size = rng.uniform(min_size, max_size, (count, 2))
    size = np.minimum(size, [width, height])
    corner = rng.uniform(0, 1, (count, 2)) * ([width, height] - size)
    return np.concatenate([corner, size], axis=1).astype(np.float32)


def nms_inputs(seed=0):
    """Boxes ``[NUM_BOXES, 4]``, scores ``[NUM_BOXES, NUM_CLASSES]`` and the lmnet rows ``[1, N·C, 6]``."""
    rng = np.random.default_rng(seed)
    boxes = random_xywh(rng, NUM_BOXES, IMAGE_SIZE)
    scores = rng.uniform(0, 1, (NUM_BOXES, NUM_CLASSES)).astype(np.float32)
    rows = np.empty((1, NUM_BOXES, NUM_CLASSES, 6), np.float32)
    rows[0, :, :, :4] = boxes[:, None]
    rows[0, :, :, 4] = np.arange(NUM_CLASSES)
    rows[0, :, :, 5] = scores
    return boxes, scores, rows.reshape(1, -1, 6)


def nms_section(repeats, warmup):
    """Times the NMS implementations and prints their table."""
    import tensorflow as tf

    boxes, scores, rows = nms_inputs()
    processor = NMS([str(c) for c in range(NUM_CLASSES)], IOU_THRESHOLD, MAX_OUTPUT_SIZE)
    yxyx = xywh_to_xyxy(boxes)[:, [1, 0, 3, 2]]
    tf_boxes = tf.constant(yxyx[None, :, None, :])
    tf_scores = tf.constant(scores[None])
    tf_rows = tf.constant(rows)

    def combined():
        return tf.image.combined_non_max_suppression(
            tf_boxes, tf_scores, MAX_OUTPUT_SIZE, MAX_OUTPUT_SIZE * NUM_CLASSES, IOU_THRESHOLD,
            clip_boxes=False)

    combined_graph = tf.function(combined)
    tf_call_graph = tf.function(processor.tf_call)
    ours = with_backend("numba", processor.process, rows)
    assert np.array_equal(ours, with_backend("numpy", processor.process, rows)), "the two NMS paths disagree"
    theirs = combined()
    kept, their_kept = int(np.sum(ours[0, :, 4] >= 0)), int(theirs.valid_detections[0])
    candidates = [
        ("lmnet NMS, compiled kernel (Numba)", lambda: with_backend("numba", processor.process, rows)),
        ("lmnet NMS, NumPy path", lambda: with_backend("numpy", processor.process, rows)),
        ("tf.image.combined_non_max_suppression, eager", lambda: combined().nmsed_boxes.numpy()),
        ("tf.image.combined_non_max_suppression, tf.function", lambda: combined_graph().nmsed_boxes.numpy()),
        ("lmnet NMS.tf_call, tf.function", lambda: tf_call_graph(tf_rows).numpy()),
    ]
    times = [(name, median_ms(function, repeats, warmup)) for name, function in candidates]
    reference = times[0][1]
    print(f"\n## NMS: 1 image, {NUM_BOXES} boxes × {NUM_CLASSES} classes, IoU > {IOU_THRESHOLD}, "
          f"at most {MAX_OUTPUT_SIZE} per class ({kept} kept by lmnet, {their_kept} by TensorFlow)\n")
    print_table(["implementation", "median ms", "× lmnet kernel"],
                [(name, f"{ms:.2f}", f"{ms / reference:.2f}") for name, ms in times])


def voc_data(rng, num_images, num_classes):
    """Random annotations (~20 objects, 5% difficult) and detections (~100 rows) per image."""
    from lmnet.datasets.detection_base import Annotation

    annotations, detections = [], []
    for _ in range(num_images):
        image_size = (int(rng.integers(300, 500)), int(rng.integers(300, 500)))
        count = int(rng.integers(15, 26))
        gt = random_xywh(rng, count, image_size, 8, 200)
        gt_classes = rng.integers(0, num_classes, count)
        annotations.append(Annotation(gt, gt_classes, rng.random(count) < 0.05, image_size))
        hits = rng.integers(0, count, 60)
        jitter = gt[hits] + rng.normal(0, 4, (60, 4)).astype(np.float32)
        boxes = np.concatenate([jitter, random_xywh(rng, 40, image_size, 8, 200)])
        classes = np.concatenate([np.where(rng.random(60) < 0.8, gt_classes[hits], rng.integers(0, num_classes, 60)),
                                  rng.integers(0, num_classes, 40)])
        scores = np.concatenate([rng.uniform(0.3, 1, 60), rng.uniform(0, 0.7, 40)])
        detections.append(np.column_stack([boxes, classes, scores]).astype(np.float32))
    return detections, annotations


def voc_section(repeats):
    """Times VOC mAP over ``VOC_IMAGES`` images and prints its table (or that the module is missing)."""
    print(f"\n## VOC mAP: {VOC_IMAGES} images × {NUM_CLASSES} classes\n")
    try:
        from lmnet.metrics.voc import voc_evaluate
    except ImportError:
        print("lmnet.metrics.voc not available")
        return
    detections, annotations = voc_data(np.random.default_rng(1), VOC_IMAGES, NUM_CLASSES)
    result = {}

    def evaluate(use_07_metric):
        result[use_07_metric] = voc_evaluate(detections, annotations, NUM_CLASSES, use_07_metric=use_07_metric)

    rows = []
    for use_07_metric, name in ((False, "all-point (VOC2010+)"), (True, "11-point (VOC2007)")):
        ms = median_ms(lambda: evaluate(use_07_metric), repeats, 1)
        rows.append((name, sum(len(a) for a in annotations), sum(len(d) for d in detections), f"{ms:.0f}",
                     f"{result[use_07_metric]['map']:.4f}"))
    print_table(["AP", "objects", "detections", "median ms", "mAP"], rows)


def main():
    """Runs both sections."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="timed runs of each NMS (VOC: a fifth, at least 3)")
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    nms_section(args.repeats, args.warmup)
    voc_section(max(3, args.repeats // 10))


if __name__ == "__main__":
    main()
