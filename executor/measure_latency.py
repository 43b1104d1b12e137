"""Measure inference latency at batch size 1: overall (pre- + network + post-processing) and network only."""
import click

from lmnet.cli import config_overrides_option, quiet_tensorflow, user_errors_exit_2, verbose_option

quiet_tensorflow()

from lmnet.environment import Environment  # noqa: E402
from lmnet.latency import DEFAULT_STEPS, ENGINES, KERAS, LatencyRequest, format_report, measure_latency  # noqa: E402


def run(experiment_id=None, config_file=None, restore_path=None, image_size=None, step_size=DEFAULT_STEPS,
        cpu=False, engine=KERAS, export_dir=None, threads=None, output=None, environment=None, log=click.echo,
        overrides=()):
    """Measures the latency, prints the result and writes the JSON report.

    Returns:
        ``(report dict, JSON path)`` (see :func:`lmnet.latency.make_report`).
    """
    request = LatencyRequest(experiment_id=experiment_id, config_file=config_file, restore_path=restore_path,
                             image_size=tuple(image_size) if image_size else None, step_size=step_size,
                             engine=engine, export_dir=export_dir, threads=threads, cpu_only=cpu, output=output,
                             overrides=tuple(overrides))
    report, path = measure_latency(environment or Environment.from_env(), request, log=log)
    log(format_report(report))
    log(f"report written to {path}")
    return report, path


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config_file", help="config file; with -i it replaces the experiment's config.yaml, alone it "
              "measures the untrained network (latency does not depend on the weights)")
@click.option("-i", "--experiment_id", help="id of a trained experiment (its config, newest checkpoint and exports)")
@click.option("--restore_path", help="checkpoint prefix, e.g. saved/<id>/checkpoints/save.ckpt-1000 (keras engine; "
              "for the export formats it picks that checkpoint's export)")
@click.option("--image_size", nargs=2, type=int, default=None, metavar="HEIGHT WIDTH",
              help="input size (default: the config's); for the export formats it picks the export of that size")
@click.option("-n", "--step_size", type=click.IntRange(min=1), default=DEFAULT_STEPS, show_default=True,
              help="timed runs (samples) per section")
@click.option("--cpu", is_flag=True, help="hide the GPUs from TensorFlow (use the CPU only)")
@click.option("--engine", type=click.Choice(ENGINES), default=KERAS, show_default=True,
              help="keras: the Keras model; the others are export formats, each run from its file in an export "
              "folder on the runtime engine that reads it")
@click.option("--export_dir", help="export folder for the export formats (default: the experiment's newest export)")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="intra-op threads (TensorFlow / TFLite num_threads / ONNX Runtime); default: the engine's")
@click.option("-o", "--output", help="path of the JSON report (default <experiment>/measure_latency.json)")
@config_overrides_option
@verbose_option
def main(config_file, experiment_id, restore_path, image_size, step_size, cpu, engine, export_dir, threads, output,
         overrides):
    """Measure a network's latency at batch size 1.

    Overall (pre-processing, network, post-processing) and network only.
    """
    user_errors_exit_2(run)(experiment_id, config_file, restore_path, image_size or None, step_size, cpu, engine,
                            export_dir, threads, output, overrides=overrides)


if __name__ == "__main__":
    main()
