"""Writes PASCAL VOC folders (the VOCdevkit layout read by :mod:`lmnet.datasets.pascalvoc`).

Used by the tests to write small fixtures and by ``benchmarks/streaming_memory.py`` to generate
large data sets; handy too for turning your own labelled images into VOC form. The layout is::

    <data_dir>/PASCALVOC_<year>/VOCdevkit/VOC<year>/
        Annotations/<image id>.xml
        JPEGImages/<image id>.jpg
        ImageSets/Main/<split>.txt

An object is ``(name, (xmin, ymin, xmax, ymax), difficult)`` in VOC coordinates: 1-based,
inclusive pixel indices. Sizes are ``(height, width)``.
"""
import concurrent.futures
import os

import numpy as np
from PIL import Image, ImageDraw

from lmnet.boxes import xywh_to_voc
from lmnet.datasets.pascalvoc import VOC_CLASSES


def devkit_dir(data_dir, year):
    """The ``VOC<year>`` folder of ``year`` under ``data_dir`` (not created)."""
    return os.path.join(os.fspath(data_dir), f"PASCALVOC_{year}", "VOCdevkit", f"VOC{year}")


def object_xml(name, box, difficult=0):
    """The ``<object>`` element of one object, as text.

    Args:
        name: class name.
        box: ``(xmin, ymin, xmax, ymax)`` in VOC coordinates.
        difficult: the ``<difficult>`` flag (0 or 1).
    """
    xmin, ymin, xmax, ymax = box
    return (f"<object><name>{name}</name><pose>Left</pose><truncated>0</truncated><difficult>{difficult}</difficult>"
            f"<bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>")


def annotation_xml(image_id, objects, size=None):
    """A whole VOC annotation document, as text.

    Args:
        image_id: the image id (its file is ``<image_id>.jpg``).
        objects: ``(name, (xmin, ymin, xmax, ymax), difficult)`` tuples.
        size: ``(height, width)`` written in ``<size>``, or ``None`` to leave ``<size>`` out.
    """
    size_xml = "" if size is None else (f"<size><width>{size[1]}</width><height>{size[0]}</height>"
                                        "<depth>3</depth></size>")
    body = "".join(object_xml(*obj) for obj in objects)
    return (f"<annotation><folder>VOC</folder><filename>{image_id}.jpg</filename>{size_xml}"
            f"<segmented>0</segmented>{body}</annotation>")


def write_annotation(devkit, image_id, text):
    """Writes ``Annotations/<image_id>.xml`` with ``text`` (created folders included)."""
    folder = os.path.join(os.fspath(devkit), "Annotations")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{image_id}.xml"), "w", encoding="utf-8") as stream:
        stream.write(text)


def write_image(devkit, image_id, image, quality=95):
    """Writes the RGB ``uint8`` array ``image`` as ``JPEGImages/<image_id>.jpg``."""
    folder = os.path.join(os.fspath(devkit), "JPEGImages")
    os.makedirs(folder, exist_ok=True)
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(os.path.join(folder, f"{image_id}.jpg"), quality=quality)


def write_sample(devkit, image_id, objects, image=None, size=None, xml=None):
    """Writes the annotation and (when ``image`` is given) the JPEG of one image.

    Args:
        devkit: the ``VOC<year>`` folder.
        image_id: the image id.
        objects: ``(name, (xmin, ymin, xmax, ymax), difficult)`` tuples.
        image: RGB ``uint8`` array, or ``None`` to write no image file.
        size: ``(height, width)`` for ``<size>``; the image's size by default, no ``<size>`` without image.
        xml: the annotation text to write instead of the one built from ``objects``.
    """
    if size is None and image is not None:
        size = np.asarray(image).shape[:2]
    write_annotation(devkit, image_id, xml if xml is not None else annotation_xml(image_id, objects, size))
    if image is not None:
        write_image(devkit, image_id, image)


def write_image_sets(devkit, **splits):
    """Writes ``ImageSets/Main/<split>.txt`` for each ``split=[image ids]``."""
    folder = os.path.join(os.fspath(devkit), "ImageSets", "Main")
    os.makedirs(folder, exist_ok=True)
    for split, ids in splits.items():
        with open(os.path.join(folder, f"{split}.txt"), "w", encoding="utf-8") as stream:
            stream.write("".join(f"{image_id}\n" for image_id in ids))


def random_sample(rng, image_size, max_objects=4, classes=VOC_CLASSES):
    """A random image of filled rectangles on a gradient, with one object per rectangle.

    Args:
        rng: a :class:`numpy.random.Generator`.
        image_size: ``(height, width)``.
        max_objects: objects per image are drawn from ``1..max_objects``.
        classes: class names to draw from.

    Returns:
        ``(image, objects)``: RGB ``uint8`` array and ``(name, VOC box, difficult)`` tuples.
    """
    height, width = image_size
    ramp = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    base = rng.integers(0, 256, 3).astype(np.float32)
    canvas = Image.fromarray(((ramp * 0.5 + base * 0.5) * np.ones((height, 1, 1), np.float32)).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    objects = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        box_w, box_h = int(rng.integers(4, width // 2 + 1)), int(rng.integers(4, height // 2 + 1))
        x0, y0 = int(rng.integers(0, width - box_w + 1)), int(rng.integers(0, height - box_h + 1))
        draw.rectangle([x0, y0, x0 + box_w - 1, y0 + box_h - 1], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        name = classes[int(rng.integers(len(classes)))]
        objects.append((name, xywh_to_voc(x0, y0, box_w, box_h), int(rng.random() < 0.1)))
    return np.asarray(canvas), objects


def _write_random_samples(job):
    """Writes the random samples ``first .. first + count - 1`` of one generation job."""
    devkit, first, count, image_size, seed = job
    for number in range(first, first + count):
        image, objects = random_sample(np.random.default_rng([seed, number]), image_size)
        write_sample(devkit, f"{number:06d}", objects, image=image)


def generate_dataset(data_dir, num_train, num_test=0, year=2007, image_size=(96, 128), seed=0, workers=None):
    """Generates a random VOC year: ``num_train`` images in ``trainval`` and ``num_test`` more in ``test``.

    Image ``k`` (id ``"%06d" % (k + 1)``) is a function of ``(seed, k + 1)`` only, so the same arguments
    always give the same files. Files are written by ``workers`` threads (one per CPU by default; JPEG
    encoding runs outside the GIL).

    Args:
        data_dir: the ``DATA_DIR`` to write under.
        num_train: images listed in ``ImageSets/Main/trainval.txt``.
        num_test: further images listed in ``ImageSets/Main/test.txt``.
        year: the VOC year (folder names).
        image_size: ``(height, width)`` of every image.
        seed: seed of the random content.
        workers: writer threads.

    Returns:
        The ``VOC<year>`` folder.
    """
    devkit = devkit_dir(data_dir, year)
    total = num_train + num_test
    workers = max(1, min(workers or os.cpu_count() or 1, total))
    chunk = max(1, -(-total // (workers * 8)))
    jobs = [(devkit, first, min(chunk, total + 1 - first), tuple(image_size), seed)
            for first in range(1, total + 1, chunk)]
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(_write_random_samples, jobs))
    ids = [f"{number:06d}" for number in range(1, total + 1)]
    write_image_sets(devkit, trainval=ids[:num_train], test=ids[num_train:])
    return devkit
