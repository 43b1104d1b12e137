"""Where a trained detector loses mAP: localisation or classification.

Loads an experiment's checkpoint and, on its validation subset, prints:

* VOC AP at IoU 0.3 and 0.5 with classes and class-agnostic (every detection and ground truth
  counted as one class, after class-agnostic NMS): a large gap means the boxes are found but the
  classes are wrong;
* the confusion matrix of the responsible predictions (the cell and anchor each ground truth is
  assigned to by the loss): ground-truth class against the arg-max class logit;
* the batch mean of each loss term.

    python -m benchmarks.detection_diagnostics -i EXPERIMENT_ID [--restore_path CKPT] [--subset validation]
"""
import argparse

import numpy as np

from benchmarks.common import print_table  # also quiets TensorFlow's logs
from lmnet import builders, experiment, pipeline
from lmnet.datasets.detection_base import Annotation
from lmnet.environment import Environment
from lmnet.metrics.voc import voc_evaluate
from lmnet.post_processor import NMS
from lmnet.evaluation import evaluate


def class_agnostic(detections, annotations, iou_threshold=0.5):
    """Detections and annotations with every class set to 0, detections after class-agnostic NMS."""
    nms = NMS(["object"], iou_threshold, 100)
    merged = []
    for rows in detections:
        rows = np.array(rows, np.float32).reshape(-1, 6)
        rows[:, 4] = 0
        kept = nms.process(rows[None])[0]
        merged.append(kept[kept[:, 4] >= 0])
    return merged, [Annotation(a.boxes, np.zeros_like(a.class_ids), a.ignore, a.image_size) for a in annotations]


def ap_table(metrics, num_classes):
    """Rows of AP with classes and class-agnostic at IoU 0.3 and 0.5."""
    agnostic = class_agnostic(metrics.detections, metrics.annotations)
    rows = []
    for threshold in (0.3, 0.5):
        with_classes = voc_evaluate(metrics.detections, metrics.annotations, num_classes, threshold)["map"]
        without = voc_evaluate(*agnostic, 1, threshold)["map"]
        rows.append((threshold, f"{with_classes:.4f}", f"{without:.4f}"))
    return rows


def responsible_confusion(network, batches, num_classes):
    """Confusion matrix (ground truth × predicted) at the responsible predictions, and the mean loss terms."""
    import tensorflow as tf

    confusion = np.zeros((num_classes, num_classes), np.int64)
    terms, count = {}, 0
    for images, gt_boxes in batches:
        outputs = network.model(images, training=False)
        prediction = network.loss.decode(outputs)
        targets = network.loss.build_targets(gt_boxes, tf.shape(prediction.object_logits)[1:3])
        mask = targets.mask.numpy() > 0
        predicted = tf.argmax(prediction.class_logits, axis=-1).numpy()[mask]
        np.add.at(confusion, (targets.class_ids.numpy()[mask], predicted), 1)
        for name, value in network.loss.terms(gt_boxes, outputs).items():
            terms[name] = terms.get(name, 0.0) + float(tf.reduce_sum(value))
        count += int(images.shape[0])
    return confusion, {name: total / max(count, 1) for name, total in terms.items()}


def main():
    """Prints the three tables for one experiment."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--experiment_id", required=True)
    parser.add_argument("--restore_path", help="checkpoint prefix (default: the newest)")
    parser.add_argument("--subset", default="validation", choices=["train", "validation"])
    args = parser.parse_args()

    def subset_classes(config, data_dir):
        dataset = builders.build_dataset(config, data_dir, args.subset)
        return builders.dataset_classes(config, dataset), dataset

    opened = experiment.open_experiment(Environment.from_env(), args.experiment_id, restore_path=args.restore_path,
                                        classes=subset_classes)
    config, dataset, network = opened.config, opened.dataset, opened.network
    processor = builders.build_processor(config, dataset, training=False)
    metrics = network.create_metrics(dataset)
    evaluate(network, pipeline.eval_dataset(processor, config.BATCH_SIZE), progress=False, source=dataset,
             metrics=metrics)
    classes = list(network.classes)
    print(f"\n## VOC AP on {args.subset} ({len(dataset)} images)\n")
    print_table(["IoU", "mAP (classes)", "AP (class-agnostic)"], ap_table(metrics, len(classes)))
    confusion, terms = responsible_confusion(network, pipeline.eval_dataset(processor, config.BATCH_SIZE),
                                             len(classes))
    accuracy = np.trace(confusion) / max(confusion.sum(), 1)
    print(f"\n## Responsible predictions: class accuracy {accuracy:.3f} (rows: ground truth)\n")
    print_table(["", *classes], [(name, *row) for name, row in zip(classes, confusion.tolist())])
    print("\n## Loss terms (mean per image)\n")
    print_table(["term", "value"], [(name, f"{value:.4f}") for name, value in terms.items()])


if __name__ == "__main__":
    main()
