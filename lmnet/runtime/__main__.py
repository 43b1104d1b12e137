"""``python -m lmnet.runtime EXPORT_DIR IMAGES_DIR -o OUT [--format NAME | --engine ENGINE [--model FILE]]``.

Predicts a folder of images. ``--format`` (a name of :data:`lmnet.runtime.layout.RUNTIME_FORMATS`)
picks the model file and its engine from the export-format table; ``--engine`` and ``--model`` pick
them one by one (the engine's default model when ``--model`` is left out). ``--format`` excludes the
other two; with none of them the engine is ``onnx``.
"""
import argparse
import sys

from lmnet.errors import user_message
from lmnet.runtime.engines import DEFAULT_ENGINE, ENGINES, MODEL_FILES
from lmnet.runtime.layout import FORMATS, RUNTIME_FORMATS
from lmnet.runtime.runtime import Runtime
from lmnet.visualize import DEFAULT_DISPLAY_THRESHOLD


def parse_args(argv=None):
    """Parses the command line (argparse, so that the runtime needs no click)."""
    parser = argparse.ArgumentParser(prog="python -m lmnet.runtime",
                                     description="Predict the images of a folder with an exported lmnet model; "
                                                 "writes npy/, json/ and images/ like executor/predict.py.")
    parser.add_argument("export_dir", help="export folder holding meta.yaml and the model files")
    parser.add_argument("input_dir", help="folder of the images to predict")
    parser.add_argument("-o", "--output_dir", required=True, help="folder for npy/, json/ and images/")
    _add_model_options(parser)
    parser.add_argument("--batch_size", type=int, help="images per npy/json file (default: BATCH_SIZE of "
                                                       "the export's config.yaml, else 1)")
    parser.add_argument("--no_save_images", dest="save_images", action="store_false",
                        help="do not write the drawn images")
    parser.add_argument("--display_threshold", type=float, default=DEFAULT_DISPLAY_THRESHOLD,
                        help="draw only the detection boxes scoring at least this in images/; npy/ and json/ keep "
                             f"every box (default: {DEFAULT_DISPLAY_THRESHOLD})")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results of an earlier run in --output_dir")
    parser.add_argument("--no_progress", dest="progress", action="store_false", help="hide the progress bar")
    return parser.parse_args(argv)


def _add_model_options(parser):
    """``--format``, or ``--engine`` and ``--model`` (the Runtime refuses ``--format`` with either of the others)."""
    formats = ", ".join(f"{name}: {FORMATS[name].file} on {FORMATS[name].engine}" for name in RUNTIME_FORMATS)
    parser.add_argument("--format", dest="export_format", choices=RUNTIME_FORMATS,
                        help=f"export format to run, which picks the model file and its engine ({formats}); "
                             "not with --engine or --model")
    parser.add_argument("--engine", choices=ENGINES, help=f"inference engine (default: {DEFAULT_ENGINE})")
    defaults = ", ".join(f"{engine}: {MODEL_FILES[engine]}" for engine in ENGINES)
    parser.add_argument("--model", help=f"model file inside the export folder (default per engine: {defaults})")


def main(argv=None):
    """Runs the CLI; returns the exit code (2 for an error in the user's input)."""
    args = parse_args(argv)
    try:
        runtime = Runtime(args.export_dir, engine=args.engine, model=args.model,
                          export_format=args.export_format)
        runtime.predict_folder(args.input_dir, args.output_dir, batch_size=args.batch_size,
                               save_images=args.save_images, progress=args.progress, overwrite=args.overwrite,
                               display_threshold=args.display_threshold)
    except Exception as error:
        message = user_message(error)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    print(f"outputs written to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
