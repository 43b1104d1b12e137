"""COCO loader on real instances_*.json files and PNG images written by the tests."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from lmnet.datasets.coco import COCO_CLASSES, Coco
from lmnet.errors import DatasetError

# non-contiguous category ids, listed out of order: classes follow the sorted ids 1, 3, 7
CATEGORIES = [{"id": 7, "name": "kite", "supercategory": "x"}, {"id": 1, "name": "person", "supercategory": "x"},
              {"id": 3, "name": "car", "supercategory": "x"}]


def _write_png(path, size, color):
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.zeros((size[0], size[1], 3), np.uint8)
    array[:, :] = color
    array[0, 0] = (255, 255, 255)
    Image.fromarray(array).save(path)


def _image(image_id, size=(24, 40), file_name=None):
    return {"id": image_id, "file_name": file_name or f"{image_id:012d}.png", "height": size[0], "width": size[1]}


def _ann(ann_id, image_id, category_id, bbox, iscrowd=0):
    return {"id": ann_id, "image_id": image_id, "category_id": category_id, "bbox": bbox, "iscrowd": iscrowd,
            "area": 1.0, "segmentation": []}


def _write_subset(root, name, images, annotations, categories=CATEGORIES, write_images=True):
    """Writes ``annotations/instances_<name>.json`` and one solid PNG per image (colour from its id)."""
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    content = {"info": {}, "licenses": [], "images": images, "annotations": annotations, "categories": categories}
    (root / "annotations" / f"instances_{name}.json").write_text(json.dumps(content))
    if write_images:
        for image in images:
            _write_png(root / name / image["file_name"], (image["height"], image["width"]), (image["id"] * 25, 60, 90))


def _standard(tmp_path):
    root = tmp_path / "COCO"
    images = [_image(5), _image(2, size=(16, 32)), _image(9)]
    annotations = [_ann(1, 5, 3, [1.5, 2, 10, 8]), _ann(2, 5, 7, [0, 0, 40, 24], iscrowd=1),
                   _ann(3, 2, 1, [4, 4, 4, 4]), _ann(4, 5, 1, [30, 20, 20, 20])]
    _write_subset(root, "train2017", images, annotations)
    _write_subset(root, "val2017", images, annotations)
    return root


def test_category_mapping_crowd_and_pixels(tmp_path):
    _standard(tmp_path)
    dataset = Coco("train", data_dir=str(tmp_path))
    assert dataset.classes == ("person", "car", "kite") and dataset.num_classes == 3
    assert dataset.category_ids == [1, 3, 7]
    assert dataset.image_ids == [2, 5]  # image 9 has no annotation: skipped for training
    annotation = dataset.annotation(1)
    np.testing.assert_array_equal(annotation.boxes, [[1.5, 2, 10, 8], [0, 0, 40, 24], [30, 20, 10, 4]])
    assert annotation.class_ids.tolist() == [1, 2, 0]
    assert annotation.ignore.tolist() == [False, True, False]
    assert annotation.image_size == (24, 40)
    image, gt_boxes = dataset[1]
    assert image.shape == (24, 40, 3) and image.dtype == np.uint8
    assert tuple(image[5, 5]) == (125, 60, 90) and tuple(image[0, 0]) == (255, 255, 255)
    assert dataset.max_boxes == 2
    np.testing.assert_array_equal(gt_boxes, [[1.5, 2, 10, 8, 1], [30, 20, 10, 4, 0]])
    np.testing.assert_array_equal(dataset[0][1], [[4, 4, 4, 4, 0], [0, 0, 0, 0, -1]])
    assert dataset.paths[0] == str(tmp_path / "COCO" / "train2017" / "000000000002.png")
    crowd = Coco("train", data_dir=str(tmp_path), use_ignored=True)
    assert crowd[1][1][:, 4].tolist() == [1, 2, 0]


def test_validation_keeps_images_without_annotations(tmp_path):
    _standard(tmp_path)
    dataset = Coco("validation", data_dir=str(tmp_path))
    assert dataset.image_ids == [2, 5, 9]
    assert len(dataset.annotation(2)) == 0
    assert dataset[2][1][:, 4].tolist() == [-1, -1]
    assert tuple(dataset[2][0][3, 3]) == (225, 60, 90)


def test_train_validation_saving_keeps_image_ids_aligned(tmp_path):
    _standard(tmp_path)
    kwargs = {"data_dir": str(tmp_path), "train_validation_saving_size": 1, "seed": 0}
    train, saving = Coco("train", **kwargs), Coco("train_validation_saving", **kwargs)
    assert sorted(train.image_ids + saving.image_ids) == [2, 5]
    for dataset in (train, saving):
        assert [int(os.path.basename(path)[:-4]) for path in dataset.paths] == dataset.image_ids


def test_default_class_names_are_the_80_coco_classes():
    assert len(Coco.classes) == 80 and Coco.classes[0] == "person" and Coco.classes[-1] == "toothbrush"
    assert COCO_CLASSES[Coco.classes.index("dining table")] == "dining table"


def test_header_size_used_when_json_lacks_it(tmp_path):
    root = tmp_path / "COCO"
    _write_subset(root, "val2017", [_image(1, size=(20, 30))], [_ann(1, 1, 1, [0, 0, 50, 50])])
    content = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    del content["images"][0]["width"], content["images"][0]["height"]
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(content))
    dataset = Coco("validation", data_dir=str(tmp_path))
    assert dataset.annotation(0).image_size == (20, 30)
    np.testing.assert_array_equal(dataset.annotation(0).boxes, [[0, 0, 30, 20]])


def _bad(tmp_path, annotations, images=None, write_images=True):
    root = tmp_path / "COCO"
    images = images or [_image(1), _image(2)]
    _write_subset(root, "train2017", images, annotations + [_ann(99, 2, 1, [1, 1, 2, 2])], write_images=write_images)
    return root


def _expect_problem(tmp_path, kind, file_name):
    with pytest.raises(DatasetError) as error:
        Coco("train", data_dir=str(tmp_path))
    assert file_name in str(error.value)
    dataset = Coco("train", data_dir=str(tmp_path), skip_bad_annotations=True)
    assert dict(dataset.bad_annotations.counts) == {kind: 1}
    return dataset


def test_box_outside_image_is_a_problem(tmp_path):
    _bad(tmp_path, [_ann(1, 1, 1, [50, 0, 5, 5]), _ann(2, 1, 3, [-5, -5, 10, 10])])
    dataset = _expect_problem(tmp_path, "empty box", "instances_train2017.json")
    assert dataset.image_ids == [1, 2]
    np.testing.assert_array_equal(dataset.annotation(0).boxes, [[0, 0, 5, 5]])  # partly outside: clipped


def test_unknown_category_is_a_problem(tmp_path):
    _bad(tmp_path, [_ann(1, 1, 2, [0, 0, 5, 5]), _ann(2, 1, 7, [0, 0, 5, 5])])
    dataset = _expect_problem(tmp_path, "unknown class", "instances_train2017.json")
    assert dataset.annotation(0).class_ids.tolist() == [2]


def test_malformed_bbox_is_a_problem(tmp_path):
    _bad(tmp_path, [_ann(1, 1, 1, [0, 0, 5]), _ann(2, 1, 7, [0, 0, 5, 5])])
    _expect_problem(tmp_path, "malformed annotation", "instances_train2017.json")


def test_missing_image_is_a_problem(tmp_path):
    root = _bad(tmp_path, [_ann(1, 1, 1, [0, 0, 5, 5])])
    os.remove(root / "train2017" / "000000000001.png")
    dataset = _expect_problem(tmp_path, "missing image", "000000000001.png")
    assert dataset.image_ids == [2]


@pytest.mark.parametrize("content", [
    '{"images": [',
    "[1, 2, 3]",
    '{"images": [], "annotations": [{"id": 1}], "categories": [{"id": 1, "name": "a"}]}',
    '{"images": [], "annotations": []}',
])
def test_malformed_json_names_file(tmp_path, content):
    (tmp_path / "COCO" / "annotations").mkdir(parents=True)
    path = tmp_path / "COCO" / "annotations" / "instances_train2017.json"
    path.write_text(content)
    for skip in (False, True):
        with pytest.raises(DatasetError) as error:
            Coco("train", data_dir=str(tmp_path), skip_bad_annotations=skip)
        assert str(path) in str(error.value)


def test_missing_annotation_file_names_it(tmp_path):
    _standard(tmp_path)
    os.remove(tmp_path / "COCO" / "annotations" / "instances_val2017.json")
    with pytest.raises(DatasetError) as error:
        Coco("validation", data_dir=str(tmp_path))
    assert "instances_val2017.json" in str(error.value)


def test_missing_directory_names_path(tmp_path):
    with pytest.raises(DatasetError) as error:
        Coco("train", data_dir=str(tmp_path), extend_dir="coco2017")
    assert os.path.join(str(tmp_path), "coco2017") in str(error.value)
