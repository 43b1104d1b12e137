"""The ``tf.data`` input pipeline: load → augment → pre-process → batch → prefetch.

Samples are loaded and processed in NumPy (inside ``tf.numpy_function``), a batch per call,
with calls running in parallel. Everything random is a pure function of the seed and the
sample's position in the stream, so:

* the same seed gives the same batches, whatever the parallelism;
* training resumed at step ``s`` sees exactly the batches an uninterrupted run sees from ``s``.

Epoch ``e`` visits the samples in the order ``default_rng([seed, 0, e]).permutation(n)``; the
``k``-th sample of the stream is augmented with ``default_rng([seed, 1, k])``.
"""
import functools

import numpy as np
import tensorflow as tf

from lmnet.datasets.cache import SampleCache
from lmnet.errors import DatasetError

_ORDER_STREAM = 0
_AUGMENT_STREAM = 1


class SampleProcessor:
    """Loads sample ``index`` of a dataset and applies the augmentor and the pre-processor.

    With ``cache_dir`` (``DATASET.CACHE_DIR``), samples go through a
    :class:`lmnet.datasets.cache.SampleCache`: with an augmentor the decoded images are cached (the
    random augmentation and the pre-processor run on every visit); without one the pre-processed
    samples are.

    Args:
        dataset: a :class:`lmnet.datasets.base.Dataset`.
        pre_processor: a processor or ``None``.
        augmentor: a processor or ``None`` (training only).
        image_size: ``(height, width)`` every processed image must have.
        cache_dir: folder of the sample cache, or ``None`` for no cache.
        cache_options: the dataset's constructor options (``DATASET.OPTIONS``), part of the cache fingerprint.
        parallel_calls: batches prepared at once by the pipelines built on this processor
            (``DATASET.NUM_PARALLEL_CALLS``); ``None`` lets ``tf.data`` tune it.
    """

    def __init__(self, dataset, pre_processor=None, augmentor=None, image_size=None, cache_dir=None,
                 cache_options=None, parallel_calls=None):
        self.parallel_calls = parallel_calls
        self.dataset = dataset
        self.pre_processor = pre_processor
        self.augmentor = augmentor
        self.image_size = tuple(image_size) if image_size else None
        self.cache = None
        if cache_dir is not None:
            self.cache = SampleCache(cache_dir, dataset, options=cache_options,
                                     pre_processor=pre_processor if augmentor is None else None)

    def __call__(self, index, rng=None):
        """Returns ``(image float32 (H, W, 3), target)`` of sample ``index``."""
        if self.cache is None:
            image, target = self.process(*self.dataset[index], rng=rng)
        elif self.cache.processed:
            image, target = self.cache.sample(index, self.process)
        else:
            image, target = self.process(self.cache.image(index), self.dataset.target(index), rng=rng)
        image = np.asarray(image, dtype=np.float32)
        if self.image_size and image.shape != (*self.image_size, 3):
            raise DatasetError(f"{type(self.dataset).__name__} sample {index}: image of shape {image.shape} after "
                               f"pre-processing, expected {(*self.image_size, 3)}; add a Resize pre-processor")
        return image, np.asarray(target)

    def process(self, image, target, rng=None):
        """Applies the augmentor (with ``rng``) and the pre-processor to one raw sample; returns ``(image, target)``."""
        key = self.dataset.target_key
        sample = {"image": image, key: target}
        if self.augmentor is not None:
            sample = self.augmentor(rng=rng, **sample)
        if self.pre_processor is not None:
            sample = self.pre_processor(**sample)
        return sample["image"], sample[key]


class TrainOrder:
    """The shuffled, endless order of training samples (one permutation per epoch).

    Args:
        num_samples: size of the training subset.
        seed: the run's seed.
    """

    def __init__(self, num_samples, seed):
        if num_samples <= 0:
            raise DatasetError("the training subset is empty")
        self.num_samples = num_samples
        self.seed = seed
        self.permutation = functools.lru_cache(maxsize=4)(self._permutation)

    def _permutation(self, epoch):
        return np.random.default_rng([self.seed, _ORDER_STREAM, epoch]).permutation(self.num_samples)

    def index(self, position):
        """Dataset index of the sample at stream ``position`` (thread-safe)."""
        epoch, offset = divmod(int(position), self.num_samples)
        return int(self.permutation(epoch)[offset])


def _stack(samples):
    images = np.stack([s[0] for s in samples])
    targets = np.stack([s[1] for s in samples])
    return images, targets


def _example_spec(processor):
    """dtype and shape of one processed sample's target (from sample 0)."""
    _, target = processor(0, rng=np.random.default_rng(0))
    return tf.as_dtype(target.dtype), target.shape


def check_batch_fits(dataset, batch_size):
    """Refuses a training batch larger than the subset it is drawn from.

    Such a batch would hold some samples more than once, and one step would cover more than an epoch.
    Evaluation passes are not checked: their last (or only) batch may be smaller.

    Args:
        dataset: the training subset (a :class:`lmnet.datasets.base.Dataset`).
        batch_size: the global batch (``BATCH_SIZE``).

    Raises:
        DatasetError: naming the dataset, the subset, its size and ``batch_size``.
    """
    size = len(dataset)
    if batch_size > size:
        raise DatasetError(f"BATCH_SIZE {batch_size} is larger than the {size} samples of the "
                           f"{getattr(dataset, 'subset', 'train')} subset of {type(dataset).__name__}: every batch "
                           f"would repeat samples; set BATCH_SIZE to at most {size} or add data")


def train_dataset(processor, batch_size, seed, start_step=0, prefetch=True, num_shards=1, shard_ids=(0,)):
    """The endless training batches, starting at batch ``start_step``.

    In distributed training each step's global batch is cut into ``num_shards`` equal consecutive
    slices, one per replica; a worker's pipeline yields, step after step, the slices of its own
    replicas (``shard_ids``, in order). Slice ``i`` of step ``s`` holds stream positions
    ``s·B + i·B/num_shards …``, so the global batch of every step is the same samples whatever the
    number of workers, and the same as a single-process run's.

    Args:
        processor: a :class:`SampleProcessor` over the training subset.
        batch_size: the global batch ``B`` (samples per step over all replicas).
        seed: the run's seed.
        start_step: index of the first batch (the step training resumes from).
        prefetch: prefetch batches in the background.
        num_shards: replicas over all workers; must divide ``batch_size``.
        shard_ids: the replicas this pipeline feeds.

    Returns:
        A ``tf.data.Dataset`` of ``(images [B/num_shards, H, W, 3] float32, targets [B/num_shards, …])``.

    Raises:
        DatasetError: ``batch_size`` is not a multiple of ``num_shards``, or is larger than the training subset.
    """
    if batch_size % num_shards:
        raise DatasetError(f"BATCH_SIZE {batch_size} is not divisible by the {num_shards} replicas of the "
                           "distributed run; choose a multiple")
    check_batch_fits(processor.dataset, batch_size)
    shard_size, shard_ids = batch_size // num_shards, tuple(shard_ids)
    target_dtype, target_shape = _example_spec(processor)
    order = TrainOrder(len(processor.dataset), seed)

    def make_batch(element):
        step, slot = divmod(int(element), len(shard_ids))
        first = (start_step + step) * batch_size + shard_ids[slot] * shard_size
        samples = [processor(order.index(k), rng=np.random.default_rng([seed, _AUGMENT_STREAM, k]))
                   for k in range(first, first + shard_size)]
        return _stack(samples)

    return _batches(tf.data.Dataset.range(np.iinfo(np.int64).max), make_batch, shard_size, processor, target_dtype,
                    target_shape, prefetch)


def eval_dataset(processor, batch_size, prefetch=True):
    """One ordered pass over a subset; the last batch may be smaller.

    Returns:
        A ``tf.data.Dataset`` of ``(images, targets)`` batches.
    """
    target_dtype, target_shape = _example_spec(processor)
    total = len(processor.dataset)

    def make_batch(batch_index):
        first = int(batch_index) * batch_size
        return _stack([processor(i) for i in range(first, min(first + batch_size, total))])

    num_batches = -(-total // batch_size)
    return _batches(tf.data.Dataset.range(num_batches), make_batch, None, processor, target_dtype, target_shape,
                    prefetch)


def _batches(indices, make_batch, batch_size, processor, target_dtype, target_shape, prefetch):
    height, width = processor.image_size

    def load(index):
        images, targets = tf.numpy_function(make_batch, [index], [tf.float32, target_dtype], stateful=False)
        images.set_shape([batch_size, height, width, 3])
        targets.set_shape([batch_size, *target_shape])
        return images, targets

    parallel_calls = tf.data.AUTOTUNE if processor.parallel_calls is None else processor.parallel_calls
    dataset = indices.map(load, num_parallel_calls=parallel_calls, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE) if prefetch else dataset
