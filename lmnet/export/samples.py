"""Pre-processed images for an export: the user's ``--images``, calibration and validation samples."""
import os

import numpy as np

from lmnet import builders
from lmnet.data_processor import Sequence
from lmnet.image_io import load_image
from lmnet.pipeline import SampleProcessor
from lmnet.runtime.inference import preprocess
from lmnet.tasks import get_task


def with_resize(pre_processor, image_size, task):
    """``pre_processor`` preceded by a resize to ``image_size`` (for a pre-processor that does not resize)."""
    processors = [get_task(task).resize(image_size)] + ([pre_processor] if pre_processor is not None else [])
    return Sequence(processors)


class ExportImage:
    """One ``--images`` file: its stem, the decoded image and the pre-processed network input.

    Attributes:
        path: the file.
        stem: file name without folder and extension.
        raw: RGB ``uint8`` ``(height, width, 3)`` (:func:`lmnet.image_io.load_image`).
        preprocessed: float32 ``[1, H, W, 3]``.
    """

    def __init__(self, path, pre_processor, image_size):
        self.path = path
        self.stem = os.path.splitext(os.path.basename(path))[0]
        self.raw = load_image(path)
        self.preprocessed = preprocess(self.raw, pre_processor, image_size)[None]


def load_export_images(paths, pre_processor, image_size):
    """Reads and pre-processes the ``--images`` files; returns a list of :class:`ExportImage`.

    Raises:
        DatasetError: a file is missing or unreadable.
    """
    return [ExportImage(path, pre_processor, image_size) for path in paths]


def sample_processor(config, dataset):
    """The evaluation :class:`SampleProcessor` of ``dataset`` at the config's image size.

    When the dataset's pre-processor does not produce that size, a resize is put in front of it.
    """
    processor = builders.build_processor(config, dataset, training=False)
    if len(dataset) and np.asarray(_raw_processed(processor, 0)).shape != (*config.IMAGE_SIZE, 3):
        processor = SampleProcessor(dataset, with_resize(config.DATASET.PRE_PROCESSOR, config.IMAGE_SIZE, config.TASK),
                                    image_size=config.IMAGE_SIZE, parallel_calls=processor.parallel_calls)
    return processor


def _raw_processed(processor, index):
    image, target = processor.dataset[index]
    sample = {"image": image, processor.dataset.target_key: target}
    if processor.pre_processor is not None:
        sample = processor.pre_processor(**sample)
    return sample["image"]


def dataset_samples(config, dataset, count):
    """The first ``count`` samples of ``dataset``, pre-processed.

    Returns:
        ``(images float32 [N, H, W, 3], targets list)``; ``N = min(count, len(dataset))``.
    """
    processor = sample_processor(config, dataset)
    samples = [processor(index) for index in range(min(count, len(dataset)))]
    if not samples:
        return np.zeros((0, *config.IMAGE_SIZE, 3), np.float32), []
    return np.stack([image for image, _ in samples]), [target for _, target in samples]


def calibration_images(config, data_dir, count):
    """``count`` pre-processed training images (evenly spread over the subset) for int8 calibration."""
    dataset = builders.build_dataset(config, data_dir, "train")
    processor = sample_processor(config, dataset)
    indices = np.unique(np.linspace(0, len(dataset) - 1, num=min(count, len(dataset))).astype(int))
    return np.stack([processor(int(index))[0] for index in indices])
