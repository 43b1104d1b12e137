"""The tf.data pipeline: determinism, exact resume, evaluation order, errors from loaders."""
import numpy as np
import pytest
from PIL import Image

from lmnet import pipeline
from lmnet.data_augmentor import FlipLeftRight
from lmnet.datasets.base import Dataset
from lmnet.datasets.image_folder import ImageFolder
from lmnet.errors import DatasetError
from lmnet.pre_processor import DivideBy255
from lmnet.evaluation import batches


class CountingDataset(Dataset):
    """Sample i is a 4x4 image filled with i; label i."""

    def _read_subset(self, subset):
        count = 10 if subset == "train" else 7
        images = np.stack([np.full((4, 4, 3), i, np.uint8) for i in range(count)])
        return images, np.arange(count)


def take(dataset, count):
    return [(x.numpy(), y.numpy()) for _, (x, y) in zip(range(count), dataset)]


def test_train_batches_are_deterministic_and_cover_each_epoch():
    processor = pipeline.SampleProcessor(CountingDataset(), augmentor=FlipLeftRight(), image_size=(4, 4))
    first = take(pipeline.train_dataset(processor, batch_size=5, seed=3), 6)
    second = take(pipeline.train_dataset(processor, batch_size=5, seed=3), 6)
    for (x1, y1), (x2, y2) in zip(first, second):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    labels = np.concatenate([y for _, y in first])
    for epoch in range(3):
        assert sorted(labels[epoch * 10:(epoch + 1) * 10]) == list(range(10))
    assert not np.array_equal(labels[:10], labels[10:20])  # reshuffled each epoch
    other_seed = np.concatenate([y for _, y in take(pipeline.train_dataset(processor, 5, seed=4), 2)])
    assert not np.array_equal(other_seed, labels[:10])
    for x, y in first:  # image i is filled with i: images and labels stay paired
        np.testing.assert_array_equal(x[:, 0, 0, 0], y)


def test_resuming_at_a_step_gives_the_same_batches():
    processor = pipeline.SampleProcessor(CountingDataset(), augmentor=FlipLeftRight(), image_size=(4, 4))
    full = take(pipeline.train_dataset(processor, batch_size=3, seed=1), 8)
    resumed = take(pipeline.train_dataset(processor, batch_size=3, seed=1, start_step=5), 3)
    for (x1, y1), (x2, y2) in zip(full[5:], resumed):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


@pytest.mark.parametrize("parallel_calls", [1, 3])
def test_parallel_calls_change_nothing_but_the_speed(parallel_calls):
    tuned = pipeline.SampleProcessor(CountingDataset(), augmentor=FlipLeftRight(), image_size=(4, 4))
    fixed = pipeline.SampleProcessor(CountingDataset(), augmentor=FlipLeftRight(), image_size=(4, 4),
                                     parallel_calls=parallel_calls)
    for build in (lambda p: pipeline.train_dataset(p, batch_size=3, seed=2), lambda p: pipeline.eval_dataset(p, 4)):
        for (x1, y1), (x2, y2) in zip(take(build(tuned), 7), take(build(fixed), 7), strict=True):
            np.testing.assert_array_equal(x1, x2)
            np.testing.assert_array_equal(y1, y2)


def test_eval_dataset_visits_each_sample_once_in_order():
    processor = pipeline.SampleProcessor(CountingDataset(subset="validation"), pre_processor=DivideBy255(),
                                         image_size=(4, 4))
    result = take(pipeline.eval_dataset(processor, batch_size=3), 10)
    assert [len(y) for _, y in result] == [3, 3, 1]
    np.testing.assert_array_equal(np.concatenate([y for _, y in result]), np.arange(7))
    assert result[0][0].dtype == np.float32 and result[0][0].max() == pytest.approx(2 / 255)


def test_wrong_image_size_after_processing_is_a_clear_error():
    processor = pipeline.SampleProcessor(CountingDataset(), image_size=(8, 8))
    with pytest.raises(DatasetError, match=r"image of shape \(4, 4, 3\) .* expected \(8, 8, 3\); add a Resize"):
        processor(0)


def test_unreadable_image_inside_the_pipeline_names_the_file(tmp_path):
    root = tmp_path / "image_folder"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / name / f"{i}.png")
    (root / "b" / "2.png").write_bytes(b"not an image")
    dataset = ImageFolder(subset="train", data_dir=str(tmp_path), validation_ratio=0.0)
    processor = pipeline.SampleProcessor(dataset, image_size=(4, 4))
    with pytest.raises(DatasetError, match="2.png"):
        for _ in batches(pipeline.eval_dataset(processor, batch_size=2)):
            pass
