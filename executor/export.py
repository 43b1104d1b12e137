"""Export a trained experiment for inference and hardware conversion (see docs/export.rst)."""
import warnings

import click

from lmnet.cli import quiet_tensorflow, trained_experiment_options, user_errors_exit_2, verbose_option

quiet_tensorflow()

from lmnet.export.exporter import export_experiment  # noqa: E402
from lmnet.runtime.layout import CONFIG_FILE, DEFAULT_KEYWORD, EXPORT_FORMATS, META_FILE, PARITY_FILE  # noqa: E402


def run(experiment_id, restore_path=None, image_size=None, images=(), config_file=None, metric_samples=64,
        calibration_samples=64, formats=None, overrides=(), accept_parity_failures=False, emulation_samples=16):
    """Exports the newest (or given) checkpoint of ``experiment_id``; returns the :class:`ExportResult`.

    ``formats``: export format names, a comma-separated string or a sequence (default ``None``: every format but
    ``hls4ml``; the name ``default`` stands for those).
    A form missing its parity tolerance raises :class:`~lmnet.export.exporter.ParityError` (exit code 2)
    unless ``accept_parity_failures``.
    """
    with warnings.catch_warnings():  # the exporter's warnings are printed once, as its "warning: …" lines
        warnings.filterwarnings("ignore", category=UserWarning, module=r"lmnet\.export\.")
        return export_experiment(experiment_id, restore_path=restore_path, image_size=image_size, images=images,
                                 config_file=config_file, metric_samples=metric_samples,
                                 calibration_samples=calibration_samples, formats=formats, log=click.echo,
                                 overrides=overrides, accept_parity_failures=accept_parity_failures,
                                 emulation_samples=emulation_samples)


FORMATS_HELP = ("comma-separated export formats to write: "
                + "; ".join(f"{item.name} ({item.file}{'' if item.default else ', only when named'})"
                            for item in EXPORT_FORMATS)
                + f". Default: every format not marked; '{DEFAULT_KEYWORD}' stands for those "
                  f"(--formats {DEFAULT_KEYWORD},hls4ml adds the hls4ml project). "
                  f"{CONFIG_FILE}, {META_FILE} and {PARITY_FILE} are always written")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@trained_experiment_options
@click.option("--image_size", nargs=2, type=int, default=None, metavar="HEIGHT WIDTH",
              help="input size of the export (default: the config's IMAGE_SIZE)")
@click.option("--images", multiple=True, help="image file for inference_test_data/ and the parity check "
              "(repeat for several)")
@click.option("--metric_samples", default=64, show_default=True, type=click.IntRange(min=1),
              help="validation samples comparing the int8 model's task metric with the float model's")
@click.option("--emulation_samples", default=16, show_default=True, type=click.IntRange(min=1),
              help="validation samples comparing the hls4ml C++ emulation's task metric with the float model's "
                   "(slow: about 4 s per image for a 32x32 LmnetV1Quantize)")
@click.option("--calibration_samples", default=64, show_default=True, type=click.IntRange(min=1),
              help="training images calibrating the int8 TFLite model")
@click.option("--formats", metavar="NAME[,NAME...]", help=FORMATS_HELP)
@click.option("--accept_parity_failures", is_flag=True,
              help=f"exit 0 even when a form misses its tolerance in {PARITY_FILE} (by default the export fails "
                   "after writing every file, naming the form and the first layer past its tolerance)")
@verbose_option
def main(experiment_id, restore_path, image_size, images, config_file, metric_samples, emulation_samples,
         calibration_samples, formats, overrides, accept_parity_failures):
    """Export a trained experiment for inference and hardware.

    Writes the frozen graph, meta, SavedModel, TFLite, ONNX, QONNX, optionally an hls4ml project, and the
    parity report.
    """
    user_errors_exit_2(run)(experiment_id, restore_path, image_size or None, images, config_file, metric_samples,
                            calibration_samples, formats, overrides, accept_parity_failures, emulation_samples)


if __name__ == "__main__":
    main()
