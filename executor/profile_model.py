"""Profile a network layer by layer: parameters, MACs, FLOPs, weight and activation memory at their bit widths."""
import click

from lmnet.cli import config_overrides_option, quiet_tensorflow, user_errors_exit_2, verbose_option

quiet_tensorflow()

from lmnet.environment import Environment  # noqa: E402
from lmnet.profiling import profile_experiment, to_markdown  # noqa: E402


def run(experiment_id=None, restore_path=None, config_file=None, unquant_layers=(), output_dir=None, overrides=()):
    """Profiles an experiment or a config alone, writes ``<name>_profile.{md,json}`` and prints the table.

    Returns:
        The :class:`lmnet.profiling.ModelProfile`.
    """
    profile, md_path, json_path = profile_experiment(Environment.from_env(), experiment_id=experiment_id,
                                                     config_file=config_file, restore_path=restore_path,
                                                     unquant_layers=unquant_layers, output_dir=output_dir,
                                                     overrides=overrides)
    click.echo(to_markdown(profile))
    click.echo(f"profile written to {md_path} and {json_path}")
    return profile


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-i", "--experiment_id", help="id of a trained experiment (its config.yaml and newest checkpoint)")
@click.option("--restore_path", help="checkpoint prefix to restore, e.g. saved/<id>/checkpoints/save.ckpt-1000")
@click.option("-c", "--config_file", help="config file; alone (without -i) it needs no trained experiment")
@click.option("-uql", "--unquant_layers", multiple=True,
              help="layer whose weights count as float 32-bit (repeatable)")
@click.option("-o", "--output_dir", help="folder of the reports (default $OUTPUT_DIR/<experiment id or config name>)")
@config_overrides_option
@verbose_option
def main(experiment_id, restore_path, config_file, unquant_layers, output_dir, overrides):
    """Profile a network layer by layer.

    The network of a trained experiment (-i) or of a config alone (-c).
    """
    user_errors_exit_2(run)(experiment_id, restore_path, config_file, unquant_layers, output_dir, overrides)


if __name__ == "__main__":
    main()
