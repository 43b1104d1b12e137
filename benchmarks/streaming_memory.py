"""Memory and speed of the input pipeline over large generated PASCAL VOC folders, and the sample cache.

Generates random VOC 2007 folders (:func:`lmnet.datasets.voc_writer.generate_dataset`: 96x128 JPEGs with
one to four boxes each) of 1,000 and 20,000 ``trainval`` images (plus a fifth as many ``test`` images),
then, in a fresh subprocess per run, builds ``Pascalvoc2007`` with ``lmnet.builders`` (pre-processor
``ResizeWithGtBoxes``, augmentor ``FlipLeftRight``) and pulls ``--passes`` epochs of
``lmnet.pipeline.train_dataset`` batches, then as many evaluation passes over the ``test`` subset
(``eval_dataset``). Each child reports:

* RSS after importing TensorFlow and lmnet and loading the config, after building the dataset (and
  the growth between), and its peak RSS (``ru_maxrss``) at the end;
* the time to build the dataset, of each training epoch and of each evaluation pass.

Each size runs with the annotations read up front (the default) and with ``lazy_annotations=True``
(``max_boxes=4``, each XML file read when its sample is), unless ``--annotations`` picks one.

Runs without ``DATASET.CACHE_DIR`` measure memory; runs with a fresh cache directory compare the
later epochs / passes (read from the cache; the fastest is reported, to damp the noise of a shared
machine) with the first (which fills it) and with the same passes without cache. Target: peak RSS
of the largest size within 1.5x of the smallest.

    python -m benchmarks.streaming_memory [--sizes 1000 20000] [--cache_sizes 20000] [--batch_size 32]
                                          [--passes 3] [--image_size 96 128] [--work_dir DIR] [--keep_cache]
                                          [--annotations eager lazy]

Generated folders are kept in ``--work_dir`` (default: ``lmnet-streaming-bench`` in the temporary
directory) and reused by later runs.
"""
import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from benchmarks.common import REPO, print_table  # also quiets TensorFlow's logs

RESULT_PREFIX = "STREAMING_RESULT "
EXAMPLE_DETECTION = os.path.join(REPO, "configs", "example", "object_detection.py")


def current_rss_mb():
    """Resident set size of this process now, in MiB (from ``/proc/self/status``)."""
    with open("/proc/self/status", encoding="ascii") as stream:
        for line in stream:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


def peak_rss_mb():
    """Peak resident set size of this process so far, in MiB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare_data(work_dir, num_train, image_size):
    """The ``DATA_DIR`` holding a generated VOC 2007 of ``num_train`` trainval images (generated once)."""
    from lmnet.datasets.voc_writer import generate_dataset

    data_dir = os.path.join(work_dir, f"voc_{num_train}_{image_size[0]}x{image_size[1]}")
    done = os.path.join(data_dir, "COMPLETE")
    if not os.path.exists(done):
        shutil.rmtree(data_dir, ignore_errors=True)
        start = time.perf_counter()
        generate_dataset(data_dir, num_train, num_train // 5, image_size=image_size)
        print(f"generated {num_train} + {num_train // 5} images in {time.perf_counter() - start:.1f} s "
              f"under {data_dir}", flush=True)
        open(done, "w").close()
    return data_dir


def bench_config(batch_size, input_size, cache_dir, lazy=False):
    """The example detection config turned to ``Pascalvoc2007`` with a resize and a flip (lazy annotations
    with ``max_boxes=4`` when ``lazy``)."""
    from lmnet import config as config_module
    from lmnet.data_augmentor import FlipLeftRight
    from lmnet.datasets.pascalvoc_2007 import Pascalvoc2007
    from lmnet.pre_processor import ResizeWithGtBoxes

    raw = dict(config_module.load(EXAMPLE_DETECTION))
    options = {"lazy_annotations": True, "max_boxes": 4} if lazy else {}
    dataset = dict(raw["DATASET"], PRE_PROCESSOR=ResizeWithGtBoxes(size=list(input_size)), AUGMENTOR=FlipLeftRight(),
                   OPTIONS=options, CACHE_DIR=cache_dir, IMAGE_SIZE=None, BATCH_SIZE=None)
    network = dict(raw["NETWORK"], IMAGE_SIZE=None, BATCH_SIZE=None)
    raw.update(DATASET_CLASS=Pascalvoc2007, CLASSES=None, IMAGE_SIZE=list(input_size), BATCH_SIZE=batch_size,
               PRE_PROCESSOR=None, POST_PROCESSOR=None, DATASET=dataset, NETWORK=network)
    return config_module.validate(raw)


def time_batches(iterator, count):
    """Seconds taken to pull ``count`` batches from ``iterator``."""
    start = time.perf_counter()
    for _ in range(count):
        next(iterator)
    return time.perf_counter() - start


def child(args):
    """One measured run (in its own process); prints the results as one JSON line."""
    from lmnet import builders, pipeline

    config = bench_config(args.batch_size, args.input_size, args.cache_dir, args.lazy)
    result = {"rss_before_mb": current_rss_mb()}
    start = time.perf_counter()
    train = builders.build_dataset(config, args.data_dir, "train")
    result.update(build_s=time.perf_counter() - start, rss_dataset_mb=current_rss_mb(), num_train=len(train))
    processor = builders.build_processor(config, train, training=True)
    steps = math.ceil(len(train) / args.batch_size)
    stream = iter(pipeline.train_dataset(processor, args.batch_size, config.SEED))
    result["epoch_s"] = [time_batches(stream, steps) for _ in range(args.passes)]
    del stream
    validation = builders.build_dataset(config, args.data_dir, "validation")
    evaluation = builders.build_processor(config, validation, training=False)
    batches = math.ceil(len(validation) / args.batch_size)
    result["eval_s"] = [time_batches(iter(pipeline.eval_dataset(evaluation, args.batch_size)), batches)
                        for _ in range(args.passes)]
    result.update(num_validation=len(validation), peak_rss_mb=peak_rss_mb())
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def run_child(data_dir, cache_dir, args, lazy=False):
    """Runs :func:`child` in a fresh interpreter and returns its result dict."""
    command = [sys.executable, "-m", "benchmarks.streaming_memory", "--child", "--data_dir", data_dir,
               "--batch_size", str(args.batch_size), "--input_size", *map(str, args.input_size),
               "--passes", str(args.passes)] + (["--lazy"] if lazy else [])
    if cache_dir:
        command += ["--cache_dir", cache_dir]
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    lines = [line for line in completed.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if completed.returncode or not lines:
        raise RuntimeError(f"benchmark child failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
    return json.loads(lines[-1][len(RESULT_PREFIX):])


def memory_rows(results, mode):
    """Rows of the memory table for one annotation ``mode``, the last one the ratio of the largest size to the
    smallest."""
    rows = [(mode, size, r["num_train"], f"{r['rss_before_mb']:.0f}", f"{r['rss_dataset_mb']:.0f}",
             f"{r['rss_dataset_mb'] - r['rss_before_mb']:.1f}", f"{r['peak_rss_mb']:.0f}", f"{r['build_s']:.2f}",
             f"{r['epoch_s'][0]:.1f}", f"{r['num_train'] / r['epoch_s'][0]:.0f}") for size, r in results.items()]
    small, large = results[min(results)], results[max(results)]
    rows.append((mode, f"ratio {max(results)}/{min(results)}", "", "", "",
                 "", f"{large['peak_rss_mb'] / small['peak_rss_mb']:.2f}x", "", "", ""))
    return rows


def cache_rows(plain, cached):
    """Rows comparing epochs and evaluation passes without cache, filling it and reading it."""
    rows = []
    for size, with_cache in cached.items():
        without = plain[size]
        for name, key in (("train epoch", "epoch_s"), ("eval pass", "eval_s")):
            plain_later, cached_later = min(without[key][1:]), min(with_cache[key][1:])
            rows.append((size, name, f"{without[key][0]:.2f}", f"{plain_later:.2f}", f"{with_cache[key][0]:.2f}",
                         f"{cached_later:.2f}", f"{plain_later / cached_later:.2f}x"))
    return rows


def main():
    """Generates the data sets, runs the children and prints the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 20000])
    parser.add_argument("--cache_sizes", type=int, nargs="*", default=[20000],
                        help="sizes also run with DATASET.CACHE_DIR (must be among --sizes)")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--passes", type=int, default=3, help="training epochs and evaluation passes per run (>= 2)")
    parser.add_argument("--image_size", type=int, nargs=2, default=[96, 128], help="generated images (h w)")
    parser.add_argument("--input_size", type=int, nargs=2, default=[64, 64], help="network input (h w)")
    parser.add_argument("--work_dir", default=os.path.join(tempfile.gettempdir(), "lmnet-streaming-bench"))
    parser.add_argument("--keep_cache", action="store_true", help="keep the cache directories afterwards")
    parser.add_argument("--annotations", nargs="+", choices=("eager", "lazy"), default=["eager", "lazy"],
                        help="how the annotations are read (memory table)")
    parser.add_argument("--lazy", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data_dir", help=argparse.SUPPRESS)
    parser.add_argument("--cache_dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.passes < 2:
        parser.error("--passes must be at least 2")
    if args.child:
        child(args)
        return
    os.makedirs(args.work_dir, exist_ok=True)
    data_dirs = {size: prepare_data(args.work_dir, size, args.image_size) for size in sorted(args.sizes)}
    runs = {mode: {size: run_child(data_dir, None, args, lazy=mode == "lazy") for size, data_dir in data_dirs.items()}
            for mode in args.annotations}
    plain = runs[args.annotations[0]]
    cached = {}
    for size in sorted(set(args.cache_sizes) & set(data_dirs)):
        cache_dir = tempfile.mkdtemp(prefix=f"cache_{size}_", dir=args.work_dir)
        try:
            cached[size] = run_child(data_dirs[size], cache_dir, args, lazy=args.annotations[0] == "lazy")
        finally:
            if not args.keep_cache:
                shutil.rmtree(cache_dir, ignore_errors=True)
    print(f"\nPascalvoc2007, {args.image_size[0]}x{args.image_size[1]} JPEGs resized to "
          f"{args.input_size[0]}x{args.input_size[1]}, batch {args.batch_size}; memory in MiB, no cache")
    print_table(["annotations", "images", "train", "RSS before", "RSS dataset", "dataset growth", "peak RSS",
                 "build s", "epoch s", "images/s"], [row for mode in args.annotations
                                                     for row in memory_rows(runs[mode], mode)])
    if cached:
        print(f"\nDATASET.CACHE_DIR ({args.annotations[0]} annotations): seconds of the first pass and the fastest "
              "later one, without cache and with it "
              "(the first pass fills the cache, the later ones read it)")
        print_table(["images", "what", "no cache 1st", "no cache later", "cache fill", "cache read", "speed-up later"],
                    cache_rows(plain, cached))


if __name__ == "__main__":
    main()
