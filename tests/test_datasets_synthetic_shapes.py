"""Tests of the embedded synthetic shapes dataset and of the shape drawing it uses."""
import math
import time

import numpy as np
import pytest

from lmnet.datasets import shapes_drawing
from lmnet.datasets.shapes_drawing import (SHAPES, contrasting_color, draw_shape, random_angle, shape_contains,
                                           shape_radius, textured_background)
from lmnet.datasets.synthetic_shapes import SyntheticShapes, main, render_shape_image
from lmnet.errors import DatasetError


def changed_box(mask):
    """Tight (x, y, w, h) box of the True pixels of a mask, (0, 0, 0, 0) when none."""
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return (0, 0, 0, 0)
    return (int(columns[0]), int(rows[0]), int(columns[-1] - columns[0] + 1), int(rows[-1] - rows[0] + 1))


def stack_images(dataset, count=None):
    """All (or the first ``count``) images of a dataset, stacked."""
    return np.stack([dataset[index][0] for index in range(count or len(dataset))])


# Drawing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("supersampling", [1, 2, 3])
def test_draw_shape_box_is_exactly_the_drawn_pixels(shape, supersampling):
    rng = np.random.default_rng(7)
    for _ in range(40):
        height, width = int(rng.integers(8, 48)), int(rng.integers(8, 48))
        canvas = np.full((height, width, 3), 40.0, np.float32)
        center = (rng.uniform(-5, width + 5), rng.uniform(-5, height + 5))
        size = rng.uniform(2.0, 30.0)
        box = draw_shape(canvas, shape, center, size, rng.uniform(0, 360), (250, 250, 250), supersampling)
        assert box == changed_box((canvas != 40.0).any(axis=-1))


def test_draw_shape_outside_the_canvas_draws_nothing():
    canvas = np.zeros((16, 16, 3), np.float32)
    assert draw_shape(canvas, "star", (-30.0, 8.0), 10.0, 0.0, (255, 255, 255)) == (0, 0, 0, 0)
    assert not canvas.any()


@pytest.mark.parametrize("shape", SHAPES)
def test_all_shapes_cover_the_same_area_at_the_same_size(shape):
    canvas = np.zeros((80, 80, 3), np.float32)
    size = 30.0
    draw_shape(canvas, shape, (40.0, 40.0), size, 13.0, (1.0, 1.0, 1.0), supersampling=4)
    assert canvas[..., 0].sum() == pytest.approx(math.pi / 4 * size ** 2, rel=0.03)


@pytest.mark.parametrize("shape", SHAPES)
def test_shape_contains_centre_and_nothing_beyond_its_radius(shape):
    assert shape_contains(shape, np.float32(0.0), np.float32(0.0))
    angles = np.linspace(-math.pi, math.pi, 721)
    reach = shape_radius(shape) * 1.001
    assert not shape_contains(shape, reach * np.cos(angles), reach * np.sin(angles)).any()


def even_odd_inside(vertices, x, y):
    """Reference point-in-polygon test: count crossings of a ray towards +x."""
    inside = np.zeros(x.shape, bool)
    for (x1, y1), (x2, y2) in zip(vertices, np.roll(vertices, -1, axis=0)):
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            crossing_x = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < crossing_x)
    return inside


@pytest.mark.parametrize("shape", SHAPES[1:])
def test_polygon_lookup_matches_a_ray_casting_reference(shape):
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-1, 1, 40000), rng.uniform(-1, 1, 40000)
    polygon = shapes_drawing._POLYGONS[shape]
    np.testing.assert_array_equal(shape_contains(shape, x, y), even_odd_inside(polygon.vertices, x, y))
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    np.testing.assert_array_equal(shape_contains(shape, x32, y32), even_odd_inside(polygon.vertices, x32, y32))


@pytest.mark.parametrize("shape", ["diamond", "cross", "square"])
def test_polygon_lookup_on_the_negative_x_axis(shape):
    reach = shape_radius(shape)
    for zero in (0.0, -0.0):
        assert shape_contains(shape, np.array([-0.05]), np.array([zero]))[0]
        assert not shape_contains(shape, np.array([-1.01 * reach]), np.array([zero]))[0]


def test_upsampled_gradient_nodes_are_an_exact_linear_gradient():
    height, width, angle = 24, 40, 33.0
    start, end = np.array([10.0, 200.0, 60.0]), np.array([250.0, 20.0, 60.0])
    canvas = shapes_drawing.upsample_bilinear(
        shapes_drawing.gradient_nodes(4, 5, height, width, start, end, angle), height, width)
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    x, y = np.arange(width)[None, :] + 0.5, np.arange(height)[:, None] + 0.5
    ramp = (x * cos + y * sin) / (width * cos + height * sin)
    np.testing.assert_allclose(canvas, start + ramp[:, :, None] * (end - start), atol=1e-3)


def test_unknown_shape_is_an_error():
    with pytest.raises(ValueError, match="hexagon"):
        draw_shape(np.zeros((8, 8, 3), np.float32), "hexagon", (4, 4), 4, 0, (255, 0, 0))


def test_draw_shape_needs_a_float_canvas():
    with pytest.raises(TypeError, match="float"):
        draw_shape(np.zeros((8, 8, 3), np.uint8), "circle", (4, 4), 4, 0, (255, 0, 0))


def test_square_and_diamond_rotations_stay_apart():
    rng = np.random.default_rng(0)
    square = [random_angle("square", rng) for _ in range(500)]
    diamond = [random_angle("diamond", rng) for _ in range(500)]
    # Corner directions: the square's at 45 degrees + rotation, the diamond's tips at 90 degrees + rotation.
    assert max(45 + abs(angle) for angle in square) + 15 <= min(90 - abs(angle) for angle in diamond)


def test_contrasting_color_is_far_from_the_reference():
    rng = np.random.default_rng(1)
    for reference in rng.uniform(0, 255, (200, 3)):
        assert np.linalg.norm(contrasting_color(reference, rng) - reference) >= 110.0
    fallback = contrasting_color([20.0, 200.0, 128.0], rng, min_distance=400.0)
    np.testing.assert_array_equal(fallback, [255.0, 0.0, 0.0])


def test_textured_background_is_a_varied_float_canvas():
    canvas = textured_background(24, 40, np.random.default_rng(5))
    assert canvas.shape == (24, 40, 3) and canvas.dtype == np.float32
    assert canvas.min() >= 0.0 and canvas.max() <= 255.0
    assert canvas.std() > 1.0


def test_rendered_shape_contrasts_with_its_surroundings():
    rng = np.random.default_rng(11)
    for index in range(30):
        image, (x, y, w, h) = render_shape_image(SHAPES[index % len(SHAPES)], (32, 32), rng, noise_range=(0.0, 0.0))
        assert w > 0 and h > 0
        inside = image[y:y + h, x:x + w].reshape(-1, 3).astype(np.float32)
        assert np.linalg.norm(inside.max(axis=0) - inside.min(axis=0)) > 60.0


# Dataset ----------------------------------------------------------------------------------------


def test_samples_are_deterministic():
    first, second = SyntheticShapes(num_train=50, seed=3), SyntheticShapes(num_train=50, seed=3)
    for index in (0, 7, 49):
        np.testing.assert_array_equal(first[index][0], second[index][0])
        np.testing.assert_array_equal(first[index][0], first[index][0])
        assert first[index][1] == second[index][1]


def test_different_indices_and_seeds_give_different_images():
    dataset, other_seed = SyntheticShapes(num_train=30, seed=0), SyntheticShapes(num_train=30, seed=1)
    images = stack_images(dataset)
    assert len({image.tobytes() for image in images}) == len(images)
    assert not np.array_equal(images[0], dataset[6][0])
    assert not np.array_equal(images[4], other_seed[4][0])


def test_train_and_validation_do_not_share_samples():
    train = stack_images(SyntheticShapes("train", num_train=30))
    validation = stack_images(SyntheticShapes("test", num_validation=30))
    assert not {image.tobytes() for image in train} & {image.tobytes() for image in validation}


@pytest.mark.parametrize("image_size", [(32, 32), (24, 40), (48, 20)])
def test_images_are_rgb_uint8_of_the_requested_size(image_size):
    dataset = SyntheticShapes("validation", image_size=image_size, num_validation=12)
    assert len(dataset) == 12
    for index in range(len(dataset)):
        image, label = dataset[index]
        assert image.shape == image_size + (3,) and image.dtype == np.uint8
        assert isinstance(label, int) and 0 <= label < dataset.num_classes


def test_classes_and_balanced_labels():
    dataset = SyntheticShapes(num_train=20000)
    assert dataset.classes == list(SHAPES) and dataset.num_classes == 6
    assert len(dataset) == 20000
    counts = np.bincount(dataset.labels, minlength=dataset.num_classes)
    assert counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(dataset.labels[:12], np.arange(12) % 6)
    assert len(SyntheticShapes("validation")) == 2000


def test_embedded_dataset_needs_no_data_dir(tmp_path):
    dataset = SyntheticShapes(data_dir=str(tmp_path / "missing"), num_train=6)
    assert dataset[5][0].shape == (32, 32, 3)


def test_train_validation_saving_split():
    total, held = 60, 12
    everything = stack_images(SyntheticShapes("train", num_train=total))
    train = SyntheticShapes("train", num_train=total, train_validation_saving_size=held)
    saving = SyntheticShapes("train_validation_saving", num_train=total, train_validation_saving_size=held)
    assert (len(train), len(saving)) == (total - held, held)
    train_images = {image.tobytes() for image in stack_images(train)}
    saving_images = {image.tobytes() for image in stack_images(saving)}
    assert not train_images & saving_images
    assert train_images | saving_images == {image.tobytes() for image in everything}
    assert sorted(np.concatenate([train.labels, saving.labels]).tolist()) == sorted((np.arange(total) % 6).tolist())


def test_invalid_arguments_are_dataset_errors():
    with pytest.raises(DatasetError):
        SyntheticShapes("train_validation_saving")
    with pytest.raises(DatasetError):
        SyntheticShapes("train", num_train=10, train_validation_saving_size=10)
    with pytest.raises(DatasetError):
        SyntheticShapes(image_size=(2, 32))


def test_colour_statistics_do_not_solve_the_task():
    """A nearest-centroid classifier on raw pixels must stay far from perfect (chance is 1/6)."""
    start = time.perf_counter()
    train = SyntheticShapes("train", num_train=600)
    validation = SyntheticShapes("validation", num_validation=300)
    features = stack_images(train).reshape(len(train), -1).astype(np.float32)
    centroids = np.stack([features[train.labels == label].mean(axis=0) for label in range(train.num_classes)])
    queries = stack_images(validation).reshape(len(validation), -1).astype(np.float32)
    distances = ((queries[:, None, :] - centroids[None]) ** 2).sum(axis=-1)
    accuracy = float((distances.argmin(axis=1) == validation.labels).mean())
    assert accuracy < 0.4
    assert time.perf_counter() - start < 5.0


def test_main_prints_speed_and_writes_pngs(tmp_path, capsys):
    from PIL import Image

    main([str(tmp_path), "--count", "7", "--height", "24", "--width", "40", "--timing-images", "20"])
    assert "ms per image" in capsys.readouterr().out
    samples = sorted(tmp_path.glob("sample_*.png"))
    assert len(samples) == 7 and samples[0].name == "sample_000_circle.png"
    assert Image.open(samples[0]).size == (40 * 4, 24 * 4)
    assert (tmp_path / "contact_sheet.png").exists()


def test_an_embedded_set_refuses_a_folder():
    with pytest.raises(DatasetError, match=r"SyntheticShapes: extend_dir='shapes' given, but this dataset is embedded"):
        SyntheticShapes("train", extend_dir="shapes", num_train=4)
