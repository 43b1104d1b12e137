"""Drawing of simple filled shapes on textured backgrounds, for the embedded synthetic datasets.

Everything here works on a ``float32`` canvas of shape ``(height, width, 3)`` holding RGB values in
``[0, 255]``; :func:`to_uint8` turns it into the image the datasets return. Coordinates are
continuous pixel coordinates: pixel ``(row i, column j)`` covers ``[j, j + 1) x [i, i + 1)``, so its
centre is ``(j + 0.5, i + 0.5)`` and the centre of the whole image is ``(width / 2, height / 2)``.

Every shape is scaled by its *equivalent diameter*: the diameter of the circle of the same area.
Shapes drawn with the same ``size`` therefore cover the same number of pixels whatever their
class, so the area of a shape says nothing about its class.

All shapes except the circle are polygons that are star-shaped around their centre (every boundary
point is visible from the centre). A point is inside such a polygon when it lies on the inner side of
the one edge whose angular sector (seen from the centre) contains it, which makes the inside test a
few vectorized operations whatever the number of edges.
"""
import functools
import math

import numpy as np

#: Names of the shapes :func:`draw_shape` knows.
SHAPES = ("circle", "square", "triangle", "star", "cross", "diamond")

#: Rotation range, in degrees, that keeps each shape recognizable: rotations are drawn uniformly in
#: ``[-limit, limit]`` for the square and the diamond and in ``[0, limit)`` for shapes whose
#: rotational symmetry period is ``limit``. The square's corners then point between 30 and 60
#: degrees off the axes and the diamond's tips within 10 degrees of them, so a rotated square never
#: passes for a diamond.
ROTATION_LIMITS = {"circle": 0.0, "square": 15.0, "diamond": 10.0, "triangle": 120.0, "star": 72.0, "cross": 90.0}

_SYMMETRIC_ROTATIONS = ("square", "diamond")
_STAR_INNER_RATIO = 0.45
_CROSS_HALF_WIDTH = 0.36
_DIAMOND_ELONGATION = 1.4
_UNIT_AREA = math.pi / 4.0


def _regular_vertices(count, radii, start_degrees=-90.0):
    """Vertices at equally spaced angles, cycling through ``radii``."""
    angles = np.deg2rad(start_degrees + 360.0 * np.arange(count) / count)
    lengths = np.resize(np.asarray(radii, dtype=np.float64), count)
    return np.stack([lengths * np.cos(angles), lengths * np.sin(angles)], axis=1)


def _cross_vertices(half_width):
    """The twelve vertices of a plus sign of arm length 1 and arm half width ``half_width``."""
    w = half_width
    quarter = [(w, -1.0), (w, -w), (1.0, -w)]
    points = []
    for turn in range(4):
        cos, sin = math.cos(turn * math.pi / 2), math.sin(turn * math.pi / 2)
        points.extend((cos * x - sin * y, sin * x + cos * y) for x, y in quarter)
    return np.asarray(points)


def _raw_polygon(shape):
    """Vertices of a shape before normalization to unit equivalent diameter."""
    if shape == "square":
        return np.asarray([(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)])
    if shape == "diamond":
        return np.asarray([(0.0, -_DIAMOND_ELONGATION), (1.0, 0.0), (0.0, _DIAMOND_ELONGATION), (-1.0, 0.0)])
    if shape == "triangle":
        return _regular_vertices(3, [1.0])
    if shape == "star":
        return _regular_vertices(10, [1.0, _STAR_INNER_RATIO])
    if shape == "cross":
        return _cross_vertices(_CROSS_HALF_WIDTH)
    raise ValueError(f"unknown shape '{shape}'; expected one of {', '.join(SHAPES)}")


def _polygon_area(vertices):
    """Absolute area of a simple polygon (shoelace formula)."""
    x, y = vertices[:, 0], vertices[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


class _Polygon:
    """A polygon star-shaped around the origin, prepared for the sector inside test.

    The edge whose angular sector holds a direction is looked up in a table of equal angular bins,
    each holding at most one vertex: the bin gives the edge before that vertex and the vertex's angle
    decides between it and the next edge, so the lookup is exact.

    Args:
        vertices: ``(count, 2)`` vertices in any order around the origin.
        bins: number of angular bins of the lookup table (raised until no bin holds two vertices).
    """

    def __init__(self, vertices, bins=1024):
        angles = np.arctan2(vertices[:, 1], vertices[:, 0])
        order = np.argsort(angles)
        self.vertices = vertices[order]
        self.angles = angles[order]
        ends = np.roll(self.vertices, -1, axis=0)
        edges = ends - self.vertices
        normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
        offsets = np.einsum("ij,ij->i", normals, self.vertices)
        flip = np.where(offsets < 0, -1.0, 1.0)
        # One extra copy of edge 0 at index ``count``, reached from the bin of vertex 0 (edge -1 + 1).
        self.normal_x = np.append(normals[:, 0] * flip, normals[0, 0] * flip[0]).astype(np.float32)
        self.normal_y = np.append(normals[:, 1] * flip, normals[0, 1] * flip[0]).astype(np.float32)
        self.offsets = np.append(offsets * flip, offsets[0] * flip[0]).astype(np.float32)
        self.radius = float(np.max(np.hypot(self.vertices[:, 0], self.vertices[:, 1])))
        self._build_table(bins)

    def _build_table(self, bins):
        """Fills the bin -> (edge before the bin's vertex, that vertex's angle) lookup table."""
        while True:
            self._bin_scale = np.float32(bins / (2.0 * np.pi))
            self._bin_shift = np.float32(np.pi * (bins / (2.0 * np.pi)))
            vertex_bins = self._bin_index(self.angles)
            if np.unique(vertex_bins).size == vertex_bins.size:
                break
            bins *= 2
        self.bins = bins
        # One bin more than the turn needs: an angle of exactly pi may round into it.
        before = np.searchsorted(vertex_bins, np.arange(bins + 1), side="left")
        self.bin_edge = np.where(before == 0, len(self.angles) - 1, before - 1)
        self.bin_split = np.full(bins + 1, np.inf, np.float32)
        self.bin_split[vertex_bins] = self.angles

    def _bin_index(self, angles):
        """Bin of each angle in ``[-pi, pi]``, between 0 and ``bins`` inclusive."""
        scaled = np.asarray(angles).astype(np.float32)
        scaled *= self._bin_scale
        scaled += self._bin_shift
        return scaled.astype(np.intp)

    def contains(self, x, y):
        """Boolean mask of the points ``(x, y)`` (broadcastable arrays) inside the polygon."""
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape:
            x, y = np.broadcast_arrays(x, y)
        theta = np.arctan2(y, x)
        bin_index = self._bin_index(theta)
        edge = self.bin_edge[bin_index] + (theta >= self.bin_split[bin_index])
        return self.normal_x[edge] * x + self.normal_y[edge] * y <= self.offsets[edge]


def _build_polygons():
    """Every polygonal shape, normalized to unit equivalent diameter (area pi / 4)."""
    polygons = {}
    for shape in SHAPES:
        if shape == "circle":
            continue
        raw = _raw_polygon(shape)
        polygons[shape] = _Polygon(raw * math.sqrt(_UNIT_AREA / _polygon_area(raw)))
    return polygons


_POLYGONS = _build_polygons()


def _check_shape(shape):
    """Raises ``ValueError`` for a shape name :func:`draw_shape` does not know."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape '{shape}'; expected one of {', '.join(SHAPES)}")


def shape_radius(shape):
    """Distance from the centre to the farthest point of a shape of equivalent diameter 1.

    Args:
        shape: one of :data:`SHAPES`.

    Returns:
        The circumradius, in units of the shape's ``size``; ``0.5`` for the circle.
    """
    _check_shape(shape)
    return 0.5 if shape == "circle" else _POLYGONS[shape].radius


def shape_vertices(shape):
    """Vertices of a polygonal shape of equivalent diameter 1, in its own frame.

    A point ``(u, v)`` of this frame lands on the canvas at ``center + size * (u cos a - v sin a,
    u sin a + v cos a)`` for a shape drawn with rotation ``a`` (see :func:`shape_coverage`).

    Args:
        shape: one of :data:`SHAPES` except ``"circle"``.

    Returns:
        ``float64`` ``(count, 2)`` vertices ordered by angle around the centre (a copy).

    Raises:
        ValueError: an unknown shape or the circle, which has no vertices.
    """
    _check_shape(shape)
    if shape == "circle":
        raise ValueError("the circle has no vertices")
    return _POLYGONS[shape].vertices.astype(np.float64)


def shape_contains(shape, x, y):
    """Whether points of the unit shape's own frame are inside it.

    Args:
        shape: one of :data:`SHAPES`.
        x: x coordinates, in units of ``size``, relative to the centre, before rotation.
        y: y coordinates, broadcastable with ``x``.

    Returns:
        A boolean array of the broadcast shape of ``x`` and ``y``.
    """
    _check_shape(shape)
    if shape == "circle":
        return x * x + y * y <= 0.25
    return _POLYGONS[shape].contains(x, y)


def random_angle(shape, rng):
    """A random rotation, in degrees, within :data:`ROTATION_LIMITS` for ``shape``.

    Args:
        shape: one of :data:`SHAPES`.
        rng: a ``numpy.random.Generator``.
    """
    _check_shape(shape)
    limit = ROTATION_LIMITS[shape]
    if shape in _SYMMETRIC_ROTATIONS:
        return float(rng.uniform(-limit, limit))
    return float(rng.uniform(0.0, limit))


@functools.lru_cache(maxsize=4096)
def _sample_positions(start, stop, supersampling):
    """Continuous coordinates of the sub-pixel samples of pixels ``start`` to ``stop - 1`` (read-only)."""
    steps = (np.arange(supersampling) + 0.5) / supersampling
    positions = (np.arange(start, stop)[:, None] + steps[None, :]).ravel().astype(np.float32)
    positions.flags.writeable = False
    return positions


def _sample_offsets(start, stop, supersampling, center):
    """Coordinates, relative to ``center``, of the sub-pixel samples of pixels ``start`` to ``stop - 1``."""
    return _sample_positions(start, stop, supersampling) - np.float32(center)


def _pool_samples(inside, supersampling):
    """Averages ``supersampling x supersampling`` blocks of a boolean sample mask into coverage."""
    coverage = inside[::supersampling, ::supersampling].astype(np.float32)
    for row in range(supersampling):
        for column in range(supersampling):
            if row or column:
                coverage += inside[row::supersampling, column::supersampling]
    coverage *= np.float32(1.0 / supersampling ** 2)
    return coverage


def shape_coverage(height, width, shape, center_xy, size, angle, supersampling=2):
    """Fraction of each pixel covered by a shape, over the window of pixels it may touch.

    Args:
        height: canvas height in pixels.
        width: canvas width in pixels.
        shape: one of :data:`SHAPES`.
        center_xy: ``(x, y)`` centre of the shape in continuous pixel coordinates.
        size: equivalent diameter of the shape in pixels.
        angle: rotation in degrees (clockwise on screen, as the y axis points down).
        supersampling: samples per pixel along each axis (1 disables anti-aliasing).

    Returns:
        ``(coverage, top, left)``: a ``float32`` ``(rows, columns)`` array of values in ``[0, 1]``
        and the position of its first pixel in the canvas; ``coverage`` is empty when the shape's
        window misses the canvas.
    """
    cx, cy = float(center_xy[0]), float(center_xy[1])
    reach = shape_radius(shape) * size
    top, bottom = max(0, math.floor(cy - reach)), min(height, math.ceil(cy + reach))
    left, right = max(0, math.floor(cx - reach)), min(width, math.ceil(cx + reach))
    if bottom <= top or right <= left:
        return np.zeros((0, 0), np.float32), top, left
    dx = _sample_offsets(left, right, supersampling, cx)[None, :]
    dy = _sample_offsets(top, bottom, supersampling, cy)[:, None]
    cos = np.float32(math.cos(math.radians(angle)) / size)
    sin = np.float32(math.sin(math.radians(angle)) / size)
    inside = shape_contains(shape, cos * dx + sin * dy, cos * dy - sin * dx)
    return _pool_samples(inside, supersampling), top, left


def _coverage_box(coverage, top, left):
    """Tight ``(x, y, w, h)`` box of the pixels with non-zero coverage, ``(0, 0, 0, 0)`` if none."""
    rows, columns = coverage.any(axis=1), coverage.any(axis=0)
    first_row = int(rows.argmax())
    if not rows[first_row]:
        return (0, 0, 0, 0)
    last_row = rows.size - int(rows[::-1].argmax())
    first_column, last_column = int(columns.argmax()), columns.size - int(columns[::-1].argmax())
    return (left + first_column, top + first_row, last_column - first_column, last_row - first_row)


def shape_pixel_box(height, width, shape, center_xy, size, angle, supersampling=2):
    """The box :func:`draw_shape` returns for these arguments, computed without a canvas.

    The arguments are those of :func:`shape_coverage`.

    Returns:
        The exact ``(x, y, w, h)`` box of the pixels the shape touches, ``(0, 0, 0, 0)`` when none.
    """
    coverage, top, left = shape_coverage(height, width, shape, center_xy, size, angle, supersampling)
    if coverage.size == 0:
        return (0, 0, 0, 0)
    return _coverage_box(coverage, top, left)


def draw_shape(canvas, shape, center_xy, size, angle, color, supersampling=2):
    """Draws a filled, anti-aliased shape on a canvas, in place.

    Args:
        canvas: ``float32`` ``(height, width, 3)`` RGB canvas, modified in place.
        shape: one of :data:`SHAPES`.
        center_xy: ``(x, y)`` centre of the shape in continuous pixel coordinates.
        size: equivalent diameter in pixels (the diameter of the circle of the same area).
        angle: rotation in degrees (clockwise on screen).
        color: RGB colour, three values in ``[0, 255]``.
        supersampling: samples per pixel along each axis (1 disables anti-aliasing).

    Returns:
        The exact box ``(x, y, w, h)`` of the pixels the shape touches (non-zero coverage), clipped
        to the canvas; ``(0, 0, 0, 0)`` when the shape lies outside the canvas.

    Raises:
        TypeError: the canvas is not a floating-point array (blending needs fractions of a level).
    """
    if not np.issubdtype(canvas.dtype, np.floating):
        raise TypeError(f"draw_shape needs a float canvas, got {canvas.dtype}; convert with astype(np.float32)")
    height, width = canvas.shape[:2]
    coverage, top, left = shape_coverage(height, width, shape, center_xy, size, angle, supersampling)
    if coverage.size == 0:
        return (0, 0, 0, 0)
    rows, columns = coverage.shape
    region = canvas[top:top + rows, left:left + columns]
    region += coverage[:, :, None] * (np.asarray(color, np.float32) - region)
    return _coverage_box(coverage, top, left)


@functools.lru_cache(maxsize=256)
def _bilinear_weights(length, cells):
    """``(length, cells)`` weights that stretch ``cells`` values linearly over ``length`` pixels (read-only).

    Node ``k`` sits at the continuous pixel coordinate ``k * length / (cells - 1)``.
    """
    positions = (np.arange(length, dtype=np.float32) + 0.5) * np.float32((cells - 1) / length)
    weights = np.maximum(0.0, 1.0 - np.abs(positions[:, None] - np.arange(cells, dtype=np.float32)[None, :]))
    weights.flags.writeable = False
    return weights


def upsample_bilinear(grid, height, width):
    """Stretches a ``(rows, columns, 3)`` grid of node colours over a canvas, bilinearly.

    Args:
        grid: node colours; node ``(r, c)`` sits at pixel coordinates
            ``(c * width / (columns - 1), r * height / (rows - 1))``; at least 2 x 2 nodes.
        height: output height in pixels.
        width: output width in pixels.

    Returns:
        ``float32`` ``(height, width, 3)`` canvas.
    """
    rows, columns = grid.shape[:2]
    stretched = _bilinear_weights(height, rows) @ np.asarray(grid, np.float32).reshape(rows, columns * 3)
    return np.matmul(_bilinear_weights(width, columns)[None], stretched.reshape(height, columns, 3))


def gradient_nodes(rows, columns, height, width, start_color, end_color, angle):
    """Node colours of a linear gradient over a ``height x width`` canvas, for :func:`upsample_bilinear`.

    Args:
        rows: number of node rows (at least 2).
        columns: number of node columns (at least 2).
        height: canvas height in pixels.
        width: canvas width in pixels.
        start_color: RGB colour at the canvas corner where the gradient starts.
        end_color: RGB colour at the opposite corner.
        angle: direction of the gradient in degrees (clockwise on screen).

    Returns:
        ``float32`` ``(rows, columns, 3)`` node colours.
    """
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    low = min(0.0, width * cos) + min(0.0, height * sin)
    span = abs(width * cos) + abs(height * sin)
    # ramp = (x cos + y sin - low) / span at the nodes, 0 at the start corner and 1 at the opposite one.
    ramp_x = np.arange(columns, dtype=np.float32) * np.float32(width * cos / ((columns - 1) * span))
    ramp_y = np.arange(rows, dtype=np.float32) * np.float32(height * sin / ((rows - 1) * span)) - np.float32(low / span)
    start = np.asarray(start_color, np.float32)
    ramp = (ramp_y[:, None] + ramp_x[None, :])[:, :, None]
    return ramp * (np.asarray(end_color, np.float32) - start) + start


def add_noise(canvas, rng, sigma):
    """Adds per-pixel noise of standard deviation ``sigma`` to a canvas, in place.

    The noise is uniform (same standard deviation as a Gaussian, several times cheaper to draw).

    Args:
        canvas: ``float32`` canvas.
        rng: a ``numpy.random.Generator``.
        sigma: standard deviation of the noise; nothing is drawn when it is 0.

    Returns:
        ``canvas``.
    """
    if sigma > 0:
        noise = rng.random(canvas.shape, dtype=np.float32)
        noise -= np.float32(0.5)
        noise *= np.float32(sigma * math.sqrt(12.0))
        canvas += noise
    return canvas


def textured_background(height, width, rng, gradient_strength=60.0, texture_strength=18.0, noise_range=(2.0, 10.0)):
    """A random background: a smooth colour gradient, soft blotches and per-pixel noise.

    Args:
        height: output height in pixels.
        width: output width in pixels.
        rng: a ``numpy.random.Generator``.
        gradient_strength: standard deviation, per channel, of the colour change across the gradient.
        texture_strength: largest standard deviation of the low-frequency blotches.
        noise_range: range of the standard deviation of the per-pixel noise; ``None`` adds none (to
            add it once over the finished image instead, with :func:`add_noise`).

    Returns:
        ``float32`` ``(height, width, 3)`` canvas with values in ``[0, 255]``.
    """
    start = rng.uniform(0.0, 255.0, 3)
    end = np.clip(start + rng.normal(0.0, gradient_strength, 3), 0.0, 255.0)
    cells = int(rng.integers(3, 6))
    nodes = gradient_nodes(cells, cells, height, width, start, end, rng.uniform(0.0, 360.0))
    nodes += rng.standard_normal(nodes.shape, dtype=np.float32) * np.float32(rng.uniform(0.0, texture_strength))
    canvas = upsample_bilinear(nodes, height, width)
    if noise_range is not None:
        add_noise(canvas, rng, rng.uniform(*noise_range))
    return np.clip(canvas, 0.0, 255.0, out=canvas)


def region_mean(canvas, center_xy, radius):
    """Mean colour of the canvas over the square window of half side ``radius`` around a point.

    Args:
        canvas: ``(height, width, 3)`` canvas.
        center_xy: ``(x, y)`` centre in continuous pixel coordinates.
        radius: half side of the window in pixels.

    Returns:
        ``float32`` RGB colour; the whole canvas's mean when the window misses the canvas.
    """
    height, width = canvas.shape[:2]
    cx, cy = center_xy
    top, bottom = max(0, math.floor(cy - radius)), min(height, math.ceil(cy + radius))
    left, right = max(0, math.floor(cx - radius)), min(width, math.ceil(cx + radius))
    window = canvas[top:bottom, left:right] if bottom > top and right > left else canvas
    return window.sum(axis=(0, 1), dtype=np.float32) / np.float32(window.shape[0] * window.shape[1])


def contrasting_color(reference, rng, min_distance=110.0, tries=16):
    """A random RGB colour at least ``min_distance`` (Euclidean, in ``[0, 255]`` units) from ``reference``.

    Colours are drawn uniformly from the RGB cube; when none of ``tries`` candidates is far enough,
    the cube corner farthest from ``reference`` is returned (always at least ``255 * sqrt(3) / 2``
    away).

    Args:
        reference: RGB colour to contrast with, e.g. the local background mean.
        rng: a ``numpy.random.Generator``.
        min_distance: smallest accepted distance.
        tries: number of random candidates.

    Returns:
        ``float32`` RGB colour.
    """
    reference = np.asarray(reference, np.float32)
    candidates = rng.random((tries, 3), dtype=np.float32)
    candidates *= np.float32(255.0)
    far_enough = np.square(candidates - reference).sum(axis=1) >= min_distance ** 2
    first = int(far_enough.argmax())
    if far_enough[first]:
        return candidates[first]
    return np.where(reference < 127.5, 255.0, 0.0).astype(np.float32)


def to_uint8(canvas):
    """Rounds and clips a float canvas into an RGB ``uint8`` image."""
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
