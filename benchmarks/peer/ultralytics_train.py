"""Trains Ultralytics YOLOv8n from scratch and records its validation detections against CPU time.

Runs in the peer environment (``benchmarks/peer/setup_env.sh``), never in lmnet's: it imports torch and
ultralytics and nothing of lmnet. ``benchmarks/peer_detection.py`` starts it and scores what it writes.

Every ``--eval-every`` batches (and after the last one) the weights Ultralytics itself evaluates (its
exponential moving average) predict the validation images, and one JSON line goes to ``--out``::

    {"batches": 500, "images": 8000, "cpu": 180.3, "wall": 101.2,
     "detections": [[image_index, x, y, w, h, class_id, score], ...]}

``cpu`` is this process's user + system CPU time (all threads) spent training, without the time of these
predictions; boxes are ``(x, y, w, h)`` in pixels of the 128x128 validation images (post-processed by
Ultralytics' own NMS: confidence 0.001, IoU 0.7, 300 boxes per image, as its validator does).

    python ultralytics_train.py --data DATA_YAML --val-images DIR --out RECORDS.jsonl [--epochs 10]
"""
import argparse
import glob
import importlib.util
import json
import os
import resource
import time

import numpy as np
import torch
from PIL import Image


def ensure_torchvision_nms():
    """Makes ``import torchvision`` work when its compiled ops cannot load (the CUDA build next to CPU torch).

    Ultralytics' validator imports torchvision, and torchvision registers a fake kernel for
    ``torchvision::nms`` at import, which fails when its ``_C`` library did not load (the only torchvision
    0.28.0 wheel on the package index is a CUDA build). Then this defines ``torchvision::nms`` (and
    ``qnms``, also registered at import) with Ultralytics' own pure-torch NMS as the CPU kernel, which its
    docstring says matches torchvision's, and tells torchvision its ops are there (``torchvision.ops.nms``
    refuses to run otherwise; no other torchvision op is used by detection). Nothing is done when the
    compiled ops load.
    """
    spec = importlib.util.find_spec("torchvision")
    libraries = glob.glob(os.path.join(spec.submodule_search_locations[0], "_C*.so")) if spec else []
    try:
        if libraries:
            torch.ops.load_library(libraries[0])
            return
    except OSError:
        pass
    from ultralytics.utils.nms import TorchNMS
    library = torch.library.Library("torchvision", "DEF")
    for name in ("nms", "qnms"):
        library.define(f"{name}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.impl("nms", lambda boxes, scores, threshold: TorchNMS.nms(boxes, scores, threshold), "CPU")
    ensure_torchvision_nms.library = library  # the definitions live as long as the Library object
    import torchvision.extension
    torchvision.extension._has_ops = lambda: True  # torchvision.ops.nms checks it; nms is defined now


ensure_torchvision_nms()
from ultralytics import YOLO  # noqa: E402
from ultralytics.utils.nms import non_max_suppression  # noqa: E402


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_images(folder):
    """The validation images in file-name order as a float ``[N, 3, H, W]`` tensor in [0, 1] (RGB)."""
    names = sorted(name for name in os.listdir(folder) if name.endswith(".png"))
    arrays = [np.asarray(Image.open(os.path.join(folder, name)).convert("RGB")) for name in names]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255.0


@torch.no_grad()
def predict(model, images, batch=50):
    """Rows ``[image_index, x, y, w, h, class_id, score]`` of ``model`` on ``images``."""
    model.eval()
    rows = []
    for start in range(0, len(images), batch):
        output = model(images[start:start + batch])
        output = output[0] if isinstance(output, (list, tuple)) else output
        for offset, boxes in enumerate(non_max_suppression(output, conf_thres=0.001, iou_thres=0.7, max_det=300)):
            for x1, y1, x2, y2, score, class_id in boxes.tolist():
                rows.append([start + offset, x1, y1, x2 - x1, y2 - y1, int(class_id), score])
    return rows


class Recorder:
    """Ultralytics callbacks that write a record every ``every`` batches, keeping their own time out of ``cpu``."""

    def __init__(self, images, out, every):
        self.images, self.out, self.every = images, out, every
        self.batches, self.excluded = 0, 0.0
        self.start_cpu, self.start_wall = cpu_seconds(), time.perf_counter()

    def on_train_batch_end(self, trainer):
        self.batches += 1
        if self.batches % self.every == 0:
            self.record(trainer)

    def on_train_epoch_end(self, trainer):
        """After the last epoch's last batch (before Ultralytics' final validation, which is not counted)."""
        if trainer.epoch + 1 == trainer.epochs and self.batches % self.every:
            self.record(trainer)

    def record(self, trainer):
        before = cpu_seconds()
        row = {"batches": self.batches, "images": self.batches * trainer.batch_size,
               "cpu": round(before - self.start_cpu - self.excluded, 2),
               "wall": round(time.perf_counter() - self.start_wall, 2),
               "detections": predict(trainer.ema.ema, self.images)}
        with open(self.out, "a") as stream:
            stream.write(json.dumps(row) + "\n")
        trainer.model.train()
        self.excluded += cpu_seconds() - before


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="Ultralytics data.yaml")
    parser.add_argument("--val-images", required=True, help="folder of the validation PNGs (scored by lmnet)")
    parser.add_argument("--out", required=True, help="JSON-lines file of records (replaced)")
    parser.add_argument("--project", required=True, help="folder for Ultralytics' run files")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--eval-every", type=int, default=125, help="batches between records")
    parser.add_argument("--imgsz", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    if os.path.exists(args.out):
        os.remove(args.out)
    recorder = Recorder(load_images(args.val_images), args.out, args.eval_every)
    model = YOLO("yolov8n.yaml")
    model.add_callback("on_train_batch_end", recorder.on_train_batch_end)
    model.add_callback("on_train_epoch_end", recorder.on_train_epoch_end)
    recorder.start_cpu, recorder.start_wall = cpu_seconds(), time.perf_counter()
    model.train(data=args.data, epochs=args.epochs, imgsz=args.imgsz, batch=args.batch, workers=0, device="cpu",
                pretrained=False, amp=False, plots=False, val=False, seed=0, deterministic=True,
                project=args.project, name="yolov8n", exist_ok=True, verbose=False)


if __name__ == "__main__":
    main()
