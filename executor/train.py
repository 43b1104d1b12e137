"""Train a network on a dataset as described by one config module."""
import contextlib
import os
import sys

import click

from lmnet.cli import config_overrides_option, quiet_tensorflow, user_errors_exit_2, verbose_option

quiet_tensorflow()

from lmnet import config as config_module, experiment  # noqa: E402
from lmnet.console_log import ConsoleLog  # noqa: E402
from lmnet.curves import write_curves  # noqa: E402
from lmnet.environment import Environment  # noqa: E402
from lmnet.experiment_lock import ExperimentLock  # noqa: E402
from lmnet.training.distribution import STRATEGIES, create_distribution  # noqa: E402
from lmnet.training.launcher import Launcher  # noqa: E402
from lmnet.training.trainer import Trainer  # noqa: E402


def run(config_file, experiment_id="experiment", recreate=False, network=None, dataset=None, progress=True,
        strategy=None, overrides=()):
    """Trains experiment ``experiment_id`` (resuming it when it exists) and returns the final validation metrics.

    ``strategy`` overrides the config's distribution choice (``"none"``, ``"auto"``, ``"mirrored"`` or
    ``"multi_worker"``). ``overrides`` are ``--set KEY=VALUE`` strings applied to the config (they are part of
    the saved ``config.yaml``). On a non-chief worker of a distributed run the result is ``None``.

    The chief also appends its console lines to ``train.log`` (from after ``--recreate``'s clean-up on) and
    writes ``curves.png`` at the end (see :mod:`lmnet.console_log` and :mod:`lmnet.curves`).
    """
    environment = Environment.from_env()
    paths = environment.experiment(experiment_id)  # a bad id is refused before anything is read
    config = config_module.load(config_file, network=network, dataset=dataset, overrides=overrides)
    distribution = create_distribution(config, override=strategy)  # before any other TensorFlow work
    with _training_lock(paths, distribution):
        if distribution.is_chief:
            experiment.prepare(config, config_file, paths, recreate=recreate, log=click.echo)
        with _console_log(paths, distribution):
            return _train(config, paths, environment.data_dir, progress, distribution)


def _train(config, paths, data_dir, progress, distribution):
    """Trains, then prints the final metrics and writes the training curves (on the chief)."""
    if distribution.distributed:
        click.echo(distribution.describe())
    results = Trainer(config, paths, data_dir, progress=progress, log=click.echo, distribution=distribution).run()
    if results is None:
        click.echo(f"worker {distribution.worker_index} finished")
        return None
    click.echo("final validation: " + ", ".join(f"{k} {v:.4f}" for k, v in results.items()))
    write_curves(paths.tensorboard, paths.curves)
    click.echo(f"training curves written to {paths.curves}")
    click.echo(f"experiment saved in {paths.root}")
    return results


def _training_lock(paths, distribution):
    """The experiment's lock, held by the chief; the other workers of a distributed run train under it."""
    return ExperimentLock(paths, log=click.echo) if distribution.is_chief else contextlib.nullcontext()


def _console_log(paths, distribution):
    """The chief's copy of its console lines in ``train.log`` (see :mod:`lmnet.console_log`)."""
    return ConsoleLog(paths.train_log) if distribution.is_chief else contextlib.nullcontext()


def launch(workers, timeout, config_file, experiment_id, recreate=False, network=None, dataset=None, overrides=()):
    """Trains with ``workers`` local processes (MultiWorkerMirroredStrategy on 127.0.0.1).

    See :mod:`lmnet.training.launcher`.
    """
    command = [sys.executable, os.path.abspath(__file__), "-c", config_file, "-i", experiment_id,
               "--strategy", "multi_worker", "--no_progress"]
    command += ["--recreate"] if recreate else []
    command += ["-n", network] if network else []
    command += ["-d", dataset] if dataset else []
    command += [argument for text in overrides for argument in ("--set", text)]
    Launcher(command, workers, timeout=timeout).run()
    click.echo(f"all {workers} workers finished")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config_file", required=True, help="config file (.py module or .yaml) of this training")
@click.option("-i", "--experiment_id", default="experiment", show_default=True,
              help="id of this training: outputs go to $OUTPUT_DIR/<id>")
@click.option("--recreate", is_flag=True, help="delete the experiment directory and start over")
@click.option("-n", "--network", help="override NETWORK_CLASS by module, e.g. classification.lmnet_v1_quantize")
@click.option("-d", "--dataset", help="override DATASET_CLASS by module, e.g. cifar10")
@click.option("--strategy", type=click.Choice(("none",) + STRATEGIES),
              help="override IS_DISTRIBUTION / DISTRIBUTION_STRATEGY for this run")
@click.option("--workers", type=click.IntRange(min=2),
              help="start this many local workers (MultiWorkerMirroredStrategy on 127.0.0.1) and wait for them")
@click.option("--timeout", type=click.FloatRange(min=1),
              help="with --workers: stop all workers after this many seconds")
@click.option("--no_progress", is_flag=True, help="no progress bars (for logs)")
@config_overrides_option
@verbose_option
def main(config_file, experiment_id, recreate, network, dataset, strategy, workers, timeout, no_progress, overrides):
    """Train (or resume) one experiment.

    Writes saved/<id>/: config.yaml, checkpoints/, tensorboard/, train.log and curves.png.
    """
    if timeout and not workers:
        raise click.UsageError("--timeout only applies with --workers")
    if workers:
        user_errors_exit_2(launch)(workers, timeout, config_file, experiment_id, recreate, network, dataset, overrides)
        return
    user_errors_exit_2(run)(config_file, experiment_id, recreate, network, dataset, not no_progress, strategy,
                            overrides)


if __name__ == "__main__":
    main()
