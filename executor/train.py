"""Train a network on a dataset as described by one config module."""
import click

from lmnet.cli import quiet_tensorflow, user_errors_exit_2

quiet_tensorflow()

from lmnet import config as config_module, experiment  # noqa: E402
from lmnet.environment import Environment  # noqa: E402
from lmnet.training.trainer import Trainer  # noqa: E402


def run(config_file, experiment_id="experiment", recreate=False, network=None, dataset=None, progress=True):
    """Trains experiment ``experiment_id`` (resuming it when it exists) and returns the final validation metrics."""
    environment = Environment.from_env()
    config = config_module.load(config_file, network=network, dataset=dataset)
    paths = environment.experiment(experiment_id)
    experiment.prepare(config, config_file, paths, recreate=recreate)
    results = Trainer(config, paths, environment.data_dir, progress=progress).run()
    click.echo("final validation: " + ", ".join(f"{k} {v:.4f}" for k, v in results.items()))
    click.echo(f"experiment saved in {paths.root}")
    return results


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config_file", required=True, help="config file (.py module or .yaml) of this training")
@click.option("-i", "--experiment_id", default="experiment", show_default=True,
              help="id of this training: outputs go to $OUTPUT_DIR/<id>")
@click.option("--recreate", is_flag=True, help="delete the experiment directory and start over")
@click.option("-n", "--network", help="override NETWORK_CLASS by module, e.g. classification.lmnet_v1_quantize")
@click.option("-d", "--dataset", help="override DATASET_CLASS by module, e.g. cifar10")
def main(config_file, experiment_id, recreate, network, dataset):
    """Train (or resume training) one experiment."""
    user_errors_exit_2(run)(config_file, experiment_id, recreate, network, dataset)


if __name__ == "__main__":
    main()
