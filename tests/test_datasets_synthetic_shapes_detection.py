"""Tests of the embedded synthetic shapes detection dataset."""
import collections
import os

import numpy as np
import pytest

from lmnet.datasets import shapes_drawing
from lmnet.datasets.detection_base import Annotation
from lmnet.datasets.synthetic_shapes_detection import (CLASSES, PlacedShape, Scene, SyntheticShapesDetection,
                                                       boxes_fit, main, random_scene, render_scene, shape_box)
from lmnet.errors import DatasetError


def tight_box(mask):
    """Tight (x, y, w, h) box of the True pixels of a mask, (0, 0, 0, 0) when none."""
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return (0, 0, 0, 0)
    return (int(columns[0]), int(rows[0]), int(columns[-1] - columns[0] + 1), int(rows[-1] - rows[0] + 1))


def object_mask(shape, placed, image_size, supersampling=2):
    """Pixels a placed object touches, drawn alone on a black canvas (independent of draw_shape's return value)."""
    canvas = np.zeros(tuple(image_size) + (3,), np.float32)
    shapes_drawing.draw_shape(canvas, shape, (placed.center_x, placed.center_y), placed.size, placed.angle,
                              (255.0, 255.0, 255.0), supersampling)
    return canvas[..., 0] > 0


def small(subset="train", **kwargs):
    """A small dataset (fast to build)."""
    kwargs.setdefault("num_train", 60)
    kwargs.setdefault("num_validation", 40)
    return SyntheticShapesDetection(subset, **kwargs)


def all_boxes(dataset):
    """Every annotation box of a dataset, with its sample index."""
    return [(index, box) for index in range(len(dataset)) for box in dataset.annotation(index).boxes]


# Exact boxes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("supersampling", [1, 2, 3])
@pytest.mark.parametrize("shape", shapes_drawing.SHAPES)
def test_shape_box_is_the_tight_box_of_the_drawn_pixels(shape, supersampling):
    rng = np.random.default_rng(11)
    for _ in range(120):
        image_size = (int(rng.integers(24, 80)), int(rng.integers(24, 80)))
        size = rng.uniform(3.0, 40.0)
        center = (rng.uniform(-5, image_size[1] + 5), rng.uniform(-5, image_size[0] + 5))
        placed = PlacedShape(0, center[0], center[1], size, rng.uniform(0, 360), None)
        expected = tight_box(object_mask(shape, placed, image_size, supersampling))
        assert shape_box(shape, center, size, placed.angle, image_size, supersampling) == expected


def test_boxes_fit():
    assert boxes_fit([])
    assert boxes_fit([(0, 0, 10, 10), (20, 20, 10, 10)])
    assert not boxes_fit([(0, 0, 10, 10), (2, 0, 10, 10)])  # IoU 8 / 12
    assert boxes_fit([(0, 0, 10, 10), (7, 0, 10, 10)])  # IoU 3 / 17, each box 30 % covered
    assert not boxes_fit([(0, 0, 20, 20), (5, 5, 10, 10)])  # IoU 0.25, but the small box is hidden
    # Corner boxes, each 47 % inside a big box with an IoU of 0.12, together cover 54 % of it.
    big, corners = (0, 0, 30, 30), [(-5, -5, 16, 16), (19, -5, 16, 16), (-5, 19, 16, 16), (19, 19, 16, 16)]
    assert all(boxes_fit([big, corner]) for corner in corners)
    assert boxes_fit([big] + corners[:3])
    assert not boxes_fit([big] + corners)


# Scenes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("image_size", [(128, 128), (96, 160)])
def test_annotations_equal_the_tight_boxes_of_the_rendered_objects(image_size):
    dataset = small(image_size=image_size, num_train=40)
    for index in range(len(dataset)):
        scene, annotation = dataset.scene(index), dataset.annotation(index)
        _, drawn_boxes = render_scene(scene, image_size)
        assert [tuple(box) for box in annotation.boxes.astype(int).tolist()] == drawn_boxes
        for placed, box in zip(scene.objects, annotation.boxes):
            assert tight_box(object_mask(CLASSES[placed.class_id], placed, image_size)) == tuple(box.astype(int))


def test_annotations_are_known_without_rendering(monkeypatch):
    coverage_calls = []
    original_coverage = shapes_drawing.shape_coverage

    def counting_coverage(*args, **kwargs):
        coverage_calls.append(args)
        return original_coverage(*args, **kwargs)

    def fail(*args, **kwargs):
        raise AssertionError("rendered while building the dataset")

    monkeypatch.setattr(shapes_drawing, "shape_coverage", counting_coverage)
    for name in ("draw_shape", "textured_background", "add_noise"):
        monkeypatch.setattr(shapes_drawing, name, fail)
    dataset = SyntheticShapesDetection("train", num_train=500)
    objects = sum(len(dataset.annotation(index)) for index in range(len(dataset)))
    # Boxes come from the geometry; the coverage is measured only for the rare shapes on the rounding edge.
    assert len(coverage_calls) < 0.03 * objects


def test_scenes_stay_inside_the_image_and_overlap_little():
    dataset = SyntheticShapesDetection("train", num_train=1000)
    counts = collections.Counter()
    for index in range(len(dataset)):
        annotation = dataset.annotation(index)
        boxes = annotation.boxes.astype(int)
        counts[len(annotation)] += 1
        assert 1 <= len(annotation) <= dataset.max_objects
        assert (boxes[:, :2] >= 0).all()
        assert (boxes[:, 0] + boxes[:, 2] <= 128).all() and (boxes[:, 1] + boxes[:, 3] <= 128).all()
        assert boxes_fit([tuple(box) for box in boxes], max_iou=0.3, max_covered=0.5)
        assert boxes[:, 2:].min() >= 14 and boxes[:, 2:].max() <= 0.5 * 128
    assert sorted(counts) == [1, 2, 3, 4]
    assert min(counts.values()) > 0.2 * len(dataset)


def test_classes_are_balanced():
    dataset = SyntheticShapesDetection("train", num_train=1000)
    class_counts = collections.Counter(int(class_id) for index in range(len(dataset))
                                       for class_id in dataset.annotation(index).class_ids)
    assert sorted(class_counts) == list(range(len(CLASSES)))
    mean = sum(class_counts.values()) / len(CLASSES)
    assert all(abs(count - mean) < 0.12 * mean for count in class_counts.values())


def test_objects_contrast_with_the_background_around_them():
    dataset = small(num_train=30)
    for index in range(len(dataset)):
        image, scene = dataset[index][0].astype(np.float32), dataset.scene(index)
        masks = [object_mask(CLASSES[placed.class_id], placed, dataset.image_size) for placed in scene.objects]
        anywhere = np.any(masks, axis=0)
        for number, (placed, mask) in enumerate(zip(scene.objects, masks)):
            visible = mask & ~np.any(masks[number + 1:], axis=0) if number + 1 < len(masks) else mask
            x, y, w, h = placed.box
            around = np.zeros_like(mask)
            around[max(y - 3, 0):y + h + 3, max(x - 3, 0):x + w + 3] = True
            around &= ~anywhere
            if around.sum() < 30:
                continue
            distance = np.linalg.norm(image[visible].mean(axis=0) - image[around].mean(axis=0))
            assert distance > 50, (index, number, distance)


def test_random_scene_is_a_function_of_the_generator_state():
    first = random_scene(np.random.default_rng(5), (64, 64))
    assert first == random_scene(np.random.default_rng(5), (64, 64))
    assert first != random_scene(np.random.default_rng(6), (64, 64))
    assert isinstance(first, Scene) and all(isinstance(placed, PlacedShape) for placed in first.objects)
    sizes = [placed.size for placed in first.objects]
    assert sizes == sorted(sizes, reverse=True)  # drawing order: larger objects first


# Dataset ----------------------------------------------------------------------------------------


def test_samples_are_deterministic():
    first, second = small(), small()
    for index in (0, 7, 59):
        image_a, target_a = first[index]
        image_b, target_b = second[index]
        np.testing.assert_array_equal(image_a, image_b)
        np.testing.assert_array_equal(target_a, target_b)


def test_seeds_and_subsets_give_different_samples():
    train, validation, other_seed = small("train"), small("validation"), small("train", seed=1)
    assert not np.array_equal(train[0][0], other_seed[0][0])
    train_images = {train[index][0].tobytes() for index in range(20)}
    assert not train_images & {validation[index][0].tobytes() for index in range(20)}
    assert len(train_images) == 20
    assert len(validation) == 40 and len(small("test")) == 40


def test_items_are_an_image_and_padded_gt_boxes():
    dataset = small()
    assert dataset.classes == list(CLASSES) and dataset.num_classes == len(CLASSES)
    assert dataset.target_key == "gt_boxes" and dataset.max_boxes == 4
    for index in range(10):
        image, gt_boxes = dataset[index]
        annotation = dataset.annotation(index)
        assert image.dtype == np.uint8 and image.shape == (128, 128, 3)
        assert gt_boxes.dtype == np.float32 and gt_boxes.shape == (4, 5)
        count = len(annotation)
        np.testing.assert_array_equal(gt_boxes[:count], annotation.gt_boxes())
        assert (gt_boxes[count:, 4] == -1).all()
        assert isinstance(annotation, Annotation) and annotation.image_size == (128, 128)
        assert not annotation.ignore.any()
        assert ((annotation.class_ids >= 0) & (annotation.class_ids < len(CLASSES))).all()


def test_max_objects_and_max_boxes():
    assert small(max_objects=2)[0][1].shape == (2, 5)
    assert all(len(small(max_objects=2).annotation(index)) <= 2 for index in range(60))
    assert small(max_boxes=6)[0][1].shape == (6, 5)
    assert all(len(small(max_objects=1).annotation(index)) == 1 for index in range(60))


def test_size_range_sets_the_object_sizes():
    def box_sides(dataset):
        boxes = np.concatenate([dataset.annotation(index).boxes for index in range(len(dataset))])
        return np.maximum(boxes[:, 2], boxes[:, 3])

    default, large = box_sides(small()), box_sides(small(size_range=(0.4, 0.5)))
    # Equivalent diameters of 0.4-0.5 x 128 px: every box side spans at least ~0.35 x 128 (a circle),
    # at most ~1.5 x 0.5 x 128 (a rotated square or triangle); the default range stays below.
    assert large.min() >= 0.35 * 128 and large.max() <= 0.75 * 128
    assert default.max() < large.min() + 20 and np.median(default) < np.median(large) - 20


def test_non_square_images():
    dataset = small(image_size=(96, 160))
    image, gt_boxes = dataset[3]
    assert image.shape == (96, 160, 3)
    boxes = np.concatenate([dataset.annotation(index).boxes for index in range(len(dataset))])
    assert (boxes[:, 0] + boxes[:, 2] <= 160).all() and (boxes[:, 1] + boxes[:, 3] <= 96).all()
    assert (boxes[:, 0] + boxes[:, 2] > 96).any()  # objects use the whole width


def test_train_validation_saving_split():
    full = small("train", num_train=50)
    train = small("train", num_train=50, train_validation_saving_size=10)
    held_out = small("train_validation_saving", num_train=50, train_validation_saving_size=10)
    assert len(train) == 40 and len(held_out) == 10
    scenes = {full.scene(index) for index in range(50)}
    train_scenes = {train.scene(index) for index in range(40)}
    held_out_scenes = {held_out.scene(index) for index in range(10)}
    assert train_scenes | held_out_scenes == scenes and not train_scenes & held_out_scenes
    position = int(held_out._indices[0])
    np.testing.assert_array_equal(held_out[0][0], full[position][0])
    np.testing.assert_array_equal(held_out[0][1], full[position][1])


def test_bad_arguments_are_errors():
    with pytest.raises(DatasetError, match="too small"):
        small(image_size=(8, 8))
    with pytest.raises(DatasetError, match="max_objects"):
        small(max_objects=0)
    for size_range in [(0.3, 0.2), (0.0, 0.2), (0.5, 1.2), "big", (0.1,)]:
        with pytest.raises(DatasetError, match="size_range"):
            small(size_range=size_range)
    with pytest.raises(DatasetError, match="TRAIN_VALIDATION_SAVING_SIZE"):
        small("train_validation_saving")


def test_embedded_dataset_needs_no_data_dir(tmp_path):
    dataset = small(data_dir=str(tmp_path / "missing"), num_train=5)
    assert dataset[0][0].shape == (128, 128, 3)
    with pytest.raises(DatasetError, match="embedded"):
        dataset.root


def test_main_writes_samples_with_boxes_and_reports_the_speed(tmp_path, capsys):
    out_dir = str(tmp_path / "samples")
    main([out_dir, "--count", "3", "--height", "64", "--width", "96", "--timing-images", "10", "--scale", "2"])
    printed = capsys.readouterr().out
    assert "ms per image" in printed and "wrote 4 PNGs" in printed
    from PIL import Image

    assert sorted(os.listdir(out_dir)) == ["contact_sheet.png", "sample_000.png", "sample_001.png", "sample_002.png"]
    with Image.open(os.path.join(out_dir, "sample_000.png")) as picture:
        assert picture.size == (192, 128)
