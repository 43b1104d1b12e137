"""PASCAL VOC loaders on real VOCdevkit folders (XML, JPEG and image-set files) written by the tests."""
import os

import numpy as np
import pytest
from PIL import Image

from lmnet.datasets.pascalvoc import VOC_CLASSES
from lmnet.datasets.pascalvoc_2007 import Pascalvoc2007
from lmnet.datasets.pascalvoc_2007_2012 import Pascalvoc20072012
from lmnet.datasets.pascalvoc_2012 import Pascalvoc2012
from lmnet.errors import DatasetError

DOG, PERSON, CAT = VOC_CLASSES.index("dog"), VOC_CLASSES.index("person"), VOC_CLASSES.index("cat")


def _object_xml(name, box, difficult=0):
    xmin, ymin, xmax, ymax = box
    return (f"<object><name>{name}</name><pose>Left</pose><truncated>0</truncated><difficult>{difficult}</difficult>"
            f"<bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>")


def _annotation_xml(image_id, objects, size=(32, 48)):
    """A VOC annotation; ``objects`` are ``(name, (xmin, ymin, xmax, ymax), difficult)``; size is (h, w)."""
    size_xml = "" if size is None else (f"<size><width>{size[1]}</width><height>{size[0]}</height>"
                                        "<depth>3</depth></size>")
    body = "".join(_object_xml(*obj) for obj in objects)
    return (f"<annotation><folder>VOC</folder><filename>{image_id}.jpg</filename>{size_xml}"
            f"<segmented>0</segmented>{body}</annotation>")


def _color(image_id):
    return (int(image_id[-2:]) * 20 % 256, 100, 200)


def _devkit(data_dir, year):
    return data_dir / f"PASCALVOC_{year}" / "VOCdevkit" / f"VOC{year}"


def _write_sample(devkit, image_id, objects, size=(32, 48), xml=None, image=True):
    """Writes ``Annotations/<id>.xml`` and a solid-colour ``JPEGImages/<id>.jpg`` of ``size`` = (h, w)."""
    (devkit / "Annotations").mkdir(parents=True, exist_ok=True)
    (devkit / "JPEGImages").mkdir(parents=True, exist_ok=True)
    text = xml if xml is not None else _annotation_xml(image_id, objects, size)
    (devkit / "Annotations" / f"{image_id}.xml").write_text(text)
    if image:
        array = np.zeros((size[0], size[1], 3), np.uint8)
        array[:, :] = _color(image_id)
        Image.fromarray(array).save(devkit / "JPEGImages" / f"{image_id}.jpg", quality=95)


def _write_sets(devkit, **splits):
    folder = devkit / "ImageSets" / "Main"
    folder.mkdir(parents=True, exist_ok=True)
    for split, ids in splits.items():
        (folder / f"{split}.txt").write_text("".join(f"{image_id}\n" for image_id in ids))


def _simple_year(data_dir, year, splits, objects=(("dog", (1, 1, 10, 20), 0),)):
    """A year whose images all hold ``objects``; ``splits`` maps image-set name to ids."""
    devkit = _devkit(data_dir, year)
    for image_id in sorted({i for ids in splits.values() for i in ids}):
        _write_sample(devkit, image_id, list(objects))
    _write_sets(devkit, **splits)
    return devkit


def _one_image(tmp_path, objects, **kwargs):
    """A 2007 devkit whose trainval is image 000001 (plus 000002 with one dog, as a good neighbour)."""
    devkit = _devkit(tmp_path, 2007)
    _write_sample(devkit, "000001", objects, **kwargs)
    _write_sample(devkit, "000002", [("dog", (2, 2, 5, 5), 0)])
    _write_sets(devkit, trainval=["000001", "000002"], test=["000002"])
    return devkit


def test_box_conversion_classes_difficult_and_pixels(tmp_path):
    _one_image(tmp_path, [("dog", (1, 1, 10, 20), 0), ("person", (5, 6, 30, 32), 1), ("cat", (11, 3, 48, 12), 0)])
    dataset = Pascalvoc2007("train", data_dir=str(tmp_path))
    assert dataset.classes == VOC_CLASSES and dataset.num_classes == 20
    assert len(dataset) == 2 and dataset.max_boxes == 2
    annotation = dataset.annotation(0)
    np.testing.assert_array_equal(annotation.boxes, [[0, 0, 10, 20], [4, 5, 26, 27], [10, 2, 38, 10]])
    assert annotation.class_ids.tolist() == [DOG, PERSON, CAT]
    assert annotation.ignore.tolist() == [False, True, False]
    assert annotation.image_size == (32, 48)
    image, gt_boxes = dataset[0]
    assert image.shape == (32, 48, 3) and image.dtype == np.uint8
    assert np.all(np.abs(image[16, 24].astype(int) - _color("000001")) <= 3)
    assert gt_boxes.shape == (2, 5) and gt_boxes.dtype == np.float32
    np.testing.assert_array_equal(gt_boxes, [[0, 0, 10, 20, DOG], [10, 2, 38, 10, CAT]])
    np.testing.assert_array_equal(dataset[1][1], [[1, 1, 4, 4, DOG], [0, 0, 0, 0, -1]])
    assert dataset.paths[0] == str(_devkit(tmp_path, 2007) / "JPEGImages" / "000001.jpg")


def test_use_ignored_and_max_boxes(tmp_path):
    _one_image(tmp_path, [("dog", (1, 1, 10, 20), 0), ("person", (5, 6, 30, 32), 1)])
    dataset = Pascalvoc2007("train", data_dir=str(tmp_path), use_ignored=True, max_boxes=4)
    gt_boxes = dataset[0][1]
    assert gt_boxes.shape == (4, 5)
    assert gt_boxes[:, 4].tolist() == [DOG, PERSON, -1, -1]
    np.testing.assert_array_equal(gt_boxes[1, :4], [4, 5, 26, 27])


def test_2007_subsets(tmp_path):
    _simple_year(tmp_path, 2007, {"train": ["000001"], "val": ["000002"], "trainval": ["000001", "000002"],
                                  "test": ["000003"]})
    train = Pascalvoc2007("train", data_dir=str(tmp_path))
    validation = Pascalvoc2007("test", data_dir=str(tmp_path))
    assert [os.path.basename(p) for p in train.paths] == ["000001.jpg", "000002.jpg"]
    assert [os.path.basename(p) for p in validation.paths] == ["000003.jpg"]


def test_2012_subsets(tmp_path):
    _simple_year(tmp_path, 2012, {"train": ["2012_000001"], "val": ["2012_000002", "2012_000003"],
                                  "trainval": ["2012_000001", "2012_000002", "2012_000003"]})
    train = Pascalvoc2012("train", data_dir=str(tmp_path))
    validation = Pascalvoc2012("validation", data_dir=str(tmp_path))
    assert [os.path.basename(p) for p in train.paths] == ["2012_000001.jpg"]
    assert [os.path.basename(p) for p in validation.paths] == ["2012_000002.jpg", "2012_000003.jpg"]
    assert str(_devkit(tmp_path, 2012)) in train.paths[0]


def test_2007_2012_union(tmp_path):
    _simple_year(tmp_path, 2007, {"trainval": ["000001", "000002"], "test": ["000003"]})
    _simple_year(tmp_path, 2012, {"train": ["2012_000001"], "val": ["2012_000002"],
                                  "trainval": ["2012_000001", "2012_000002"]},
                 objects=[("cat", (1, 1, 4, 4), 0), ("dog", (2, 2, 8, 8), 1)])
    train = Pascalvoc20072012("train", data_dir=str(tmp_path))
    validation = Pascalvoc20072012("validation", data_dir=str(tmp_path))
    assert [os.path.basename(p) for p in train.paths] == ["000001.jpg", "000002.jpg", "2012_000001.jpg",
                                                          "2012_000002.jpg"]
    assert [os.path.basename(p) for p in validation.paths] == ["000003.jpg"]
    assert train.annotation(3).class_ids.tolist() == [CAT, DOG]
    assert train.annotation(3).ignore.tolist() == [False, True]
    assert train.max_boxes == 1
    # the union's validation needs only 2007
    (tmp_path / "only2007").mkdir()
    os.rename(tmp_path / "PASCALVOC_2007", tmp_path / "only2007" / "PASCALVOC_2007")
    assert len(Pascalvoc20072012("validation", data_dir=str(tmp_path / "only2007"))) == 1
    with pytest.raises(DatasetError) as error:
        Pascalvoc20072012("train", data_dir=str(tmp_path / "only2007"))
    assert str(tmp_path / "only2007" / "PASCALVOC_2012" / "VOCdevkit" / "VOC2012") in str(error.value)


def test_box_partly_outside_is_clipped(tmp_path):
    _one_image(tmp_path, [("dog", (40, -3, 60, 10), 0)])
    annotation = Pascalvoc2007("train", data_dir=str(tmp_path)).annotation(0)
    np.testing.assert_array_equal(annotation.boxes, [[39, 0, 9, 10]])


def test_missing_size_reads_image_header(tmp_path):
    _one_image(tmp_path, [("dog", (1, 1, 10, 20), 0)], size=(24, 40), xml=_annotation_xml("000001", [
        ("dog", (1, 1, 10, 20), 0)], size=None))
    dataset = Pascalvoc2007("train", data_dir=str(tmp_path))
    assert dataset.annotation(0).image_size == (24, 40)
    assert dataset[0][0].shape == (24, 40, 3)


def _expect_problem(tmp_path, kind, file_name, dataset_class=Pascalvoc2007):
    """Without skipping: a DatasetError naming ``file_name``; with skipping: counted once as ``kind``."""
    with pytest.raises(DatasetError) as error:
        dataset_class("train", data_dir=str(tmp_path))
    assert file_name in str(error.value)
    dataset = dataset_class("train", data_dir=str(tmp_path), skip_bad_annotations=True)
    assert dict(dataset.bad_annotations.counts) == {kind: 1}
    return dataset


def test_box_outside_image_is_a_problem(tmp_path, capsys):
    _one_image(tmp_path, [("dog", (1, 1, 10, 20), 0), ("cat", (50, 1, 60, 20), 0)])
    dataset = _expect_problem(tmp_path, "empty box", "000001.xml")
    assert len(dataset) == 2 and dataset.annotation(0).class_ids.tolist() == [DOG]
    assert "skipped empty box: 1" in capsys.readouterr().out


def test_unknown_class_is_a_problem(tmp_path):
    _one_image(tmp_path, [("unicorn", (1, 1, 10, 20), 0), ("cat", (1, 1, 5, 5), 0)])
    dataset = _expect_problem(tmp_path, "unknown class", "000001.xml")
    assert dataset.annotation(0).class_ids.tolist() == [CAT]


def test_missing_image_is_a_problem(tmp_path):
    devkit = _one_image(tmp_path, [("dog", (1, 1, 10, 20), 0)])
    os.remove(devkit / "JPEGImages" / "000001.jpg")
    dataset = _expect_problem(tmp_path, "missing image", "000001.jpg")
    assert [os.path.basename(p) for p in dataset.paths] == ["000002.jpg"]


@pytest.mark.parametrize("xml", [
    "<annotation><object><name>dog</name>",
    "<annotation><object><name>dog</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax></bndbox>"
    "</object></annotation>",
    "<annotation><object><name>dog</name><bndbox><xmin>one</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax>"
    "</bndbox></object></annotation>",
    "<annotation><object><name>dog</name></object></annotation>",
])
def test_malformed_xml_is_a_problem(tmp_path, xml):
    _one_image(tmp_path, [], xml=xml)
    dataset = _expect_problem(tmp_path, "malformed annotation", "000001.xml")
    assert len(dataset) == 1


def test_doctype_and_entities_are_refused(tmp_path):
    xml = ('<?xml version="1.0"?><!DOCTYPE annotation [<!ENTITY a "dog"><!ENTITY b "&a;&a;&a;">]>'
           "<annotation><object><name>&b;</name></object></annotation>")
    _one_image(tmp_path, [], xml=xml)
    for skip in (False, True):
        with pytest.raises(DatasetError) as error:
            Pascalvoc2007("train", data_dir=str(tmp_path), skip_bad_annotations=skip)
        assert "000001.xml" in str(error.value) and "DOCTYPE" in str(error.value)


def test_missing_image_set_names_file(tmp_path):
    devkit = _simple_year(tmp_path, 2007, {"trainval": ["000001"]})
    with pytest.raises(DatasetError) as error:
        Pascalvoc2007("validation", data_dir=str(tmp_path))
    assert str(devkit / "ImageSets" / "Main" / "test.txt") in str(error.value)


@pytest.mark.parametrize("dataset_class, folder", [(Pascalvoc2007, "PASCALVOC_2007"),
                                                   (Pascalvoc2012, "PASCALVOC_2012"),
                                                   (Pascalvoc20072012, "PASCALVOC_2007")])
def test_missing_directory_names_path(tmp_path, dataset_class, folder):
    with pytest.raises(DatasetError) as error:
        dataset_class("train", data_dir=str(tmp_path))
    assert os.path.join(str(tmp_path), folder) in str(error.value)
    assert "VOCdevkit" in str(error.value)


def test_missing_devkit_inside_year_folder_names_path(tmp_path):
    (tmp_path / "PASCALVOC_2012" / "VOC2012").mkdir(parents=True)
    with pytest.raises(DatasetError) as error:
        Pascalvoc2012("train", data_dir=str(tmp_path))
    assert str(_devkit(tmp_path, 2012)) in str(error.value)
