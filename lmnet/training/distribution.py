"""Distributed training with ``tf.distribute``: choosing the strategy and describing this process's part.

``IS_DISTRIBUTION = True`` trains under a strategy named by ``DISTRIBUTION_STRATEGY``:

* ``"mirrored"``: ``tf.distribute.MirroredStrategy`` over the devices of this machine;
* ``"multi_worker"``: ``tf.distribute.MultiWorkerMirroredStrategy`` over the workers listed in
  the ``TF_CONFIG`` environment variable (one process per machine, or several on one machine);
* ``"auto"`` (default): ``"multi_worker"`` when ``TF_CONFIG`` is set, else ``"mirrored"``.

The strategy must be created before TensorFlow runs any operation in the process: collective
operations are configured once, at start-up, and a later strategy cannot set them up. The trainer
therefore creates it first thing.

Without ``IS_DISTRIBUTION`` the default strategy is used: one replica, no collective operations,
and the same training step code.
"""
import dataclasses
import json
import os

from lmnet.config_schema import STRATEGIES
from lmnet.errors import ConfigError, ExperimentError


@dataclasses.dataclass(frozen=True)
class Distribution:
    """The strategy of a run and this process's place in it.

    Attributes:
        strategy: the ``tf.distribute.Strategy`` (the default strategy when not distributed).
        name: ``"none"``, ``"mirrored"`` or ``"multi_worker"``.
        num_workers: processes taking part.
        worker_index: this process's index among them (``0`` is the chief).
    """

    strategy: object
    name: str
    num_workers: int = 1
    worker_index: int = 0

    @property
    def is_chief(self):
        """True for the process that writes checkpoints, summaries and validation results."""
        return bool(self.strategy.extended.should_checkpoint)

    @property
    def num_replicas(self):
        """Replicas over all workers (each takes an equal slice of the global batch)."""
        return int(self.strategy.num_replicas_in_sync)

    @property
    def distributed(self):
        """True under a real strategy (even with a single replica)."""
        return self.name != "none"

    def describe(self):
        """One line for the training log."""
        if not self.distributed:
            return "single process, 1 replica"
        role = "chief" if self.is_chief else "worker"
        return (f"{self.name} strategy: worker {self.worker_index} of {self.num_workers} ({role}), "
                f"{self.num_replicas} replicas in sync")


def resolve_strategy_name(config, override=None):
    """The strategy to use: ``"none"``, ``"mirrored"`` or ``"multi_worker"``.

    Args:
        config: the validated config (``IS_DISTRIBUTION``, ``DISTRIBUTION_STRATEGY``).
        override: a name from the command line (``"none"`` or one of
            :data:`lmnet.config_schema.STRATEGIES`), or ``None``.

    Raises:
        ConfigError: an unknown name, or ``"multi_worker"`` without ``TF_CONFIG``.
    """
    name = override if override is not None else (config.DISTRIBUTION_STRATEGY if config.IS_DISTRIBUTION else "none")
    if name not in ("none",) + STRATEGIES:
        raise ConfigError(f"unknown distribution strategy '{name}'; expected none or one of {', '.join(STRATEGIES)}")
    if name == "auto":
        name = "multi_worker" if os.environ.get("TF_CONFIG") else "mirrored"
    if name == "multi_worker":
        read_tf_config()
    return name


def read_tf_config():
    """Parses ``TF_CONFIG``; returns ``(cluster workers, task index)``.

    Raises:
        ConfigError: the variable is missing, is not JSON, or lacks ``cluster.worker`` / ``task``.
    """
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise ConfigError("the 'multi_worker' strategy (DISTRIBUTION_STRATEGY or --strategy) needs the TF_CONFIG "
                          'environment variable (e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                          '"task": {"type": "worker", "index": 0}}); see the distributed training docs')
    try:
        data = json.loads(text)
        workers = list(data["cluster"].get("chief", [])) + list(data["cluster"]["worker"])
        task_type, index = data["task"]["type"], int(data["task"]["index"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ConfigError(f"TF_CONFIG is not a valid cluster description ({type(error).__name__}: {error}); "
                          'expected {"cluster": {"worker": [...]}, "task": {"type": "worker", "index": N}}') from None
    has_chief = bool(data["cluster"].get("chief"))
    position = index if task_type == "chief" else index + (1 if has_chief else 0)
    if task_type not in ("chief", "worker") or not 0 <= position < len(workers):
        raise ConfigError(f"TF_CONFIG task {data['task']} is not one of the {len(workers)} listed workers")
    return workers, position


def create_distribution(config, override=None, timeout_seconds=None):
    """Creates the strategy of a run. Call it before any other TensorFlow work in the process.

    Args:
        config: the validated config.
        override: a strategy name that replaces the config's choice (``"none"`` disables).
        timeout_seconds: limit of every collective operation of a multi-worker run (``None``: no limit).

    Returns:
        A :class:`Distribution`.
    """
    import tensorflow as tf

    name = resolve_strategy_name(config, override)
    if name == "none":
        return Distribution(tf.distribute.get_strategy(), name)
    if name == "mirrored":
        return Distribution(tf.distribute.MirroredStrategy(), name)
    workers, index = read_tf_config()
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout_seconds)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    return Distribution(strategy, name, num_workers=len(workers), worker_index=index)


def check_same_step(strategy, step, checkpoint_dir):
    """Checks that every worker of a multi-worker run resumes at the same step (also a barrier).

    Raises:
        ExperimentError: the workers restored different steps, which happens when they do not
            share the experiment's checkpoint folder.
    """
    import tensorflow as tf

    def replica_fn():
        return tf.distribute.get_replica_context().all_gather(tf.constant([step], tf.int64), axis=0)

    @tf.function
    def all_gather():
        return strategy.run(replica_fn)

    steps = strategy.experimental_local_results(all_gather())[0].numpy()
    highest, lowest = int(steps.max()), int(steps.min())
    if highest != lowest:
        raise ExperimentError(f"workers resume at different steps ({lowest} to {highest}; this worker {step}): "
                              f"every worker must see the chief's checkpoints in {checkpoint_dir} "
                              "(share OUTPUT_DIR between the machines)")
