"""What happens after a training step, as hooks with one job each.

The trainer's loop applies one update, then calls every hook of its list in order with a
:class:`StepContext`. A hook says how often it runs (:meth:`Hook.period`, also on the last step) and
whether only the chief runs it (:attr:`Hook.chief_only`; every built-in hook does, since the chief alone
writes files). :func:`default_hooks` is the list a run uses; its order matters where one job reads what
another writes (the best checkpoint is updated before the rotating checkpoint records it).

A new job (an exponential moving average of the weights, early stopping, other logging) is a new
:class:`Hook` subclass added to :func:`default_hooks` (see ``docs/development.rst``).
"""
import dataclasses


@dataclasses.dataclass
class StepContext:
    """What a hook sees after step ``step``.

    Attributes:
        step: the number of updates applied so far.
        last: ``step`` is the run's last step.
        images: the step's input images (this worker's first replica).
        loss: the step's loss.
        sums: the step's metric sums over the batch.
        bar: the progress bar (``bar.write`` prints a line above it).
    """

    step: int
    last: bool
    images: object
    loss: object
    sums: dict
    bar: object


class Hook:
    """One job after a training step.

    Class attributes:
        chief_only: only the chief of a distributed run calls it.
    """

    chief_only = True

    def period(self, config):
        """Every how many steps it runs (it also runs on the last step); ``None``: never."""
        raise NotImplementedError

    def due(self, config, context):
        """Whether it runs after ``context.step``."""
        period = self.period(config)
        return period is not None and (context.step % period == 0 or context.last)

    def after_step(self, trainer, context):
        """Does the job; may return validation metrics (the run's result is the last ones returned)."""
        raise NotImplementedError


class TrainSummaries(Hook):
    """Writes the loss, learning rate, batch metrics and input images to ``tensorboard/train``."""

    def period(self, config):
        return config.SUMMARISE_STEPS

    def after_step(self, trainer, context):
        batch = float(trainer.config.BATCH_SIZE)
        values = {"loss": context.loss, "learning_rate": trainer.optimizer.learning_rate}
        values.update({name: float(total) / batch for name, total in context.sums.items()})
        trainer.summaries.scalars("train", context.step, values)
        trainer.summaries.images("train", context.step, "input_images", context.images)
        trainer.summaries.flush()


class FiniteWeightsCheck(Hook):
    """Refuses to go on (and so to checkpoint) when a weight holds NaN or infinity."""

    def period(self, config):
        return config.SAVE_CHECKPOINT_STEPS

    def after_step(self, trainer, context):
        trainer.check_finite_weights(context.step)


class BestCheckpoint(Hook):
    """Evaluates ``train_validation_saving`` and keeps the best checkpoint by the network's best metric."""

    def period(self, config):
        return config.SAVE_CHECKPOINT_STEPS if config.DATASET.TRAIN_VALIDATION_SAVING_SIZE > 0 else None

    def after_step(self, trainer, context):
        results = trainer.evaluate_subset(trainer.data.train_validation_saving, "train_validation_saving")
        trainer.summaries.scalars("train_validation_saving", context.step, results)
        metric = trainer.network.best_metric
        if results[metric] > float(trainer.keeper.best_score.numpy()):
            trainer.keeper.save_best(context.step, results[metric])
            context.bar.write(f"step {context.step}: new best {metric} {results[metric]:.4f} on "
                              "train_validation_saving")


class RotatingCheckpoint(Hook):
    """Saves ``save.ckpt-<step>``, keeping the newest ``KEEP_CHECKPOINT_MAX``."""

    def period(self, config):
        return config.SAVE_CHECKPOINT_STEPS

    def after_step(self, trainer, context):
        trainer.keeper.save(context.step)


class Validation(Hook):
    """Evaluates the validation subset, writes its summaries and prints the metrics; returns them."""

    def period(self, config):
        return config.TEST_STEPS

    def after_step(self, trainer, context):
        results = trainer.validate(context.step)
        context.bar.write(f"step {context.step}: validation " + ", ".join(
            f"{name} {value:.4f}" for name, value in results.items()))
        return results


class PredictionImages(Hook):
    """Draws the network's predictions on the first validation images into ``tensorboard/validation``."""

    def period(self, config):
        return config.TEST_STEPS

    def after_step(self, trainer, context):
        trainer.summarise_predictions(context.step)


def default_hooks():
    """The hooks of a training run, in the order they run."""
    return [TrainSummaries(), FiniteWeightsCheck(), BestCheckpoint(), RotatingCheckpoint(), Validation(),
            PredictionImages()]
