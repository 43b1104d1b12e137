"""An embedded object-detection dataset of synthetic shapes, generated on demand.

Every sample shows one to ``max_objects`` filled shapes (circles, squares, triangles and stars) of
random size, position, rotation and colour on a random textured background. Nothing is read from disk
and nothing is downloaded: sample ``i`` of a subset is a function of ``numpy.random.default_rng([seed,
subset_id, i])``, so it is the same on every machine and every run, and the training and validation
subsets never share a sample.

A sample is made in two steps:

* its *scene* (how many objects, their classes, sizes, rotations, positions and exact boxes) is cheap
  and is computed for every sample when the dataset is built, because the detection base class needs
  every :class:`~lmnet.datasets.detection_base.Annotation` up front;
* its *image* (background, colours, noise) is rendered only when the sample is read.

The box of an object is the exact tight box of the pixels :func:`~lmnet.datasets.shapes_drawing.draw_shape`
touches. It is computed from the shape's geometry, without drawing: a pixel is touched when one of its
``supersampling x supersampling`` sample points lies inside the shape, so the box is the pixel box of
the extreme sample points inside the polygon (or circle). The computation is repeated for the shape
grown and shrunk by a hair (:data:`BOUNDARY_MARGIN` pixels); when both agree the box is certain
whatever the rounding of the drawing code, and in the rare case they do not, the box is measured from
the shape's coverage instead.

Objects stay fully inside the image and overlap little: any two boxes have an IoU below ``max_iou``
and at least half of every box is free of the other boxes. Larger objects are drawn first, so smaller
ones are never hidden.

Run ``python -m lmnet.datasets.synthetic_shapes_detection OUT_DIR`` to measure the generation speed and
write a few sample PNGs, with their boxes drawn, to ``OUT_DIR``.
"""
import collections
import functools
import math

import numpy as np

from lmnet.datasets import sample_tool, shapes_drawing
from lmnet.datasets.base import GeneratedSamples
from lmnet.datasets.detection_base import Annotation, DetectionDataset
from lmnet.errors import DatasetError

_SUBSET_IDS = {"train": 0, "validation": 1}

#: Classes of :class:`SyntheticShapesDetection`, in class-id order.
CLASSES = ("circle", "square", "triangle", "star")

#: How far, in pixels, the shape is grown and shrunk to make sure its analytic box does not depend on
#: rounding (the drawing code's float32 rounding moves the outline by well under 1e-4 pixels).
BOUNDARY_MARGIN = 5e-4


class PlacedShape(collections.namedtuple("PlacedShape", "class_id center_x center_y size angle box")):
    """One object of a scene.

    Attributes:
        class_id: index into the dataset's classes.
        center_x: x of the centre, in continuous pixel coordinates.
        center_y: y of the centre.
        size: equivalent diameter in pixels, as :func:`~lmnet.datasets.shapes_drawing.draw_shape` takes it.
        angle: rotation in degrees.
        box: exact ``(x, y, w, h)`` box of the pixels the object touches.
    """

    __slots__ = ()


class Scene(collections.namedtuple("Scene", "appearance_seed objects")):
    """Everything about a sample that is known before rendering it.

    Attributes:
        appearance_seed: seed of the background, colours and noise.
        objects: the :class:`PlacedShape` objects, in drawing order (larger first).
    """

    __slots__ = ()


# Exact boxes -----------------------------------------------------------------------------------


def _line_holds_sample(top, bottom, supersampling):
    """Whether ``[top, bottom]`` holds a sample coordinate ``(m + 0.5) / supersampling``."""
    return math.ceil(supersampling * top - 0.5) <= math.floor(supersampling * bottom - 0.5)


class _PolygonOutline:
    """A polygon in pixel coordinates, cut by horizontal and vertical lines of sample points.

    Args:
        xs: x of the vertices, in order along the outline.
        ys: y of the vertices.
    """

    def __init__(self, xs, ys):
        self._coordinates = (xs, ys)
        self.extents = ((min(xs), max(xs)), (min(ys), max(ys)))

    def holds_sample(self, axis, position, supersampling):
        """Whether the line ``x = position`` (``axis`` 0) or ``y = position`` (``axis`` 1) holds a sample
        point inside the polygon."""
        along, across = self._coordinates[axis], self._coordinates[1 - axis]
        crossings = []
        a1, b1 = along[-1], across[-1]
        for a2, b2 in zip(along, across):
            if (a1 <= position) != (a2 <= position):
                crossings.append(b1 + (position - a1) * (b2 - b1) / (a2 - a1))
            a1, b1 = a2, b2
        if len(crossings) == 2:
            return _line_holds_sample(min(crossings), max(crossings), supersampling)
        crossings.sort()
        for index in range(0, len(crossings), 2):
            if _line_holds_sample(crossings[index], crossings[index + 1], supersampling):
                return True
        return False


class _CircleOutline:
    """A disc in pixel coordinates, cut by horizontal and vertical lines of sample points.

    Args:
        center: ``(x, y)`` of the centre.
        radius: radius in pixels.
    """

    def __init__(self, center, radius):
        self._center, self._radius = center, radius
        self.extents = tuple((value - radius, value + radius) for value in center)

    def holds_sample(self, axis, position, supersampling):
        """Whether the line ``x = position`` (``axis`` 0) or ``y = position`` (``axis`` 1) holds a sample
        point inside the disc."""
        squared = self._radius ** 2 - (position - self._center[axis]) ** 2
        if squared < 0:
            return False
        half, middle = math.sqrt(squared), self._center[1 - axis]
        return _line_holds_sample(middle - half, middle + half, supersampling)


@functools.lru_cache(maxsize=None)
def _unit_outline(shape):
    """``(vertices, inset)`` of a shape of equivalent diameter 1.

    ``vertices`` is a tuple of ``(u, v)`` pairs (empty for the circle); ``inset`` is the smallest
    distance from the centre to the line of an edge (the radius for the circle): scaling the shape
    by ``1 + e`` about its centre moves every edge by at least ``e * inset`` times its size.
    """
    if shape == "circle":
        return (), 0.5
    vertices = shapes_drawing.shape_vertices(shape)
    ends = np.roll(vertices, -1, axis=0)
    cross = vertices[:, 0] * ends[:, 1] - vertices[:, 1] * ends[:, 0]
    inset = float(np.min(np.abs(cross) / np.hypot(*(ends - vertices).T)))
    return tuple((float(u), float(v)) for u, v in vertices), inset


def _rotated_unit_outline(shape, angle):
    """Vertices ``(du, dv)`` of a shape of equivalent diameter 1 rotated by ``angle`` degrees, relative
    to its centre in pixel axes (empty for the circle): a vertex of the shape drawn with size ``s`` at
    ``(cx, cy)`` lies at ``(cx + s du, cy + s dv)``."""
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return [(cos * u - sin * v, sin * u + cos * v) for u, v in _unit_outline(shape)[0]]


def _outline(shape, center_xy, size, rotated):
    """The outline of a shape drawn with ``size`` at ``center_xy``, from its :func:`_rotated_unit_outline`."""
    cx, cy = center_xy
    if shape == "circle":
        return _CircleOutline((cx, cy), 0.5 * size)
    return _PolygonOutline([cx + size * du for du, _ in rotated], [cy + size * dv for _, dv in rotated])


def _extreme_line(outline, axis, supersampling, last):
    """Index ``k`` of the first (or ``last``) line of sample points, at ``(k + 0.5) / supersampling``
    along ``axis``, that holds a sample point inside the outline; ``None`` when none does."""
    low, high = outline.extents[axis]
    first_line, last_line = math.ceil(supersampling * low - 0.5), math.floor(supersampling * high - 0.5)
    lines = range(last_line, first_line - 1, -1) if last else range(first_line, last_line + 1)
    for line in lines:
        if outline.holds_sample(axis, (line + 0.5) / supersampling, supersampling):
            return line
    return None


def _extreme_lines(outline, supersampling):
    """``(first column, first row, last column, last row)`` of sample points inside the outline, or ``None``."""
    lines = tuple(_extreme_line(outline, axis, supersampling, last) for last in (False, True) for axis in (0, 1))
    return None if None in lines else lines


def _inside_canvas(outline, image_size):
    """Whether the outline lies within the ``(height, width)`` canvas."""
    (x_low, x_high), (y_low, y_high) = outline.extents
    return x_low >= 0 and y_low >= 0 and x_high <= image_size[1] and y_high <= image_size[0]


def _analytic_box(shape, center_xy, size, rotated, image_size, supersampling):
    """The exact pixel box of a shape from its geometry, or ``None`` when rounding might change it.

    The sample lines holding the extreme sample points inside the shape grown by
    :data:`BOUNDARY_MARGIN` pixels must also hold sample points inside the shape shrunk by as much.
    """
    change = BOUNDARY_MARGIN / (size * _unit_outline(shape)[1])
    if change >= 0.5:
        return None
    outer = _outline(shape, center_xy, size * (1.0 + change), rotated)
    lines = _extreme_lines(outer, supersampling) if _inside_canvas(outer, image_size) else None
    if lines is None:
        return None
    inner = _outline(shape, center_xy, size * (1.0 - change), rotated)
    for index, line in enumerate(lines):
        if not inner.holds_sample(index % 2, (line + 0.5) / supersampling, supersampling):
            return None
    left, top = lines[0] // supersampling, lines[1] // supersampling
    return (left, top, lines[2] // supersampling + 1 - left, lines[3] // supersampling + 1 - top)


def shape_box(shape, center_xy, size, angle, image_size, supersampling=2):
    """The exact box :func:`~lmnet.datasets.shapes_drawing.draw_shape` returns, from the geometry alone.

    Args:
        shape: one of :data:`lmnet.datasets.shapes_drawing.SHAPES`.
        center_xy: ``(x, y)`` centre in continuous pixel coordinates.
        size: equivalent diameter in pixels.
        angle: rotation in degrees.
        image_size: ``(height, width)`` of the canvas.
        supersampling: samples per pixel along each axis, as given to ``draw_shape``.

    Returns:
        The ``(x, y, w, h)`` box of the pixels the shape touches, clipped to the canvas;
        ``(0, 0, 0, 0)`` when it touches none.
    """
    box = _analytic_box(shape, center_xy, size, _rotated_unit_outline(shape, angle), image_size, supersampling)
    if box is not None:
        return box
    return shapes_drawing.shape_pixel_box(image_size[0], image_size[1], shape, center_xy, size, angle, supersampling)


# Scenes ----------------------------------------------------------------------------------------


def _area(box):
    """Area of an ``(x, y, w, h)`` box."""
    return box[2] * box[3]


def _intersection(box_a, box_b):
    """Area of the intersection of two ``(x, y, w, h)`` boxes."""
    width = min(box_a[0] + box_a[2], box_b[0] + box_b[2]) - max(box_a[0], box_b[0])
    height = min(box_a[1] + box_a[3], box_b[1] + box_b[3]) - max(box_a[1], box_b[1])
    return max(width, 0) * max(height, 0)


def boxes_fit(boxes, max_iou=0.3, max_covered=0.5):
    """Whether a set of boxes overlaps little enough for every object to stay clearly visible.

    Args:
        boxes: ``(x, y, w, h)`` boxes.
        max_iou: every pair's intersection over union must be below this.
        max_covered: the summed intersections of each box with all the others must be at most this
            fraction of its area.

    Returns:
        ``True`` when both conditions hold.
    """
    covered = [0] * len(boxes)
    for first in range(len(boxes)):
        for second in range(first + 1, len(boxes)):
            shared = _intersection(boxes[first], boxes[second])
            if shared >= max_iou * (_area(boxes[first]) + _area(boxes[second]) - shared):
                return False
            covered[first] += shared
            covered[second] += shared
    return all(part <= max_covered * _area(box) for part, box in zip(covered, boxes))


def _random_placement(shape, class_id, image_size, rng, size_range, supersampling):
    """One random object fully inside the image, with its exact box."""
    height, width = image_size
    where_size, where_x, where_y = rng.random(3).tolist()
    size = (size_range[0] + where_size * (size_range[1] - size_range[0])) * min(height, width)
    angle = shapes_drawing.random_angle(shape, rng)
    rotated = _rotated_unit_outline(shape, angle)
    low_x, high_x = (min(du for du, _ in rotated), max(du for du, _ in rotated)) if rotated else (-0.5, 0.5)
    low_y, high_y = (min(dv for _, dv in rotated), max(dv for _, dv in rotated)) if rotated else (-0.5, 0.5)
    center_x = where_x * max(width - size * (high_x - low_x), 0.0) - size * low_x
    center_y = where_y * max(height - size * (high_y - low_y), 0.0) - size * low_y
    box = (_analytic_box(shape, (center_x, center_y), size, rotated, image_size, supersampling)
           or shapes_drawing.shape_pixel_box(height, width, shape, (center_x, center_y), size, angle, supersampling))
    return PlacedShape(class_id, center_x, center_y, size, angle, box)


def random_scene(rng, image_size, classes=CLASSES, max_objects=4, size_range=(0.13, 0.30), max_iou=0.3,
                 max_covered=0.5, tries=20, supersampling=2):
    """The layout of one sample: objects and exact boxes, drawn from ``rng`` without rendering anything.

    The object count is uniform in ``1..max_objects`` and each object's class uniform over
    ``classes``; an object is placed at up to ``tries`` random positions (with a new size and
    rotation each time) until the boxes still satisfy :func:`boxes_fit`, and left out otherwise.

    Args:
        rng: a ``numpy.random.Generator``; the scene is a function of its state.
        image_size: ``(height, width)`` in pixels.
        classes: shape names (from :data:`lmnet.datasets.shapes_drawing.SHAPES`), in class-id order.
        max_objects: largest number of objects.
        size_range: range of an object's equivalent diameter (the diameter of the circle of the same
            area) as a fraction of the image's shorter side; boxes are 0.9 to 1.5 times as wide.
        max_iou: see :func:`boxes_fit`.
        max_covered: see :func:`boxes_fit`.
        tries: placements tried per object.
        supersampling: anti-aliasing samples per pixel along each axis.

    Returns:
        A :class:`Scene` whose objects are sorted by decreasing size (the drawing order).
    """
    appearance_seed = int(rng.integers(2 ** 63))
    placed = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        class_id = int(rng.integers(len(classes)))
        for _ in range(tries):
            candidate = _random_placement(classes[class_id], class_id, image_size, rng, size_range, supersampling)
            if boxes_fit([shape.box for shape in placed] + [candidate.box], max_iou, max_covered):
                placed.append(candidate)
                break
    placed.sort(key=lambda shape: -shape.size)
    return Scene(appearance_seed, tuple(placed))


def _contrasting_color(references, rng, min_distance=110.0, tries=16):
    """A random RGB colour at least ``min_distance`` from every reference colour when one is found.

    Otherwise the candidate farthest from its nearest reference.
    """
    candidates = rng.random((tries, 3), dtype=np.float32)
    candidates *= np.float32(255.0)
    references = np.asarray(references, np.float32).reshape(-1, 3)
    nearest = np.sqrt(np.square(candidates[:, None, :] - references[None, :, :]).sum(axis=-1).min(axis=1))
    far_enough = nearest >= min_distance
    return candidates[int(far_enough.argmax()) if far_enough.any() else int(nearest.argmax())]


def render_scene(scene, image_size, classes=CLASSES, supersampling=2, noise_range=(2.0, 10.0)):
    """Draws a scene: background, shapes and noise, all from the scene's appearance seed.

    Each shape's colour contrasts with the mean colour around it and with the shapes it overlaps.

    Args:
        scene: a :class:`Scene` from :func:`random_scene`.
        image_size: ``(height, width)`` in pixels (the one the scene was made for).
        classes: shape names, in class-id order (the ones the scene was made with).
        supersampling: anti-aliasing samples per pixel along each axis.
        noise_range: range of the standard deviation of the per-pixel noise added over the image.

    Returns:
        ``(image, boxes)``: RGB ``uint8`` ``(height, width, 3)`` and the boxes ``draw_shape`` reported
        for the objects, in order (equal to the scene's boxes).
    """
    height, width = image_size
    rng = np.random.default_rng(scene.appearance_seed)
    canvas = shapes_drawing.textured_background(height, width, rng, noise_range=None)
    colors, boxes = [], []
    for index, shape in enumerate(scene.objects):
        name, center = classes[shape.class_id], (shape.center_x, shape.center_y)
        references = [shapes_drawing.region_mean(canvas, center, shapes_drawing.shape_radius(name) * shape.size)]
        references += [colors[other] for other in range(index)
                       if _intersection(scene.objects[other].box, shape.box) > 0]
        colors.append(_contrasting_color(references, rng))
        boxes.append(shapes_drawing.draw_shape(canvas, name, center, shape.size, shape.angle, colors[-1],
                                               supersampling))
    shapes_drawing.add_noise(canvas, rng, rng.uniform(*noise_range))
    return shapes_drawing.to_uint8(canvas), boxes


def scene_annotation(scene, image_size):
    """The :class:`~lmnet.datasets.detection_base.Annotation` of a scene (nothing ignored)."""
    return Annotation(boxes=[shape.box for shape in scene.objects],
                      class_ids=[shape.class_id for shape in scene.objects], ignore=None,
                      image_size=tuple(image_size))


# Dataset ---------------------------------------------------------------------------------------


class SyntheticShapesDetection(GeneratedSamples, DetectionDataset):
    """Detection of synthetic shapes, generated on demand from a seed (no files).

    Arguments are those of :class:`lmnet.datasets.base.GeneratedSamples` (default 128x128 images, 8,000
    training and 500 validation samples) and :class:`lmnet.datasets.detection_base.DetectionDataset`, and:

    Args:
        max_objects: largest number of objects in one image (at least 1).
        size_range: ``(smallest, largest)`` equivalent diameter of an object as a fraction of the
            image's shorter side (see :func:`random_scene`).
        max_boxes: rows of the padded ground truth; ``None`` takes ``max_objects`` so that every
            subset pads the same way.
        skip_bad_annotations: accepted like every detection dataset (the annotations are never bad).
        use_ignored: accepted like every detection dataset (no object is ignored).
    """

    classes = list(CLASSES)
    default_image_size = (128, 128)
    default_num_train = 8000
    default_num_validation = 500
    min_side = 16

    def __init__(self, *args, max_objects=4, size_range=(0.13, 0.30), max_boxes=None, **kwargs):
        self.max_objects = int(max_objects)
        if self.max_objects < 1:
            raise DatasetError(f"SyntheticShapesDetection: max_objects must be at least 1, got {max_objects}")
        self.size_range = _check_size_range(size_range)
        super().__init__(*args, max_boxes=self.max_objects if max_boxes is None else max_boxes, **kwargs)

    def scene_rng(self, subset, index):
        """The random generator sample ``index`` of the raw ``"train"`` or ``"validation"`` data comes from."""
        return np.random.default_rng([int(self.seed), _SUBSET_IDS[subset], int(index)])

    def _read_subset(self, subset):
        """Returns the scenes of ``subset`` and their annotations, without rendering any image."""
        scenes = [random_scene(self.scene_rng(subset, index), self.image_size, self.classes, self.max_objects,
                               self.size_range)
                  for index in range(self.subset_total(subset))]
        return scenes, [scene_annotation(scene, self.image_size) for scene in scenes]

    def _load_item(self, item):
        """Renders one scene."""
        return render_scene(item, self.image_size, self.classes)[0]

    def scene(self, index):
        """The :class:`Scene` of sample ``index`` of this subset."""
        return self._items[self._indices[index]]


def _check_size_range(size_range):
    """``size_range`` as a pair of floats with ``0 < smallest <= largest <= 0.9``, or a DatasetError."""
    try:
        smallest, largest = (float(value) for value in size_range)
    except (TypeError, ValueError):
        smallest = largest = None
    if smallest is None or not 0 < smallest <= largest <= 0.9:
        raise DatasetError(f"SyntheticShapesDetection: size_range must be (smallest, largest) fractions of the image "
                           f"with 0 < smallest <= largest <= 0.9, got {size_range!r}")
    return smallest, largest


# Samples on disk ---------------------------------------------------------------------------------

_BOX_COLORS = ((255, 40, 40), (40, 255, 40), (60, 120, 255), (255, 220, 0), (255, 0, 255), (0, 230, 230))


def draw_boxes(image, gt_boxes, classes, scale=3):
    """Enlarges an image and outlines its boxes just outside their pixels, with class names.

    Each box gets a line in its class's colour right outside its pixels, and a black line outside
    that one so that it shows on any background.

    Args:
        image: RGB ``uint8`` ``(height, width, 3)``.
        gt_boxes: rows ``(x, y, w, h, class_id)``; rows with ``class_id < 0`` are skipped.
        classes: class names.
        scale: nearest-neighbour enlargement factor.

    Returns:
        The enlarged RGB ``uint8`` image.
    """
    from PIL import Image, ImageDraw

    picture = Image.fromarray(sample_tool.enlarge(image, scale))
    pen = ImageDraw.Draw(picture)
    for x, y, w, h, class_id in np.asarray(gt_boxes).reshape(-1, 5):
        if class_id < 0:
            continue
        color = _BOX_COLORS[int(class_id) % len(_BOX_COLORS)]
        pen.rectangle([x * scale - 2, y * scale - 2, (x + w) * scale + 1, (y + h) * scale + 1], outline=(0, 0, 0))
        pen.rectangle([x * scale - 1, y * scale - 1, (x + w) * scale, (y + h) * scale], outline=color)
        pen.text((x * scale + 3, y * scale + 2), classes[int(class_id)], fill=(0, 0, 0))
        pen.text((x * scale + 2, y * scale + 1), classes[int(class_id)], fill=color)
    return np.asarray(picture)


def _samples(dataset, count, scale):
    """The first ``count`` training images enlarged with their boxes drawn, four per sheet row."""
    pictures = [draw_boxes(*dataset[index], dataset.classes, scale) for index in range(count)]
    return pictures, [f"sample_{index:03d}.png" for index in range(count)], 4


main = sample_tool.command(SyntheticShapesDetection, _samples, count=12, scale=3, timing_images=500,
                           description=__doc__.splitlines()[0])


if __name__ == "__main__":
    main()
