"""An embedded classification dataset of synthetic shapes, generated on demand.

Every sample is one filled shape (circle, square, triangle, star, cross or diamond) of random size,
position, rotation and colour on a random textured background. Nothing is read from disk and nothing
is downloaded: sample ``i`` of a subset is drawn from ``numpy.random.default_rng([seed, subset_id,
i])``, so it is the same on every machine and every run, and the training and validation subsets
never share a sample. Labels are balanced: sample ``i`` shows class ``i % num_classes``.

Run ``python -m lmnet.datasets.synthetic_shapes OUT_DIR`` to measure the generation speed and write
a few sample PNGs to ``OUT_DIR``.
"""
import argparse
import os
import time

import numpy as np

from lmnet.datasets import shapes_drawing
from lmnet.datasets.base import Dataset
from lmnet.errors import DatasetError

_SUBSET_IDS = {"train": 0, "validation": 1}


def random_center(height, width, reach, rng, inside=0.8):
    """A random shape centre keeping the shape fully or mostly inside the image.

    Args:
        height: image height in pixels.
        width: image width in pixels.
        reach: distance from the centre to the shape's farthest point, in pixels.
        rng: a ``numpy.random.Generator``.
        inside: fraction of ``reach`` kept away from every border (1 keeps the shape fully inside).

    Returns:
        ``(x, y)`` in continuous pixel coordinates.
    """
    margin_x = min(inside * reach, width / 2.0)
    margin_y = min(inside * reach, height / 2.0)
    return (float(rng.uniform(margin_x, width - margin_x)), float(rng.uniform(margin_y, height - margin_y)))


def render_shape_image(shape, image_size, rng, size_range=(0.32, 0.55), supersampling=2, noise_range=(2.0, 10.0)):
    """One image of a single random shape on a random textured background.

    Args:
        shape: one of :data:`lmnet.datasets.shapes_drawing.SHAPES`.
        image_size: ``(height, width)`` in pixels.
        rng: a ``numpy.random.Generator``; the image is a function of its state.
        size_range: range of the shape's equivalent diameter (the diameter of the circle of the same
            area), as a fraction of the image's shorter side. The farthest point of a star or a
            triangle is about 0.78 equivalent diameters from its centre, of a circle 0.5.
        supersampling: anti-aliasing samples per pixel along each axis (1 disables it).
        noise_range: range of the standard deviation of the per-pixel noise added over the finished
            image (background and shape alike).

    Returns:
        ``(image, box)``: RGB ``uint8`` ``(height, width, 3)`` and the ``(x, y, w, h)`` box of the
        shape's pixels.
    """
    height, width = image_size
    canvas = shapes_drawing.textured_background(height, width, rng, noise_range=None)
    size = rng.uniform(*size_range) * min(height, width)
    reach = shapes_drawing.shape_radius(shape) * size
    center = random_center(height, width, reach, rng)
    angle = shapes_drawing.random_angle(shape, rng)
    color = shapes_drawing.contrasting_color(shapes_drawing.region_mean(canvas, center, reach), rng)
    box = shapes_drawing.draw_shape(canvas, shape, center, size, angle, color, supersampling)
    shapes_drawing.add_noise(canvas, rng, rng.uniform(*noise_range))
    return shapes_drawing.to_uint8(canvas), box


class SyntheticShapes(Dataset):
    """Classification of synthetic shapes, generated on demand from a seed (no files).

    Args:
        subset: ``"train"``, ``"validation"`` (or ``"test"``) or ``"train_validation_saving"``.
        data_dir: unused (the data is embedded); accepted like every dataset.
        train_validation_saving_size: number of training samples held out as
            ``train_validation_saving``.
        seed: seed of the samples and of the held-out split.
        image_size: ``(height, width)`` of the images.
        num_train: number of training samples (before holding any out).
        num_validation: number of validation samples.
    """

    classes = list(shapes_drawing.SHAPES)
    extend_dir = None
    layout = "nothing (the samples are generated from the seed)"

    def __init__(self, subset="train", data_dir="dataset", train_validation_saving_size=0, seed=0,
                 image_size=(32, 32), num_train=20000, num_validation=2000):
        self.image_size = (int(image_size[0]), int(image_size[1]))
        if min(self.image_size) < 4:
            raise DatasetError(f"SyntheticShapes: image_size {image_size} is too small; use at least (4, 4)")
        self.num_train = int(num_train)
        self.num_validation = int(num_validation)
        super().__init__(subset=subset, data_dir=data_dir,
                         train_validation_saving_size=train_validation_saving_size, seed=seed)

    def _read_subset(self, subset):
        """Returns the sample indices of ``subset`` and their balanced labels."""
        self._subset_id = _SUBSET_IDS[subset]
        total = self.num_train if subset == "train" else self.num_validation
        indices = np.arange(total)
        return indices, indices % self.num_classes

    def _empty_subset_hint(self, subset):
        """Names the option that set the size of the empty ``subset``."""
        count = self.num_train if subset == "train" else self.num_validation
        return f"DATASET.OPTIONS has num_{subset}={count}"

    def _load_item(self, item):
        """Generates sample ``item`` of the raw training or validation data."""
        rng = np.random.default_rng([int(self.seed), self._subset_id, int(item)])
        image, _ = render_shape_image(self.classes[int(item) % self.num_classes], self.image_size, rng)
        return image


def _time_generation(dataset, count):
    """Seconds per image to generate ``count`` images of ``dataset``."""
    count = min(count, len(dataset))
    start = time.perf_counter()
    for index in range(count):
        dataset[index]
    return (time.perf_counter() - start) / count


def _save_png(image, path, scale):
    """Writes an RGB image as a PNG, enlarged ``scale`` times with nearest-neighbour sampling."""
    from PIL import Image

    Image.fromarray(image.repeat(scale, axis=0).repeat(scale, axis=1)).save(path)


def _contact_sheet(images, columns, gap=2):
    """Tiles equally sized images on a grey sheet, ``columns`` per row."""
    height, width = images[0].shape[:2]
    rows = -(-len(images) // columns)
    sheet = np.full((rows * (height + gap) + gap, columns * (width + gap) + gap, 3), 128, np.uint8)
    for number, image in enumerate(images):
        top, left = gap + (number // columns) * (height + gap), gap + (number % columns) * (width + gap)
        sheet[top:top + height, left:left + width] = image
    return sheet


def write_samples(out_dir, count=24, image_size=(32, 32), seed=0, scale=4):
    """Writes ``count`` training samples and a contact sheet of them as PNGs.

    Args:
        out_dir: folder to write to (created when missing).
        count: number of samples.
        image_size: ``(height, width)`` of the samples.
        seed: dataset seed.
        scale: enlargement factor of the written PNGs.

    Returns:
        The paths written.
    """
    os.makedirs(out_dir, exist_ok=True)
    dataset = SyntheticShapes("train", seed=seed, image_size=image_size, num_train=max(count, 1))
    paths, images = [], []
    for index in range(count):
        image, label = dataset[index]
        images.append(image)
        paths.append(os.path.join(out_dir, f"sample_{index:03d}_{dataset.classes[label]}.png"))
        _save_png(image, paths[-1], scale)
    paths.append(os.path.join(out_dir, "contact_sheet.png"))
    _save_png(_contact_sheet(images, columns=dataset.num_classes), paths[-1], scale)
    return paths


def main(argv=None):
    """Prints the generation time per image and writes sample PNGs (``python -m`` entry point)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="folder for the sample PNGs")
    parser.add_argument("--count", type=int, default=24, help="number of samples written")
    parser.add_argument("--height", type=int, default=32)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=int, default=4, help="enlargement of the written PNGs")
    parser.add_argument("--timing-images", type=int, default=2000, help="images generated to measure speed")
    args = parser.parse_args(argv)
    image_size = (args.height, args.width)
    dataset = SyntheticShapes("train", seed=args.seed, image_size=image_size)
    _time_generation(dataset, 50)
    seconds = _time_generation(dataset, args.timing_images)
    print(f"SyntheticShapes {image_size[0]}x{image_size[1]}: {seconds * 1e3:.3f} ms per image "
          f"({1.0 / seconds:.0f} images/s, {args.timing_images} images)")
    paths = write_samples(args.out_dir, args.count, image_size, args.seed, args.scale)
    print(f"wrote {len(paths)} PNGs to {args.out_dir}")


if __name__ == "__main__":
    main()
