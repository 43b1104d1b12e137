"""Evaluate a trained experiment on its validation subset."""
import click

from lmnet.cli import overwrite_option, quiet_tensorflow, trained_experiment_options, user_errors_exit_2, verbose_option

quiet_tensorflow()

from lmnet.environment import Environment  # noqa: E402
from lmnet.evaluator import evaluate_experiment  # noqa: E402


def run(experiment_id, restore_path=None, network=None, dataset=None, config_file=None, output_dir=None,
        progress=True, overwrite=False, overrides=()):
    """Evaluates the newest (or given) checkpoint of ``experiment_id``; returns the metrics."""
    metrics, json_path, report, html_path = evaluate_experiment(
        Environment.from_env(), experiment_id, restore_path=restore_path, config_file=config_file, network=network,
        dataset=dataset, output_dir=output_dir, progress=progress, overwrite=overwrite, log=click.echo,
        overrides=overrides)
    if report:
        click.echo(report)
    for name, value in metrics.items():
        click.echo(f"{name:>16}: {value:.4f}")
    click.echo(f"metrics written to {json_path}")
    click.echo(f"report (plots and a page to open in a browser): {html_path}")
    return metrics


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@trained_experiment_options
@click.option("-n", "--network", help="override NETWORK_CLASS by module name")
@click.option("-d", "--dataset", help="override DATASET_CLASS by module name")
@click.option("-o", "--output_dir", help="folder for evaluate.json and the report (default <experiment>/evaluate)")
@overwrite_option
@verbose_option
def main(experiment_id, restore_path, network, dataset, config_file, output_dir, overwrite, overrides):
    """Evaluate a trained experiment on its validation subset."""
    user_errors_exit_2(run)(experiment_id, restore_path, network, dataset, config_file, output_dir,
                            overwrite=overwrite, overrides=overrides)


if __name__ == "__main__":
    main()
