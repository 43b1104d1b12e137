"""Side by side: lmnet's detectors and Ultralytics YOLOv8n, same data, same size, one scorer, CPU-seconds.

1. Writes lmnet's embedded shapes detection subsets (the example config's: 128x128, train 8,000 images,
   validation 500) as PNG images with YOLO label files and a ``data.yaml``.
2. Trains YOLOv8n from scratch on them in the peer environment (``benchmarks/peer/ultralytics_train.py``
   run by ``--peer-python``; create it with ``benchmarks/peer/setup_env.sh``), recording its validation
   detections every ``--peer-eval-every`` batches.
3. Trains each lmnet run given by ``--lmnet`` through the real trainer, validating every ``TEST_STEPS``.
4. Scores everything with one scorer, :func:`lmnet.metrics.coco.coco_evaluate` (pycocotools), on the same
   500 validation images, and prints mAP@0.5 and mAP@0.5:0.95 against images seen and training
   CPU-seconds (user + system of the training process, all threads, without the evaluations).

A ``--lmnet`` run is ``CONFIG[+CONFIG...][=LABEL]``: a chain of stages, each later stage starting from the
weights of the previous one (``IS_PRETRAIN`` with its last checkpoint); the CPU time and images of all
stages add up. With no ``--lmnet`` the runs of ``default_runs()`` train: the README demo's two stages, and its
float stage alone over whole cosines. ``--peer-python``
may be omitted to train lmnet alone (``--skip-peer``), and ``--peer-records`` reuses the records of an
earlier peer run.

    benchmarks/peer/setup_env.sh .venv-peer
    python -m benchmarks.peer_detection --peer-python .venv-peer/bin/python [--work DIR] [--budget 1200]
        [--lmnet configs/example/object_detection_tiny_float.py=float] [--epochs 10]

Threads: Ultralytics trains on ``cpu_count - 1`` threads, one on 2 cores, so lmnet trains on one thread too
(``--lmnet-threads``, TensorFlow's intra- and inter-op pools), and the peer trains in a second process at the same
time as lmnet (``--sequential`` runs it first): each has a core, and both share the machine alike. The peer's
output goes to ``peer.log`` in ``--work``.

Environment of the peer run: ``YOLO_OFFLINE=1`` (no network), ``YOLO_CONFIG_DIR`` inside ``--work``
(with the font Ultralytics would otherwise download), ``OMP_WAIT_POLICY=PASSIVE`` (no spin-waiting on 2
busy cores).
"""
import argparse
import collections
import json
import os
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image

from benchmarks.common import REPO, RecordingTrainer, cpu_seconds, print_table
from lmnet import builders, config as config_module, experiment
from lmnet.environment import Environment
from lmnet.metrics.coco import coco_evaluate

EXAMPLE_FLOAT = os.path.join(REPO, "configs", "example", "object_detection_tiny_float.py")
EXAMPLE_QUANTIZED = os.path.join(REPO, "configs", "example", "object_detection_tiny.py")


def whole_cosine(steps):
    """Overrides training the float stage over a whole cosine of ``steps`` steps, validated four times."""
    return f"MAX_STEPS={steps}", f"TEST_STEPS={steps // 4}", f"NETWORK.LEARNING_RATE_KWARGS.decay_steps={steps}"


def default_runs():
    """Runs without ``--lmnet``: label -> stages ``(config path, config overrides)``. The README demo's two stages,
    and its float stage alone over a whole cosine of 1,900 steps (about 1,150 CPU-seconds single-threaded beside
    the peer) and of 2,300."""
    return {
        "README demo (LMTinyYoloQuantize, 2 stages)": [(EXAMPLE_FLOAT, ()), (EXAMPLE_QUANTIZED, ())],
        "LMTinyYolo float, 1,900-step cosine": [(EXAMPLE_FLOAT, whole_cosine(1900))],
        "LMTinyYolo float, 2,300-step cosine": [(EXAMPLE_FLOAT, whole_cosine(2300))],
    }


THRESHOLDS = (0.5, 0.85, 0.9, 0.95)

#: One validation of a run in this benchmark, lmnet's or the peer's: images seen and training CPU-seconds since the
#: start of the run (all stages; without the validations), and the pycocotools scores AP50 (mAP@0.5) and AP
#: (mAP@0.5:0.95) on the validation images.
DetectionRecord = collections.namedtuple("DetectionRecord", "images cpu ap50 ap")
PEER_SCRIPT = os.path.join(REPO, "benchmarks", "peer", "ultralytics_train.py")


def limit_threads(threads):
    """Runs TensorFlow's intra- and inter-op pools on ``threads`` threads (``0``: its default, one per core)."""
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


# the data -----------------------------------------------------------------------------------------------

def yolo_label_lines(gt_boxes, height, width):
    """YOLO label lines ``class cx cy w h`` (normalised) of ``(x, y, w, h, class)`` rows; padding dropped."""
    lines = []
    for x, y, w, h, class_id in np.asarray(gt_boxes, np.float64).reshape(-1, 5):
        if class_id >= 0:
            lines.append(f"{int(class_id)} {(x + w / 2) / width:.8g} {(y + h / 2) / height:.8g} "
                         f"{w / width:.8g} {h / height:.8g}\n")
    return lines


def write_yolo_dataset(config, out_dir, data_dir):
    """Writes the config's train and validation subsets as ``images/{train,val}`` + ``labels/{train,val}``.

    Returns:
        ``(data_yaml_path, validation_images_folder, validation_dataset)``.
    """
    datasets = {subset: builders.build_dataset(config, data_dir, subset) for subset in ("train", "validation")}
    for subset, split in (("train", "train"), ("validation", "val")):
        dataset = datasets[subset]
        images, labels = os.path.join(out_dir, "images", split), os.path.join(out_dir, "labels", split)
        if os.path.isdir(images) and len(os.listdir(images)) == len(dataset):
            continue  # written by an earlier run (the data is a function of the seed)
        os.makedirs(images, exist_ok=True)
        os.makedirs(labels, exist_ok=True)
        for index in range(len(dataset)):
            image, gt_boxes = dataset[index]
            stem = f"{split}_{index:06d}"
            Image.fromarray(image).save(os.path.join(images, stem + ".png"))
            with open(os.path.join(labels, stem + ".txt"), "w") as stream:
                stream.writelines(yolo_label_lines(gt_boxes, *image.shape[:2]))
    data_yaml = os.path.join(out_dir, "data.yaml")
    with open(data_yaml, "w") as stream:
        names = "".join(f"  {index}: {name}\n" for index, name in enumerate(datasets["train"].classes))
        stream.write(f"path: {os.path.abspath(out_dir)}\ntrain: images/train\nval: images/val\nnames:\n{names}")
    return data_yaml, os.path.join(out_dir, "images", "val"), datasets["validation"]


# the peer -------------------------------------------------------------------------------------------------

def peer_environment(work, python):
    """The peer process's environment: offline, its settings inside ``work``, no OpenMP spin-waiting."""
    settings = os.path.join(work, "yolo_config")
    os.makedirs(os.path.join(settings, "Ultralytics"), exist_ok=True)
    font = os.path.join(settings, "Ultralytics", "Arial.ttf")
    if not os.path.exists(font):  # Ultralytics downloads Arial.ttf for its plots unless it is there
        found = subprocess.run([python, "-c", "import matplotlib, os; print(os.path.join(os.path.dirname("
                                "matplotlib.__file__), 'mpl-data', 'fonts', 'ttf', 'DejaVuSans.ttf'))"],
                               capture_output=True, text=True, check=True)
        shutil.copy(found.stdout.strip(), font)  # matplotlib's own font (the peer environment has matplotlib)
    return dict(os.environ, YOLO_OFFLINE="1", YOLO_CONFIG_DIR=settings, OMP_WAIT_POLICY="PASSIVE")


def start_peer(python, work, data_yaml, val_images, epochs, eval_every):
    """Starts the peer trainer, its output going to ``peer.log`` in ``work``.

    Returns:
        ``(process, records path)``; :func:`finish_peer` waits for it.
    """
    records = os.path.join(work, "yolov8n_records.jsonl")
    command = [python, PEER_SCRIPT, "--data", data_yaml, "--val-images", val_images, "--out", records,
               "--project", os.path.join(work, "ultralytics_runs"), "--epochs", str(epochs),
               "--eval-every", str(eval_every)]
    log_path = os.path.join(work, "peer.log")
    print("peer:", " ".join(command), f"(output: {log_path})", flush=True)
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, env=peer_environment(work, python), stdout=log, stderr=subprocess.STDOUT)
    return process, records


def finish_peer(process, records):
    """Waits for the peer trainer; returns its records path, or exits naming its log when it failed."""
    if process.wait() != 0:
        raise SystemExit(f"the peer trainer failed (exit code {process.returncode}); see "
                         f"{os.path.join(os.path.dirname(records), 'peer.log')}")
    return records


def score_peer(records_path, validation):
    """The peer's records as :data:`DetectionRecord` s, scored by lmnet's scorer."""
    annotations = [validation.annotation(index) for index in range(len(validation))]
    scored = []
    with open(records_path) as stream:
        for line in stream:
            record = json.loads(line)
            rows = np.asarray(record["detections"], np.float64).reshape(-1, 7)
            detections = [rows[rows[:, 0] == index, 1:] for index in range(len(annotations))]
            stats = coco_evaluate(detections, annotations, validation.classes)
            scored.append(DetectionRecord(record["images"], record["cpu"], stats["AP50"], stats["AP"]))
    return scored


# lmnet ----------------------------------------------------------------------------------------------------

class CpuRecordingTrainer(RecordingTrainer):
    """Records a :data:`DetectionRecord` of this stage at every validation in ``detection_records`` (its CPU-seconds
    without the validations), and prints it so that a running benchmark can be read."""

    def run(self):
        self.detection_records, self.evaluation_cpu = [], 0.0
        self.cpu_start = cpu_seconds()
        return super().run()

    def validate(self, step):
        before = cpu_seconds()
        results = super().validate(step)
        record = DetectionRecord(step * self.config.BATCH_SIZE, before - self.cpu_start - self.evaluation_cpu,
                                 results["coco/AP50"], results["coco/AP"])
        self.detection_records.append(record)
        print(f"  step {step}: {record.images:,} images, {record.cpu:.0f} training CPU-s in this stage, "
              f"mAP@0.5 {record.ap50:.3f}, mAP@0.5:0.95 {record.ap:.3f}", flush=True)
        self.evaluation_cpu += cpu_seconds() - before
        return results


def stage_experiment_id(label, index):
    """The experiment id of stage ``index`` (from 0) of the run ``label``: its letters, digits, ``-`` and ``_``."""
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in label.replace("(", "").replace(")", ""))
    return f"{name}-stage{index + 1}"


def train_lmnet_chain(stages, label, environment):
    """Trains the stages ``[(config path, overrides), ...]`` of one run in order; returns its
    :data:`DetectionRecord` s with the images and CPU-seconds of earlier stages added."""
    records, offset_images, offset_cpu, previous = [], 0, 0.0, None
    for index, (path, overrides) in enumerate(stages):
        config = config_module.load(path, overrides=overrides)
        if previous is not None:
            config = config_module.validate(dict(config, IS_PRETRAIN=True, PRETRAIN_DIR=previous.paths.checkpoints,
                                                 PRETRAIN_FILE=os.path.basename(previous.keeper.latest)))
        paths = environment.experiment(stage_experiment_id(label, index))
        experiment.prepare(config, None, paths, recreate=True, log=lambda *_: None)
        trainer = CpuRecordingTrainer(config, paths, environment.data_dir, progress=False, log=lambda *_: None)
        print(f"lmnet: {label}, stage {index + 1}: {os.path.relpath(path, REPO)} ({config.NETWORK_CLASS.__name__}, "
              f"{trainer.max_steps} steps)", flush=True)
        trainer.run()
        records += [record._replace(images=record.images + offset_images, cpu=record.cpu + offset_cpu)
                    for record in trainer.detection_records]
        offset_images, offset_cpu = records[-1].images, records[-1].cpu
        previous = trainer
    return records


# the report -----------------------------------------------------------------------------------------------

def at_budget(records, budget):
    """The last record within ``budget`` CPU-seconds, or ``None``."""
    within = [record for record in records if record.cpu <= budget]
    return within[-1] if within else None


def first_reaching(records, threshold):
    """CPU-seconds of the first record with mAP@0.5 >= ``threshold`` ("—" if none)."""
    reached = [record.cpu for record in records if record.ap50 >= threshold]
    return f"{reached[0]:.0f}" if reached else "—"


def interpolated_ap(records, cpu):
    """Peer's mAP@0.5:0.95 at ``cpu`` CPU-seconds, linear between its records (``None`` outside them)."""
    cpus = [record.cpu for record in records]
    if not records or cpu < cpus[0] or cpu > cpus[-1]:
        return None
    return float(np.interp(cpu, cpus, [record.ap for record in records]))


def report(runs, budget, peer_label):
    """Prints every run's records, then the summary table."""
    for label, records in runs.items():
        print(f"\n{label}")
        print_table(["images seen", "CPU-s", "mAP@0.5", "mAP@0.5:0.95"],
                    [(r.images, f"{r.cpu:.0f}", f"{r.ap50:.4f}", f"{r.ap:.4f}") for r in records])
    peer = runs.get(peer_label, [])
    rows = []
    for label, records in runs.items():
        kept = at_budget(records, budget)
        final = records[-1]
        peer_ap = interpolated_ap(peer, kept.cpu) if kept and label != peer_label else None
        rows.append((label, *(first_reaching(records, threshold) for threshold in THRESHOLDS),
                     f"{kept.ap50:.4f} / {kept.ap:.4f} ({kept.cpu:.0f})" if kept else "—",
                     f"{kept.ap / peer_ap:.2f}" if peer_ap else "—",
                     f"{final.ap50:.4f} / {final.ap:.4f} ({final.cpu:.0f})"))
    print(f"\nSummary (CPU-seconds of training; budget {budget:.0f} CPU-s; ratio = mAP@0.5:0.95 over the peer's at "
          "the same CPU-seconds)")
    print_table(["run", *(f"first >= {t} mAP@0.5" for t in THRESHOLDS), "at budget: mAP@0.5 / 0.5:0.95 (CPU-s)",
                 "ratio to peer", "final (CPU-s)"], rows)


def parse_run(text):
    """``CONFIG[+CONFIG...][=LABEL]`` -> ``(label, [(config path, ()), ...])``."""
    chain, _, label = text.partition("=")
    stages = [os.path.abspath(part) for part in chain.split("+")]
    for path in stages:
        if not os.path.isfile(path):
            raise SystemExit(f"--lmnet: no config file {path}")
    return label or os.path.splitext(os.path.basename(stages[-1]))[0], [(path, ()) for path in stages]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", help="python of the peer environment (benchmarks/peer/setup_env.sh)")
    parser.add_argument("--peer-records", help="reuse this records file of an earlier peer run instead of training")
    parser.add_argument("--skip-peer", action="store_true", help="train lmnet alone")
    parser.add_argument("--peer-only", action="store_true", help="train and score the peer alone")
    parser.add_argument("--lmnet", action="append", help="CONFIG[+CONFIG...][=LABEL] (repeatable)")
    parser.add_argument("--work", default=os.path.join(REPO, "saved", "peer_detection"), help="output folder")
    parser.add_argument("--budget", type=float, default=1200.0, help="CPU-seconds of the summary column")
    parser.add_argument("--epochs", type=int, default=10, help="YOLOv8n epochs of 8,000 images")
    parser.add_argument("--peer-eval-every", type=int, default=125, help="YOLOv8n batches between records")
    parser.add_argument("--lmnet-threads", type=int, default=1,
                        help="TensorFlow threads of lmnet (default 1, as the peer's on 2 cores; 0: one per core)")
    parser.add_argument("--sequential", action="store_true", help="train the peer first, then lmnet")
    args = parser.parse_args()
    if not (args.peer_python or args.peer_records or args.skip_peer):
        parser.error("give --peer-python (see benchmarks/peer/setup_env.sh), --peer-records or --skip-peer")
    os.makedirs(args.work, exist_ok=True)
    limit_threads(args.lmnet_threads)
    environment = Environment(output_dir=os.path.join(args.work, "lmnet"), data_dir=os.path.join(REPO, "dataset"))
    data_yaml, val_images, validation = write_yolo_dataset(config_module.load(EXAMPLE_FLOAT),
                                                           os.path.join(args.work, "data"), environment.data_dir)
    peer = None
    if not (args.skip_peer or args.peer_records):
        peer = start_peer(args.peer_python, args.work, data_yaml, val_images, args.epochs, args.peer_eval_every)
        if args.sequential or args.peer_only:
            finish_peer(*peer)
    runs, lmnet_runs = {}, dict(parse_run(text) for text in args.lmnet) if args.lmnet else default_runs()
    try:
        for label, stages in {} if args.peer_only else lmnet_runs.items():
            runs[label] = train_lmnet_chain(stages, label, environment)
    except BaseException:
        if peer:
            peer[0].kill()
        raise
    peer_label = "YOLOv8n (Ultralytics, from scratch, float)"
    if not args.skip_peer:
        runs = {peer_label: score_peer(finish_peer(*peer) if peer else args.peer_records, validation), **runs}
    report(runs, args.budget, peer_label)


if __name__ == "__main__":
    sys.exit(main())
