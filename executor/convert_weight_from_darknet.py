"""Convert Darknet weights (YOLOv2 VOC or Darknet-19 ImageNet) into an lmnet checkpoint for IS_PRETRAIN."""
import os

import click

from lmnet.cli import quiet_tensorflow, user_errors_exit_2, verbose_option

quiet_tensorflow()

from lmnet.darknet import MODELS, convert, get_model  # noqa: E402
from lmnet.environment import Environment  # noqa: E402


def run(model, input_path=None, output_dir=None, environment=None, log=click.echo):
    """Converts ``input_path`` (default ``inputs/<published file>``) into ``<output_dir>/save.ckpt``.

    ``output_dir`` defaults to ``$OUTPUT_DIR/convert_weight_from_darknet/<darknet19|yolo_v2>/checkpoints``.
    Prints the header, the checkpoint and the config lines to start training from it.

    Returns:
        The :class:`lmnet.darknet.ConversionResult`.
    """
    spec = get_model(model)
    environment = environment or Environment.from_env()
    input_path = input_path or spec.default_input
    output_dir = output_dir or os.path.join(environment.output_dir, spec.default_output)
    result = convert(model, input_path, output_dir)
    header = result.header
    log(f"read {input_path}: version {header.major}.{header.minor}.{header.revision}, seen {header.seen}, "
        f"{result.num_floats} floats into {len(result.variables)} variables of {spec.description}")
    log(f"checkpoint written: {result.checkpoint}")
    log("to start training from it, set in the config:")
    for line in result.config_lines():
        log(f"    {line}")
    log("(PRETRAIN_VARS keeps the layers that do not depend on the classes; use [] to load every variable "
        "when the network and classes are the published ones)")
    return result


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-m", "--model", type=click.Choice(sorted(MODELS)), required=True,
              help="network of the weight file: yolov2 (yolo-voc.weights) or darknet19 (darknet19[_448].weights)")
@click.option("--input", "input_path", help="the Darknet .weights file (default inputs/yolo-voc.weights or "
              "inputs/darknet19_448.weights)")
@click.option("--output", "output_dir", help="folder of the checkpoint save.ckpt (default "
              "$OUTPUT_DIR/convert_weight_from_darknet/<yolo_v2|darknet19>/checkpoints)")
@verbose_option
def main(model, input_path, output_dir):
    """Convert Darknet weights into an lmnet checkpoint.

    Training starts from it with IS_PRETRAIN (the command prints the config lines).
    """
    user_errors_exit_2(run)(model, input_path, output_dir)


if __name__ == "__main__":
    main()
