"""An embedded classification dataset of synthetic shapes, generated on demand.

Every sample is one filled shape (circle, square, triangle, star, cross or diamond) of random size,
position, rotation and colour on a random textured background. Nothing is read from disk and nothing
is downloaded: sample ``i`` of a subset is drawn from ``numpy.random.default_rng([seed, subset_id,
i])``, so it is the same on every machine and every run, and the training and validation subsets
never share a sample. Labels are balanced: sample ``i`` shows class ``i % num_classes``.

Run ``python -m lmnet.datasets.synthetic_shapes OUT_DIR`` to measure the generation speed and write
a few sample PNGs to ``OUT_DIR``.
"""

import numpy as np

from lmnet.datasets import sample_tool, shapes_drawing
from lmnet.datasets.base import Dataset, GeneratedSamples

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


class SyntheticShapes(GeneratedSamples, Dataset):
    """Classification of synthetic shapes, generated on demand from a seed (no files).

    Arguments are those of :class:`lmnet.datasets.base.GeneratedSamples` (default 32x32 images,
    20,000 training and 2,000 validation samples) and :class:`lmnet.datasets.base.Dataset`.
    """

    classes = list(shapes_drawing.SHAPES)
    default_image_size = (32, 32)
    default_num_train = 20000
    default_num_validation = 2000
    min_side = 4

    def _read_subset(self, subset):
        """Returns the sample indices of ``subset`` and their balanced labels."""
        self._subset_id = _SUBSET_IDS[subset]
        indices = np.arange(self.subset_total(subset))
        return indices, indices % self.num_classes

    def _load_item(self, item):
        """Generates sample ``item`` of the raw training or validation data."""
        rng = np.random.default_rng([int(self.seed), self._subset_id, int(item)])
        image, _ = render_shape_image(self.classes[int(item) % self.num_classes], self.image_size, rng)
        return image


def _samples(dataset, count, scale):
    """The first ``count`` training images enlarged, named after their class, one class per sheet column."""
    samples = [dataset[index] for index in range(count)]
    pictures = [sample_tool.enlarge(image, scale) for image, _ in samples]
    names = [f"sample_{index:03d}_{dataset.classes[label]}.png" for index, (_, label) in enumerate(samples)]
    return pictures, names, dataset.num_classes


main = sample_tool.command(SyntheticShapes, _samples, count=24, scale=4, timing_images=2000,
                           description=__doc__.splitlines()[0])


if __name__ == "__main__":
    main()
