"""The sample cache (DATASET.CACHE_DIR) on real VOC folders and cache files written by the tests."""
import os
import pathlib
import threading
import time

import numpy as np
import pytest

from lmnet import builders, config as config_module, pipeline
from lmnet.data_augmentor import FlipLeftRight
from lmnet.datasets import cache as cache_module, voc_writer
from lmnet.datasets.cache import SampleCache
from lmnet.datasets.pascalvoc_2007 import Pascalvoc2007
from lmnet.errors import DatasetError
from lmnet.pre_processor import ResizeWithGtBoxes

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture
def voc(tmp_path):
    """A generated VOC 2007 of 6 trainval and 3 test images of 40x56 pixels; returns its DATA_DIR."""
    data_dir = tmp_path / "data"
    voc_writer.generate_dataset(data_dir, 6, 3, image_size=(40, 56), workers=1)
    return str(data_dir)


def _entries(folder):
    return sorted(p for p in pathlib.Path(folder).rglob("*") if p.suffix in (".npy", ".npz"))


def _tmp_files(folder):
    return [p for p in pathlib.Path(folder).rglob(".tmp-*")]


def test_decoded_images_are_cached_identically(voc, tmp_path):
    dataset = Pascalvoc2007("train", data_dir=voc)
    cache = SampleCache(tmp_path / "cache", dataset)
    first = [cache.image(i) for i in range(len(dataset))]
    assert cache.stats == {"hits": 0, "misses": 6, "recreated": 0}
    assert len(_entries(cache.folder)) == 6 and not _tmp_files(cache.folder)
    again = SampleCache(tmp_path / "cache", Pascalvoc2007("train", data_dir=voc))
    for index, image in enumerate(first):
        cached = again.image(index)
        assert cached.dtype == np.uint8
        np.testing.assert_array_equal(cached, image)
        np.testing.assert_array_equal(cached, dataset.image(index))
    assert again.stats == {"hits": 6, "misses": 0, "recreated": 0}
    assert (pathlib.Path(cache.folder) / "fingerprint.json").is_file()


def _processors(dataset, cache_dir, augmentor=None, size=(32, 32)):
    plain = pipeline.SampleProcessor(dataset, ResizeWithGtBoxes(size=list(size)), augmentor, image_size=size)
    cached = pipeline.SampleProcessor(dataset, ResizeWithGtBoxes(size=list(size)), augmentor, image_size=size,
                                      cache_dir=cache_dir)
    return plain, cached


def test_processed_samples_fill_and_hit_with_identical_arrays(voc, tmp_path):
    dataset = Pascalvoc2007("validation", data_dir=voc)
    plain, cached = _processors(dataset, tmp_path / "cache")
    assert cached.cache.processed
    for _ in range(2):
        for index in range(len(dataset)):
            expected, got = plain(index), cached(index)
            assert got[0].dtype == np.float32 and got[1].dtype == expected[1].dtype
            np.testing.assert_array_equal(got[0], expected[0])
            np.testing.assert_array_equal(got[1], expected[1])
    assert cached.cache.stats == {"hits": 3, "misses": 3, "recreated": 0}
    assert all(path.suffix == ".npz" for path in _entries(cached.cache.folder))


def test_training_caches_decoded_images_and_augments_every_visit(voc, tmp_path):
    dataset = Pascalvoc2007("train", data_dir=voc)
    plain, cached = _processors(dataset, tmp_path / "cache", augmentor=FlipLeftRight(probability=1.0))
    assert not cached.cache.processed
    for _ in range(2):
        for index in range(len(dataset)):
            expected = plain(index, rng=np.random.default_rng(index))
            got = cached(index, rng=np.random.default_rng(index))
            np.testing.assert_array_equal(got[0], expected[0])
            np.testing.assert_array_equal(got[1], expected[1])
    assert cached.cache.stats["hits"] == 6


def test_changed_config_uses_another_folder(voc, tmp_path):
    dataset = Pascalvoc2007("validation", data_dir=voc)
    folders = {SampleCache(tmp_path, dataset).folder,
               SampleCache(tmp_path, dataset, pre_processor=ResizeWithGtBoxes(size=[32, 32])).folder,
               SampleCache(tmp_path, dataset, pre_processor=ResizeWithGtBoxes(size=[32, 64])).folder,
               SampleCache(tmp_path, dataset, options={"max_boxes": 9}).folder,
               SampleCache(tmp_path, Pascalvoc2007("train", data_dir=voc)).folder,
               SampleCache(tmp_path, Pascalvoc2007("train", data_dir=voc, train_validation_saving_size=2,
                                                   seed=1)).folder}
    assert len(folders) == 6
    assert SampleCache(tmp_path, Pascalvoc2007("validation", data_dir=voc)).folder == \
        SampleCache(tmp_path, dataset).folder


def test_other_pre_processor_misses(voc, tmp_path):
    dataset = Pascalvoc2007("validation", data_dir=voc)
    _, small = _processors(dataset, tmp_path / "cache", size=(32, 32))
    _, large = _processors(dataset, tmp_path / "cache", size=(64, 32))
    assert small(0)[0].shape == (32, 32, 3) and large(0)[0].shape == (64, 32, 3)
    assert small.cache.stats["hits"] == large.cache.stats["hits"] == 0


def test_edited_image_and_annotation_are_not_read_stale(voc, tmp_path):
    dataset = Pascalvoc2007("validation", data_dir=voc)
    _, cached = _processors(dataset, tmp_path / "cache")
    before_image, before_target = cached(0)
    devkit = voc_writer.devkit_dir(voc, 2007)
    image_id = os.path.basename(dataset.paths[0])[:-4]
    time.sleep(0.01)
    voc_writer.write_sample(devkit, image_id, [("cat", (3, 4, 20, 30), 0)], image=np.full((40, 56, 3), 7, np.uint8))
    edited = Pascalvoc2007("validation", data_dir=voc)
    _, again = _processors(edited, tmp_path / "cache")
    image, target = again(0)
    assert again.cache.stats == {"hits": 0, "misses": 1, "recreated": 0}
    assert not np.array_equal(image, before_image) and not np.array_equal(target, before_target)
    assert np.all(np.abs(image - 7) <= 2)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "wrong content"])
def test_corrupt_entry_is_recreated(voc, tmp_path, damage):
    dataset = Pascalvoc2007("train", data_dir=voc)
    cache = SampleCache(tmp_path / "cache", dataset)
    expected = cache.image(1)
    path = pathlib.Path(cache.entry_path(1))
    data = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"\x00not a numpy file" * 10)
    elif damage == "truncated":
        path.write_bytes(data[:len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        np.save(path, np.zeros((3, 3), np.float64))
    again = SampleCache(tmp_path / "cache", dataset)
    np.testing.assert_array_equal(again.image(1), expected)
    assert again.stats == {"hits": 0, "misses": 0, "recreated": 1}
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), expected)


def test_corrupt_processed_entry_is_recreated(voc, tmp_path):
    dataset = Pascalvoc2007("validation", data_dir=voc)
    plain, cached = _processors(dataset, tmp_path / "cache")
    cached(2)
    path = pathlib.Path(cached.cache.entry_path(2, dataset.target(2)))
    path.write_bytes(path.read_bytes()[:100])
    _, again = _processors(dataset, tmp_path / "cache")
    np.testing.assert_array_equal(again(2)[0], plain(2)[0])
    assert again.cache.stats["recreated"] == 1


def test_failed_write_leaves_neither_entry_nor_temporary_file(tmp_path):
    target = tmp_path / "entry.npy"

    def half_then_fail(stream):
        stream.write(b"\x93NUMPY partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        cache_module._write_atomic(str(target), half_then_fail)
    assert list(tmp_path.iterdir()) == []


def test_stray_temporary_file_is_ignored_and_concurrent_writers_agree(voc, tmp_path):
    dataset = Pascalvoc2007("train", data_dir=voc)
    cache = SampleCache(tmp_path / "cache", dataset)
    path = pathlib.Path(cache.entry_path(0))
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / ".tmp-killed.npy").write_bytes(b"\x93NUMPY half")
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.image(0))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = dataset.image(0)
    assert len(results) == 8 and all(np.array_equal(result, expected) for result in results)
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), expected)
    assert [p.name for p in _tmp_files(cache.folder)] == [".tmp-killed.npy"]


def test_unusable_cache_dir_names_it(voc, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    with pytest.raises(DatasetError, match="not_a_folder"):
        SampleCache(blocker, Pascalvoc2007("train", data_dir=voc))


def test_build_processor_uses_dataset_cache_dir(voc, tmp_path):
    raw = dict(config_module.load(str(REPO / "configs" / "example" / "object_detection.py")))
    raw.update(DATASET_CLASS=Pascalvoc2007, CLASSES=None, IMAGE_SIZE=[32, 32], PRE_PROCESSOR=None, POST_PROCESSOR=None,
               NETWORK=dict(raw["NETWORK"], IMAGE_SIZE=None),
               DATASET=dict(raw["DATASET"], IMAGE_SIZE=None, OPTIONS={}, CACHE_DIR=str(tmp_path / "cache"),
                            PRE_PROCESSOR=ResizeWithGtBoxes(size=[32, 32])))
    config = config_module.validate(raw)
    train = builders.build_processor(config, builders.build_dataset(config, voc, "train"), training=True)
    validation = builders.build_processor(config, builders.build_dataset(config, voc, "validation"), training=False)
    assert not train.cache.processed and validation.cache.processed
    assert train.cache.folder != validation.cache.folder
    uncached = pipeline.SampleProcessor(validation.dataset, ResizeWithGtBoxes(size=[32, 32]), image_size=(32, 32))
    for _ in range(2):
        batches = list(pipeline.eval_dataset(validation, batch_size=2, prefetch=False))
        expected = list(pipeline.eval_dataset(uncached, batch_size=2, prefetch=False))
        for (images, targets), (want_images, want_targets) in zip(batches, expected):
            np.testing.assert_array_equal(images.numpy(), want_images.numpy())
            np.testing.assert_array_equal(targets.numpy(), want_targets.numpy())
    assert validation.cache.stats["hits"] >= 3
