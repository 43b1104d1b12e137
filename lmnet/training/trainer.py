"""The step-based training loop.

A custom loop (not ``model.fit``) around a ``tf.function`` step; after each step the hooks of
:mod:`lmnet.training.hooks` do the periodic jobs: checkpoints every ``SAVE_CHECKPOINT_STEPS`` (newest
``KEEP_CHECKPOINT_MAX`` kept), validation every ``TEST_STEPS``, summaries every ``SUMMARISE_STEPS``, the
best checkpoint on ``train_validation_saving`` kept apart. Resume is exact: the step, the optimizer's
slots and schedule position and the input order all continue from the newest checkpoint.

The step runs under ``strategy.run`` of the run's :class:`lmnet.training.distribution.Distribution`
(the default strategy when not distributed): every replica computes the loss of its slice of the
global batch, gradients are summed over replicas, and only the chief writes checkpoints, summaries
and validation results.
"""
import dataclasses
import math
import time

import keras
import tensorflow as tf
from tqdm import tqdm

from lmnet import builders, pipeline
from lmnet.checkpoint_io import weights_digest
from lmnet.dataset_check import quick_check
from lmnet.errors import DistributionError, TrainingError
from lmnet.training.checkpoints import CheckpointKeeper
from lmnet.evaluation import batches, evaluate, make_eval_step
from lmnet.summaries import SummaryWriters
from lmnet.training.distribution import Distribution, check_same_step
from lmnet.training.hooks import StepContext, default_hooks
from lmnet.training.freezing import freeze_layers
from lmnet.training.pretrain import restore_pretrained
from lmnet.training.weight_average import create_weight_average, evaluation_weights


def make_train_step(network, optimizer, strategy=None, jit_compile=False, weight_average=None):
    """Returns a ``tf.function`` ``(images, targets) -> (loss, metric sums)`` that applies one update.

    Under a strategy with ``R`` replicas, ``images`` and ``targets`` are per-replica values; each
    replica's loss (a mean over its slice) is divided by ``R`` before the gradient, so the summed
    gradients equal those of the mean loss over the global batch. The returned loss is the mean
    over replicas and the metric sums are summed over replicas.

    With ``jit_compile`` the forward pass, the loss, its gradients and the metric sums are compiled
    by XLA as one cluster (config key ``JIT_COMPILE``); the optimizer's update stays outside, so
    gradients are reduced across replicas as usual. On 2 CPU cores this halves LMFYolo's step
    (``benchmarks/train_step.py``) and is as deterministic as the plain step. Do not set it under a
    distribution strategy: there batch norm's moving statistics synchronise the replicas inside the
    forward pass, which an XLA cluster cannot hold (the trainer compiles only undistributed runs).

    A ``weight_average`` (:class:`lmnet.training.weight_average.WeightAverage`, undistributed runs only)
    is updated after each update.
    """
    model = network.training_model
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync

    def loss_and_gradients(images, targets, step):
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            loss = network.compute_loss(targets, outputs, model, step=step)
            scaled_loss = loss / replicas if replicas > 1 else loss
        gradients = tape.gradient(scaled_loss, model.trainable_variables)
        return loss, gradients, network.batch_metrics(targets, outputs)

    if jit_compile:
        loss_and_gradients = tf.function(loss_and_gradients, jit_compile=True)

    def replica_step(images, targets):
        loss, gradients, sums = loss_and_gradients(images, targets, tf.convert_to_tensor(optimizer.iterations))
        optimizer.apply(gradients, model.trainable_variables)
        if weight_average is not None:
            weight_average.update(optimizer.iterations)
        return loss, sums

    @tf.function
    def train_step(images, targets):
        loss, sums = strategy.run(replica_step, args=(images, targets))
        if replicas == 1:
            return loss, sums
        loss = strategy.reduce(tf.distribute.ReduceOp.MEAN, loss, axis=None)
        return loss, {name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                      for name, value in sums.items()}
    return train_step


def seed_everything(config):
    """Seeds Python, NumPy, TensorFlow and Keras with ``SEED``; with ``DETERMINISTIC`` also makes every
    TensorFlow op deterministic (``tf.config.experimental.enable_op_determinism``, for the whole process).

    The input order and the augmentation need no state of their own: they are functions of the seed
    and the step (see :mod:`lmnet.pipeline`), and the step is in every checkpoint, so a resumed run
    continues them exactly.
    """
    keras.utils.set_random_seed(config.SEED)
    if config.DETERMINISTIC:
        tf.config.experimental.enable_op_determinism()


@dataclasses.dataclass
class TrainingData:
    """The datasets of one training run."""

    train: object
    validation: object
    train_validation_saving: object = None


def load_training_data(config, data_dir):
    """Builds the ``train``, ``validation`` and (when configured) ``train_validation_saving`` subsets."""
    data = TrainingData(train=builders.build_dataset(config, data_dir, "train"),
                        validation=builders.build_dataset(config, data_dir, "validation"))
    if config.DATASET.TRAIN_VALIDATION_SAVING_SIZE > 0:
        data.train_validation_saving = builders.build_dataset(config, data_dir, "train_validation_saving")
    return data


def max_steps(config, num_train_samples):
    """``MAX_STEPS``, or ``MAX_EPOCHS`` converted to steps."""
    if config.MAX_STEPS is not None:
        return config.MAX_STEPS
    return int(math.ceil(config.MAX_EPOCHS * num_train_samples / config.BATCH_SIZE))


class Trainer:
    """Trains one experiment.

    Args:
        config: the validated config.
        paths: the experiment's :class:`lmnet.environment.ExperimentPaths`.
        data_dir: root of the datasets.
        progress: show progress bars.
        log: a ``print``-like function for the few lines the trainer reports.
        distribution: the run's :class:`lmnet.training.distribution.Distribution` (made first thing
            in the process, see there); ``None`` trains in this process on the default strategy.
        hooks: the :class:`lmnet.training.hooks.Hook` list run after every step, in order (default
            :func:`lmnet.training.hooks.default_hooks`).
    """

    def __init__(self, config, paths, data_dir, progress=True, log=print, distribution=None, hooks=None):
        self.distribution = distribution or Distribution(tf.distribute.get_strategy(), "none")
        self.config = config
        self.paths = paths
        self.is_chief = self.distribution.is_chief
        self.progress = progress and self.is_chief
        self.log = log
        self.data = load_training_data(config, data_dir)
        seed_everything(config)
        with self.distribution.strategy.scope():
            self.network = builders.build_network(config, builders.dataset_classes(config, self.data.train))
            self.frozen_layers = freeze_layers(self.network.training_model, config.FROZEN_LAYERS)
            self.optimizer = self.network.create_optimizer()
            self.optimizer.build(self.network.training_model.trainable_variables)
            self.weight_average = create_weight_average(config, self.network.model, self.distribution.distributed)
            self.keeper = CheckpointKeeper(self.network.model, self.optimizer, paths.checkpoints,
                                           keep=config.KEEP_CHECKPOINT_MAX, weight_average=self.weight_average)
        if self.is_chief:
            quick_check(config, self.data.train, self.network, log)  # reads annotations only: no random state
        self.summaries = SummaryWriters(paths.tensorboard)
        self.max_steps = max_steps(config, len(self.data.train))
        self.eval_step = make_eval_step(self.network)
        self.hooks = default_hooks() if hooks is None else list(hooks)

    @property
    def step(self):
        """Number of updates applied so far."""
        return int(self.optimizer.iterations.numpy())

    def restore(self):
        """Resumes from the newest checkpoint, else loads pre-trained weights when configured.

        In a multi-worker run every worker restores (from the chief's checkpoint folder, which
        they must share) and the workers then check that they all resume at the same step.
        """
        path = self.keeper.restore_latest()
        if path is not None:
            self.log(f"resuming from {path} (step {self.step})")
        elif self.config.IS_PRETRAIN:
            result = restore_pretrained(self.network.model, self.config)
            self.log(f"restored {len(result.restored)} pre-trained variables")
            if result.initialised:
                self.log(f"learned quantizer ranges not in the pre-trained checkpoint start from the config's "
                         f"max_value ({len(result.initialised)}): {', '.join(result.initialised)}")
        if self.frozen_layers:
            shown = ", ".join(self.frozen_layers[:6]) + (", …" if len(self.frozen_layers) > 6 else "")
            self.log(f"frozen layers (FROZEN_LAYERS, {len(self.frozen_layers)}): {shown}")
        if self.distribution.num_workers > 1:
            check_same_step(self.distribution.strategy, self.step, self.paths.checkpoints)

    def run(self):
        """Trains up to the last step; returns the final validation metrics (``None`` on non-chief workers)."""
        self.restore()
        start = self.step
        if start >= self.max_steps:
            self.log(f"already trained to step {start} (MAX_STEPS {self.max_steps}); nothing to do")
            return self.validate(start) if self.is_chief else None
        train_step = make_train_step(self.network, self.optimizer, self.distribution.strategy,
                                     jit_compile=self.config.JIT_COMPILE and not self.distribution.distributed,
                                     weight_average=self.weight_average)
        data = self._train_batches(start)
        try:
            results = self._train_loop(train_step, data, start)
        except tf.errors.OpError as error:
            if self.distribution.num_workers > 1:
                raise DistributionError(f"worker {self.distribution.worker_index} stopped at step {self.step + 1}: "
                                        f"{type(error).__name__}: {_error_summary(error.message)} (did another "
                                        "worker die? rerun the same command to resume from the last "
                                        "checkpoint)") from None
            raise
        finally:
            self.summaries.close()
        if self.distribution.distributed:
            self.log(f"worker {self.distribution.worker_index} at step {self.step}: weights digest "
                     f"{weights_digest(self.network.model)}")
        return results

    def _train_loop(self, train_step, data, start):
        results = None
        with tqdm(total=self.max_steps, initial=start, desc="train", unit="step", disable=not self.progress,
                  dynamic_ncols=True) as bar:
            meter = _ThroughputMeter(self.config.BATCH_SIZE)
            for step in range(start + 1, self.max_steps + 1):
                images, targets = next(data)
                loss, sums = train_step(images, targets)
                self._check_finite(step, loss)
                meter.tick()
                if step % 10 == 0 or step == self.max_steps:
                    bar.set_postfix(loss=f"{float(loss):.4f}", img_s=f"{meter.rate():.0f}", refresh=False)
                bar.update(1)
                results = self._after_step(step, images, loss, sums, bar) or results
        return results

    def _check_finite(self, step, loss):
        """Stops training at the first step whose loss is NaN or infinite, before anything of it is saved.

        Raises:
            TrainingError: naming the step, the value, the checkpoint that stays the newest and what to try.
        """
        value = float(loss)
        if not math.isfinite(value):
            self._stop(step, f"the loss is {value}")

    def check_finite_weights(self, step):
        """Refuses to checkpoint weights holding NaN or infinity (an update can break them before the loss shows it)."""
        broken = [variable.path for variable in self.network.model.weights
                  if not bool(tf.reduce_all(tf.math.is_finite(variable)))]
        if broken:
            self._stop(step, f"{len(broken)} weight(s) are not finite ({', '.join(broken[:3])})")

    def _stop(self, step, what):
        kept = self.keeper.latest or "none yet"
        raise TrainingError(f"step {step}: {what}; training stopped and saved nothing of this step (newest "
                            f"checkpoint: {kept}). Lower NETWORK.LEARNING_RATE_KWARGS, check the quantizer arguments "
                            f"(e.g. bit >= 1, max_value > 0) and the data, then rerun to resume")

    def _train_batches(self, start):
        processor = builders.build_processor(self.config, self.data.train, training=True)
        config, distribution = self.config, self.distribution

        def make_dataset(context=None):
            pipelines = context.num_input_pipelines if context else 1
            replicas = distribution.num_replicas // pipelines
            first = (context.input_pipeline_id if context else 0) * replicas
            return pipeline.train_dataset(processor, config.BATCH_SIZE, config.SEED, start_step=start,
                                          prefetch=config.DATASET.ENABLE_PREFETCH,
                                          num_shards=pipelines * replicas, shard_ids=range(first, first + replicas))

        if not distribution.distributed:
            return batches(make_dataset())
        return batches(distribution.strategy.distribute_datasets_from_function(make_dataset))

    def _after_step(self, step, images, loss, sums, bar):
        """Runs the hooks due at ``step`` (the chief-only ones on the chief only); returns validation metrics if
        a hook returned some."""
        images = self.distribution.strategy.experimental_local_results(images)[0]
        context = StepContext(step=step, last=step == self.max_steps, images=images, loss=loss, sums=sums, bar=bar)
        results = None
        for hook in self.hooks:
            if (self.is_chief or not hook.chief_only) and hook.due(self.config, context):
                results = hook.after_step(self, context) or results
        return results

    def validate(self, step):
        """Evaluates the validation subset and writes its summaries at ``step``; returns the metrics."""
        results = self.evaluate_subset(self.data.validation, "validation")
        self.summaries.scalars("validation", step, results)
        self.summaries.flush()
        return results

    def summarise_predictions(self, step, count=4):
        """Writes the network's drawings of its predictions on the first validation images, if it makes any."""
        processor = builders.build_processor(self.config, self.data.validation, training=False)
        images, targets = next(iter(pipeline.eval_dataset(processor, count, prefetch=False)))
        with evaluation_weights(self.weight_average):
            _, outputs = self.eval_step(images, targets)
        drawn = self.network.summary_images(images.numpy(), targets.numpy(), outputs.numpy())
        if drawn:
            self.summaries.images("validation", step, "predictions", [image / 255.0 for image in drawn],
                                  max_outputs=count)
            self.summaries.flush()

    def evaluate_subset(self, dataset, description):
        """The network's metrics on ``dataset`` (one of :attr:`data`'s subsets), with a progress bar; with
        ``EMA_DECAY`` set, of the averaged weights."""
        processor = builders.build_processor(self.config, dataset, training=False)
        batched = pipeline.eval_dataset(processor, self.config.BATCH_SIZE, prefetch=self.config.DATASET.ENABLE_PREFETCH)
        with evaluation_weights(self.weight_average):
            return evaluate(self.network, batched, self.eval_step, description=description,
                            progress=self.progress, source=dataset)


class _ThroughputMeter:
    """Images per second over the last few steps."""

    def __init__(self, batch_size, window=20):
        self.batch_size = batch_size
        self.window = window
        self.times = []

    def tick(self):
        self.times = (self.times + [time.perf_counter()])[-self.window:]

    def rate(self):
        if len(self.times) < 2:
            return 0.0
        return self.batch_size * (len(self.times) - 1) / (self.times[-1] - self.times[0])


def _error_summary(text):
    """The first line of a TensorFlow error message that says what happened (not where)."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    noise = ("Graph execution error", "Detected at node", "File ")
    return next((line for line in lines if not line.startswith(noise)), lines[0] if lines else "")
