"""What lmnet refuses in the data: archives past their limits, empty subsets, impossible image shapes, a
BATCH_SIZE larger than the training subset, COCO annotations of unknown images, and what
``skip_bad_annotations=True`` skips. Every file is written by the test in its real on-disk format, in
``tmp_path``; the cases a user meets through ``train.py`` are run through it (one ``error:`` line, exit 2).
"""
import csv
import gzip
import io
import json
import os
import re
import struct
import tarfile
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from executor import train as train_executor
from lmnet.datasets.coco import Coco
from lmnet.datasets.download import MAX_EXTRACT_BYTES, extract
from lmnet.datasets.mnist import Mnist
from lmnet.datasets.open_images_v4 import OpenImagesV4
from lmnet.datasets.pascalvoc_2007 import Pascalvoc2007
from lmnet.datasets.synthetic_shapes import SyntheticShapes
from lmnet.datasets.yolo_txt import YoloTxt
from lmnet.errors import DatasetError
from lmnet.pipeline import SampleProcessor, eval_dataset, train_dataset
from lmnet.pre_processor import DivideBy255
from tests.conftest import TINY_DETECTION_CONFIG, one_error_line, write_tiny_config


# ------------------------------------------------------------------------------------------------- helpers

@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """OUTPUT_DIR and DATA_DIR inside ``tmp_path``; returns the data folder."""
    monkeypatch.setenv("OUTPUT_DIR", str(tmp_path / "saved"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "dataset"))
    return tmp_path / "dataset"


def _train(config):
    return CliRunner().invoke(train_executor.main, ["-c", config, "-i", "data", "--no_progress"])


def _one_error_line(result):
    return one_error_line(result.exit_code, result.output)


def _tree(root):
    return sorted(os.path.relpath(os.path.join(folder, name), root)
                  for folder, folders, files in os.walk(root) for name in folders + files)


def _add(tar, name, data=b""):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _png_bytes(height=24, width=32, value=90):
    stream = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), value, np.uint8)).save(stream, "PNG")
    return stream.getvalue()


def _jpeg_bytes(height=24, width=32):
    rng = np.random.default_rng(0)
    stream = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(stream, "JPEG", quality=90)
    return stream.getvalue()


def _broken(good, how):
    """An image file that cannot be decoded: cut in half (its header still reads) or not an image at all."""
    return good[:len(good) // 2] if how == "truncated" else b"<html>404 not found</html>"


# ------------------------------------------------------------------------------------------------ archives

def test_tar_whose_headers_declare_more_than_the_default_limit_is_refused_before_writing(tmp_path):
    archive = tmp_path / "bomb.tar"
    header = tarfile.TarInfo("huge.bin")
    header.size = MAX_EXTRACT_BYTES + 1
    archive.write_bytes(header.tobuf() + bytes(2 * tarfile.BLOCKSIZE))  # a header only: the file on disk is tiny
    assert tarfile.open(archive).next().size == MAX_EXTRACT_BYTES + 1
    out = tmp_path / "out"
    with pytest.raises(DatasetError) as error:
        extract(str(archive), str(out))
    message = str(error.value)
    assert str(archive) in message and "max_bytes=4294967296" in message and "4.0 GiB" in message
    assert "its headers declare" in message and "'huge.bin'" in message
    assert os.listdir(out) == []


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_archive_over_an_explicit_size_limit_is_refused_before_writing(tmp_path, kind):
    archive = tmp_path / f"big.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
            for index in range(3):
                bundle.writestr(f"part{index}.bin", bytes(600))
    else:
        with tarfile.open(archive, "w:gz") as tar:
            for index in range(3):
                _add(tar, f"part{index}.bin", bytes(600))
    out = tmp_path / "out"
    with pytest.raises(DatasetError, match=r"max_bytes=1000, passed at member 'part1.bin'") as error:
        extract(str(archive), str(out), max_bytes=1000)
    assert str(archive) in str(error.value)
    assert os.listdir(out) == []
    extract(str(archive), str(tmp_path / "allowed"), max_bytes=1800)  # the limit is overridable
    assert _tree(tmp_path / "allowed") == ["part0.bin", "part1.bin", "part2.bin"]


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_archive_with_too_many_members_is_refused_before_writing(tmp_path, kind):
    archive = tmp_path / f"many.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as bundle:
            for index in range(6):
                bundle.writestr(f"f{index}.txt", "x")
    else:
        with tarfile.open(archive, "w") as tar:
            for index in range(6):
                _add(tar, f"f{index}.txt", b"x")
    out = tmp_path / "out"
    with pytest.raises(DatasetError) as error:
        extract(str(archive), str(out), max_members=5)
    assert str(archive) in str(error.value) and "more than 5 members (limit max_members=5)" in str(error.value)
    assert os.listdir(out) == []


def test_gzip_bomb_is_stopped_while_writing_and_leaves_nothing(tmp_path):
    archive = tmp_path / "zeros.bin.gz"
    with gzip.open(archive, "wb") as stream:
        stream.write(bytes(3 * 1024 * 1024))
    assert archive.stat().st_size < 20_000  # a .gz file says nothing reliable about its size
    out = tmp_path / "out"
    with pytest.raises(DatasetError) as error:
        extract(str(archive), str(out), max_bytes=1024 * 1024)
    assert str(archive) in str(error.value) and "its members unpack to more than 1.0 MiB" in str(error.value)
    assert os.listdir(out) == []  # neither the result nor the temporary file


def _lying_zip(path, payload, declared):
    """A zip whose member ``data.bin`` holds ``payload`` but whose headers declare ``declared`` bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("data.bin", payload)
    content = bytearray(path.read_bytes())
    true_size = struct.pack("<I", len(payload))
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, central directory
        start = content.index(signature)
        assert content[start + offset:start + offset + 4] == true_size
        content[start + offset:start + offset + 4] = struct.pack("<I", declared)
    path.write_bytes(bytes(content))


def test_zip_member_larger_than_its_header_says_is_refused_and_removed(tmp_path):
    archive = tmp_path / "liar.zip"
    _lying_zip(archive, bytes(200_000), declared=100)
    assert zipfile.ZipFile(archive).getinfo("data.bin").file_size == 100
    out = tmp_path / "out"
    with pytest.raises(DatasetError) as error:
        extract(str(archive), str(out))
    assert str(archive) in str(error.value) and "data.bin" in str(error.value)
    assert os.listdir(out) == []  # the partly written member was removed


def test_zip_refuses_members_that_escape_by_name_or_through_a_link_on_disk(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("linked/escaped.txt", "pwned")
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (out / "linked").symlink_to(outside)  # left by an earlier extraction
    with pytest.raises(DatasetError, match="refusing member 'linked/escaped.txt': links on disk lead outside"):
        extract(str(archive), str(out))
    assert os.listdir(outside) == []
    file_link = tmp_path / "file_link.zip"
    with zipfile.ZipFile(file_link, "w") as bundle:
        bundle.writestr("notes.txt", "pwned")
    (out / "notes.txt").symlink_to(outside / "notes.txt")
    with pytest.raises(DatasetError, match="refusing member 'notes.txt': links on disk lead outside"):
        extract(str(file_link), str(out))
    assert os.listdir(outside) == []
    absolute = tmp_path / "absolute.zip"
    with zipfile.ZipFile(absolute, "w") as bundle:
        bundle.writestr(zipfile.ZipInfo("/tmp/lmnet_absolute_member.txt"), "pwned")
    with pytest.raises(DatasetError, match="absolute path"):
        extract(str(absolute), str(tmp_path / "out2"))
    assert not os.path.exists("/tmp/lmnet_absolute_member.txt")


def test_zip_with_folders_still_extracts(tmp_path):
    archive = tmp_path / "fine.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(zipfile.ZipInfo("top/empty/"), "")
        bundle.writestr("top/sub/a.txt", "alpha")
    extract(str(archive), str(tmp_path / "out"))
    assert _tree(tmp_path / "out") == ["top", "top/empty", "top/sub", "top/sub/a.txt"]
    assert (tmp_path / "out" / "top" / "sub" / "a.txt").read_text() == "alpha"


# ------------------------------------------------------------------------------------ MNIST through train.py

def _idx_images(count, rows, columns):
    pixels = np.arange(count * rows * columns, dtype=np.uint8).tobytes()
    return struct.pack(">IIII", 0x00000803, count, rows, columns) + pixels


def _idx_labels(count):
    return struct.pack(">II", 0x00000801, count) + bytes(index % 10 for index in range(count))


def _write_mnist(data_dir, train_shape):
    """Real idx files: ``train_shape`` = (count, rows, columns) for the training images, 4 good t10k images."""
    folder = data_dir / "MNIST"
    folder.mkdir(parents=True)
    (folder / "train-images-idx3-ubyte").write_bytes(_idx_images(*train_shape))
    (folder / "train-labels-idx1-ubyte").write_bytes(_idx_labels(train_shape[0]))
    (folder / "t10k-images-idx3-ubyte").write_bytes(_idx_images(4, 28, 28))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(_idx_labels(4))
    return folder / "train-images-idx3-ubyte"


def _mnist_config(tmp_path):
    return write_tiny_config(str(tmp_path), name="mnist.py", max_steps=2, save_steps=2, test_steps=2,
                             extra="from lmnet.datasets.mnist import Mnist\nfrom lmnet.pre_processor import Resize\n"
                                   "DATASET_CLASS = Mnist\nDATASET.OPTIONS = {}\n"
                                   "PRE_PROCESSOR = Sequence([Resize(size=IMAGE_SIZE), DivideBy255()])\n")


@pytest.mark.parametrize("shape, dims", [((3, 0, 28), "(0, 28)"), ((3, 28, 0), "(28, 0)")])
def test_mnist_images_without_rows_or_columns_are_refused(dirs, tmp_path, shape, dims):
    path = _write_mnist(dirs, shape)
    line = _one_error_line(_train(_mnist_config(tmp_path)))
    assert line == (f"error: {path}: idx header gives each sample the shape {dims}; every dimension after the count "
                    "(rows, columns) must be at least 1")


def test_mnist_training_file_with_no_images_is_an_empty_subset(dirs, tmp_path):
    path = _write_mnist(dirs, (0, 28, 28))
    line = _one_error_line(_train(_mnist_config(tmp_path)))
    assert line == f"error: Mnist: the train subset has no samples (read from {path}); every subset needs at least one"


# ------------------------------------------------------------------- empty subsets and BATCH_SIZE, train.py

def test_empty_validation_subset_is_refused(dirs, tmp_path):
    config = write_tiny_config(str(tmp_path), max_steps=2, extra="DATASET.OPTIONS = {'image_size': IMAGE_SIZE, "
                               "'num_train': 16, 'num_validation': 0}\n")
    line = _one_error_line(_train(config))
    assert line == ("error: SyntheticShapes: the validation subset has no samples (DATASET.OPTIONS has "
                    "num_validation=0); every subset needs at least one")


def test_batch_larger_than_the_training_subset_is_refused(dirs, tmp_path):
    config = write_tiny_config(str(tmp_path), max_steps=2, extra="BATCH_SIZE = 100000\nDATASET.OPTIONS = "
                               "{'image_size': IMAGE_SIZE, 'num_train': 64, 'num_validation': 8}\n")
    line = _one_error_line(_train(config))
    assert line == ("error: BATCH_SIZE 100000 is larger than the 64 samples of the train subset of SyntheticShapes: "
                    "every batch would repeat samples; set BATCH_SIZE to at most 64 or add data")
    assert not list((tmp_path / "saved" / "data" / "checkpoints").glob("save.ckpt-*"))


def test_batch_larger_than_the_held_out_training_is_refused_with_the_subset_size(dirs, tmp_path):
    config = write_tiny_config(str(tmp_path), max_steps=2, tvs=20, extra="BATCH_SIZE = 50\nDATASET.OPTIONS = "
                               "{'image_size': IMAGE_SIZE, 'num_train': 64, 'num_validation': 8}\n")
    line = _one_error_line(_train(config))
    assert "BATCH_SIZE 50 is larger than the 44 samples of the train subset" in line


def test_batch_larger_than_validation_is_fine_its_only_batch_is_partial(dirs, tmp_path):
    config = write_tiny_config(str(tmp_path), max_steps=2, save_steps=2, test_steps=2, extra="DATASET.OPTIONS = "
                               "{'image_size': IMAGE_SIZE, 'num_train': 16, 'num_validation': 3}\n")
    result = _train(config)
    assert result.exit_code == 0, result.output
    assert "final validation" in result.output


def test_the_pipeline_checks_the_batch_and_evaluation_keeps_a_partial_batch():
    dataset = SyntheticShapes("validation", image_size=(8, 8), num_train=8, num_validation=3)
    processor = SampleProcessor(dataset, DivideBy255(), image_size=(8, 8))
    with pytest.raises(DatasetError, match="BATCH_SIZE 4 is larger than the 3 samples of the validation subset"):
        train_dataset(processor, 4, seed=0)
    images, labels = next(iter(eval_dataset(processor, 4, prefetch=False)))
    assert images.shape == (3, 8, 8, 3) and labels.shape == (3,)


# ------------------------------------------------------------------------------------------------------ COCO

CATEGORIES = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 7, "name": "kite"}]


def _coco_image(image_id, sized=True):
    image = {"id": image_id, "file_name": f"{image_id:012d}.png"}
    return {**image, "height": 24, "width": 32} if sized else image


def _coco_annotation(annotation_id, image_id, category_id=3):
    return {"id": annotation_id, "image_id": image_id, "category_id": category_id, "bbox": [2, 3, 10, 8],
            "iscrowd": 0, "area": 80.0}


def _write_coco(data_dir, annotations, images=None, image_bytes=None):
    """Real ``instances_{train,val}2017.json`` files and PNG images (``image_bytes``: {image id: file content})."""
    root = data_dir / "COCO"
    images = images or [_coco_image(1), _coco_image(2), _coco_image(3)]
    for name in ("train2017", "val2017"):
        (root / name).mkdir(parents=True)
        for image in images:
            content = (image_bytes or {}).get(image["id"], _png_bytes())
            (root / name / image["file_name"]).write_bytes(content)
    (root / "annotations").mkdir()
    for name in ("train2017", "val2017"):
        content = {"images": images, "annotations": annotations, "categories": CATEGORIES}
        (root / "annotations" / f"instances_{name}.json").write_text(json.dumps(content))
    return root


def test_coco_annotation_of_an_unknown_image_id_is_refused_through_train(dirs, tmp_path):
    root = _write_coco(dirs, [_coco_annotation(1, 1), _coco_annotation(7, 42), _coco_annotation(2, 2)])
    config = tmp_path / "coco.py"
    config.write_text(TINY_DETECTION_CONFIG.format(max_steps=2, save_steps=2, test_steps=2)
                      + "from lmnet.datasets.coco import Coco\nDATASET_CLASS = Coco\n"
                        "CLASSES = ['person', 'car', 'kite']\nDATASET.OPTIONS = {}\n")
    line = _one_error_line(_train(str(config)))
    json_path = root / "annotations" / "instances_train2017.json"
    assert line == (f"error: {json_path}, annotation id 7: image_id 42 is not in the file's images (build the "
                    "dataset with skip_bad_annotations=True to skip such entries)")


def test_coco_unknown_image_ids_are_counted_when_skipping(dirs, capsys):
    _write_coco(dirs, [_coco_annotation(1, 1), _coco_annotation(7, 42), _coco_annotation(8, "x"),
                       _coco_annotation(2, 2)])
    dataset = Coco("train", data_dir=str(dirs), skip_bad_annotations=True)
    assert dataset.image_ids == [1, 2] and dataset.bad_annotations.counts == {"unknown image id": 2}
    assert "Coco: skipped unknown image id: 2 (skip_bad_annotations=True)" in capsys.readouterr().out


def test_coco_train_subset_left_empty_by_skipping_says_what_was_skipped(dirs):
    root = _write_coco(dirs, [_coco_annotation(1, 1)], images=[_coco_image(1)], image_bytes={1: b"not an image"})
    with pytest.raises(DatasetError) as error:
        Coco("train", data_dir=str(dirs), skip_bad_annotations=True)
    assert str(error.value) == (f"Coco: the train subset has no samples (read from {root}; skipped unreadable image: "
                                "1 (skip_bad_annotations=True)); every subset needs at least one")


# ------------------------------------------------------------------ undecodable images, every detection loader

def _voc_xml(image_id, sized):
    size = "<size><width>32</width><height>24</height><depth>3</depth></size>" if sized else ""
    return (f"<annotation><filename>{image_id}.jpg</filename>{size}<object><name>car</name><difficult>0</difficult>"
            "<bndbox><xmin>3</xmin><ymin>4</ymin><xmax>12</xmax><ymax>11</ymax></bndbox></object></annotation>")


def _write_voc(data_dir, broken):
    devkit = data_dir / "PASCALVOC_2007" / "VOCdevkit" / "VOC2007"
    for folder in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (devkit / folder).mkdir(parents=True)
    ids = ["000001", "000002", "000003"]
    for image_id in ids:
        content = broken if image_id == "000002" else _jpeg_bytes()
        (devkit / "JPEGImages" / f"{image_id}.jpg").write_bytes(content)
        (devkit / "Annotations" / f"{image_id}.xml").write_text(_voc_xml(image_id, sized=image_id != "000003"))
    for split in ("trainval", "test"):
        (devkit / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return devkit / "JPEGImages" / "000002.jpg", lambda **options: Pascalvoc2007("train", str(data_dir), **options)


def _write_coco_layout(data_dir, broken):
    images = [_coco_image(1), _coco_image(2), _coco_image(3, sized=False)]
    root = _write_coco(data_dir, [_coco_annotation(index, index) for index in (1, 2, 3)], images, {2: broken})
    return root / "train2017" / "000000000002.png", lambda **options: Coco("train", str(data_dir), **options)


def _write_yolo(data_dir, broken):
    root = data_dir / "yolo"
    (root / "train" / "images").mkdir(parents=True)
    (root / "train" / "labels").mkdir(parents=True)
    (root / "classes.txt").write_text("person\ncar\n")
    for stem in ("a", "b", "c"):
        (root / "train" / "images" / f"{stem}.png").write_bytes(broken if stem == "b" else _png_bytes())
        (root / "train" / "labels" / f"{stem}.txt").write_text("1 0.5 0.5 0.25 0.25\n")
    return root / "train" / "images" / "b.png", lambda **options: YoloTxt("train", str(data_dir), **options)


def _write_open_images(data_dir, broken):
    root = data_dir / "open_images_v4"
    (root / "images").mkdir(parents=True)
    (root / "class-descriptions.csv").write_text("/m/car,Car\n")
    with open(root / "annotations-bbox.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["ImageID", "LabelName", "XMin", "XMax", "YMin", "YMax", "IsGroupOf"])
        for image_id in ("a", "b", "c"):
            writer.writerow([image_id, "/m/car", 0.1, 0.5, 0.2, 0.6, 0])
            (root / "images" / f"{image_id}.jpg").write_bytes(broken if image_id == "b" else _jpeg_bytes())
    return root / "images" / "b.jpg", lambda **options: OpenImagesV4("train", str(data_dir), validation_ratio=0,
                                                                     **options)


LOADERS = {"pascalvoc": (_write_voc, _jpeg_bytes), "coco": (_write_coco_layout, _png_bytes),
           "yolo_txt": (_write_yolo, _png_bytes), "open_images": (_write_open_images, _jpeg_bytes)}


@pytest.mark.parametrize("how", ["truncated", "garbage"])
@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_skip_bad_annotations_skips_and_counts_undecodable_images(tmp_path, capsys, loader, how):
    write, good = LOADERS[loader]
    bad_path, build = write(tmp_path / "dataset", _broken(good(), how))
    dataset = build(skip_bad_annotations=True)
    assert len(dataset) == 2 and str(bad_path) not in dataset.paths
    assert dataset.bad_annotations.counts == {"unreadable image": 1}
    assert "skipped unreadable image: 1 (skip_bad_annotations=True)" in capsys.readouterr().out
    for index in range(len(dataset)):  # what is left can be read, as training will
        image, boxes = dataset[index]
        assert image.shape == (24, 32, 3) and boxes.shape == (1, 5)


@pytest.mark.parametrize("how", ["truncated", "garbage"])
@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_undecodable_image_without_skipping_is_an_error_naming_it(tmp_path, loader, how):
    write, good = LOADERS[loader]
    bad_path, build = write(tmp_path / "dataset", _broken(good(), how))
    # refused when the dataset is built (header unreadable) or when the sample is read (header fine, body broken)
    with pytest.raises(DatasetError, match=re.escape(str(bad_path))):
        dataset = build()
        for index in range(len(dataset)):
            dataset[index]


def test_unreadable_header_without_skipping_suggests_the_option(tmp_path):
    bad_path, build = _write_yolo(tmp_path / "dataset", b"not an image")
    with pytest.raises(DatasetError) as error:
        build()
    assert str(bad_path) in str(error.value) and "cannot read image header" in str(error.value)
    assert str(error.value).endswith("(build the dataset with skip_bad_annotations=True to skip such entries)")


def test_mnist_empty_and_shapeless_files_directly(tmp_path):
    path = _write_mnist(tmp_path, (2, 0, 0))
    with pytest.raises(DatasetError, match=r"idx header gives each sample the shape \(0, 0\)"):
        Mnist("train", data_dir=str(tmp_path))
    path.write_bytes(_idx_images(0, 28, 28))
    (path.parent / "train-labels-idx1-ubyte").write_bytes(_idx_labels(0))
    with pytest.raises(DatasetError, match="the train subset has no samples"):
        Mnist("train", data_dir=str(tmp_path))
    assert len(Mnist("validation", data_dir=str(tmp_path))) == 4
