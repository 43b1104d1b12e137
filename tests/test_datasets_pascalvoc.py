"""PASCAL VOC loaders on real VOCdevkit folders (XML, JPEG and image-set files) written by the tests."""
import os
import pathlib

import numpy as np
import pytest

from lmnet.datasets import voc_writer
from lmnet.datasets.detection_base import Annotation, AnnotationStore
from lmnet.datasets.pascalvoc import VOC_CLASSES, parse_xml, read_voc_objects
from lmnet.datasets.pascalvoc_2007 import Pascalvoc2007
from lmnet.datasets.pascalvoc_2007_2012 import Pascalvoc20072012
from lmnet.datasets.pascalvoc_2012 import Pascalvoc2012
from lmnet.errors import DatasetError

DOG, PERSON, CAT = VOC_CLASSES.index("dog"), VOC_CLASSES.index("person"), VOC_CLASSES.index("cat")


def _color(image_id):
    return (int(image_id[-2:]) * 20 % 256, 100, 200)


def _devkit(data_dir, year):
    return pathlib.Path(voc_writer.devkit_dir(data_dir, year))


def _write_sample(devkit, image_id, objects, size=(32, 48), xml=None, image=True):
    """Writes ``Annotations/<id>.xml`` and a solid-colour ``JPEGImages/<id>.jpg`` of ``size`` = (h, w)."""
    array = np.zeros((size[0], size[1], 3), np.uint8)
    array[:, :] = _color(image_id)
    voc_writer.write_sample(devkit, image_id, objects, image=array if image else None, size=size, xml=xml)


def _simple_year(data_dir, year, splits, objects=(("dog", (1, 1, 10, 20), 0),)):
    """A year whose images all hold ``objects``; ``splits`` maps image-set name to ids."""
    devkit = _devkit(data_dir, year)
    for image_id in sorted({i for ids in splits.values() for i in ids}):
        _write_sample(devkit, image_id, list(objects))
    voc_writer.write_image_sets(devkit, **splits)
    return devkit


def _one_image(tmp_path, objects, **kwargs):
    """A 2007 devkit whose trainval is image 000001 (plus 000002 with one dog, as a good neighbour)."""
    devkit = _devkit(tmp_path, 2007)
    _write_sample(devkit, "000001", objects, **kwargs)
    _write_sample(devkit, "000002", [("dog", (2, 2, 5, 5), 0)])
    voc_writer.write_image_sets(devkit, trainval=["000001", "000002"], test=["000002"])
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
    _one_image(tmp_path, [("dog", (1, 1, 10, 20), 0)], size=(24, 40), xml=voc_writer.annotation_xml("000001", [
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


def _expected_annotation(devkit, image_id):
    """The annotation of one generated image, computed straight from its XML (no dataset involved)."""
    root = parse_xml(os.path.join(devkit, "Annotations", f"{image_id}.xml"))
    names, boxes, difficult, size = read_voc_objects(root)
    return np.asarray(boxes, np.float32).reshape(-1, 4), [VOC_CLASSES.index(n) for n in names], difficult, size


def test_generated_dataset_matches_its_xml_files(tmp_path):
    devkit = voc_writer.generate_dataset(tmp_path, 12, 3, image_size=(40, 56), workers=2)
    train = Pascalvoc2007("train", data_dir=str(tmp_path))
    validation = Pascalvoc2007("validation", data_dir=str(tmp_path))
    assert len(train) == 12 and len(validation) == 3
    counts = []
    for index, path in enumerate(train.paths):
        boxes, class_ids, difficult, size = _expected_annotation(devkit, os.path.basename(path)[:-4])
        annotation = train.annotation(index)
        np.testing.assert_array_equal(annotation.boxes, boxes)
        assert annotation.class_ids.tolist() == class_ids and annotation.ignore.tolist() == difficult
        assert annotation.image_size == size == (40, 56)
        image, gt_boxes = train[index]
        assert image.shape == (40, 56, 3)
        kept = ~np.asarray(difficult, bool)
        assert gt_boxes.shape == (train.max_boxes, 5)
        np.testing.assert_array_equal(gt_boxes[:kept.sum(), :4], boxes[kept])
        assert (gt_boxes[kept.sum():, 4] == -1).all()
        counts.append(int(kept.sum()))
    assert train.max_boxes == max(counts + [1])


def test_generate_dataset_is_deterministic(tmp_path):
    first = voc_writer.generate_dataset(tmp_path / "a", 5, 2, seed=3, workers=1)
    second = voc_writer.generate_dataset(tmp_path / "b", 5, 2, seed=3, workers=2)
    for name in ("Annotations/000004.xml", "JPEGImages/000007.jpg", "ImageSets/Main/test.txt"):
        assert (pathlib.Path(first) / name).read_bytes() == (pathlib.Path(second) / name).read_bytes()


def test_annotation_store_round_trip_and_counts():
    annotations = [Annotation([[0, 0, 4, 5], [1, 2, 3, 4]], [3, 7], [False, True], (10, 20)),
                   Annotation(np.zeros((0, 4)), [], [], (8, 9)),
                   Annotation([[2, 2, 2, 2]], [1], None, (5, 6))]
    store = AnnotationStore(annotations[:2])
    store.append(annotations[2])
    assert len(store) == 3
    for position, expected in enumerate(annotations):
        got = store[position]
        np.testing.assert_array_equal(got.boxes, expected.boxes)
        assert got.class_ids.dtype == np.int64 and got.class_ids.tolist() == expected.class_ids.tolist()
        assert got.ignore.tolist() == expected.ignore.tolist() and got.image_size == expected.image_size
        np.testing.assert_array_equal(store.gt_boxes(position), expected.gt_boxes())
        np.testing.assert_array_equal(store.gt_boxes(position, True), expected.gt_boxes(True))
    assert store.box_counts().tolist() == [1, 0, 1] and store.box_counts(True).tolist() == [2, 0, 1]
    store[0].boxes[:] = 99
    assert store[0].boxes[0, 0] == 0
    with pytest.raises(RuntimeError, match="frozen"):
        store.append(annotations[0])
    with pytest.raises(IndexError):
        store[3]


def test_lazy_annotations_give_the_same_samples_and_annotations(tmp_path):
    voc_writer.generate_dataset(tmp_path, 10, 4, image_size=(40, 56), workers=1)
    for subset in ("train", "validation"):
        eager = Pascalvoc2007(subset, data_dir=str(tmp_path), max_boxes=6)
        lazy = Pascalvoc2007(subset, data_dir=str(tmp_path), max_boxes=6, lazy_annotations=True)
        assert len(lazy) == len(eager) and lazy.paths == eager.paths and lazy.max_boxes == 6
        for index in range(len(eager)):
            for got, expected in zip(lazy[index], eager[index]):
                np.testing.assert_array_equal(got, expected)
            got, expected = lazy.annotation(index), eager.annotation(index)
            np.testing.assert_array_equal(got.boxes, expected.boxes)
            assert got.class_ids.tolist() == expected.class_ids.tolist()
            assert got.ignore.tolist() == expected.ignore.tolist() and got.image_size == expected.image_size


def test_lazy_annotations_read_no_xml_up_front_and_report_a_bad_one_when_read(tmp_path):
    devkit = _one_image(tmp_path, [("unicorn", (1, 1, 10, 20), 0)])
    dataset = Pascalvoc2007("train", data_dir=str(tmp_path), max_boxes=4, lazy_annotations=True)
    os.remove(devkit / "Annotations" / "000002.xml")  # building read neither file
    assert len(dataset) == 2
    with pytest.raises(DatasetError, match=r"000001\.xml: unknown class 'unicorn'"):
        dataset[0]
    with pytest.raises(DatasetError, match=r"000002\.xml: annotation file not found"):
        dataset.annotation(1)


@pytest.mark.parametrize("options, message", [
    ({}, "lazy_annotations=True needs max_boxes"),
    ({"max_boxes": 4, "skip_bad_annotations": True}, "lazy_annotations=True cannot skip bad annotations"),
])
def test_lazy_annotations_need_max_boxes_and_no_skipping(tmp_path, options, message):
    _one_image(tmp_path, [("dog", (1, 1, 10, 20), 0)])
    with pytest.raises(DatasetError, match=message):
        Pascalvoc2007("train", data_dir=str(tmp_path), lazy_annotations=True, **options)
