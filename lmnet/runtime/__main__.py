"""``python -m lmnet.runtime EXPORT_DIR IMAGES_DIR -o OUT [--engine onnx]``: predict a folder of images."""
import argparse
import sys

from lmnet.errors import user_message
from lmnet.runtime.engines import ENGINES
from lmnet.runtime.runtime import Runtime


def parse_args(argv=None):
    """Parses the command line (argparse, so that the runtime needs no click)."""
    parser = argparse.ArgumentParser(prog="python -m lmnet.runtime",
                                     description="Predict the images of a folder with an exported lmnet model; "
                                                 "writes npy/, json/ and images/ like executor/predict.py.")
    parser.add_argument("export_dir", help="export folder holding meta.yaml and the model files")
    parser.add_argument("input_dir", help="folder of the images to predict")
    parser.add_argument("-o", "--output_dir", required=True, help="folder for npy/, json/ and images/")
    parser.add_argument("--engine", choices=ENGINES, default="onnx", help="inference engine (default: onnx)")
    parser.add_argument("--model", help="model file inside the export folder (default per engine, "
                                        "e.g. model_int8.tflite for the quantized TFLite model)")
    parser.add_argument("--batch_size", type=int, help="images per npy/json file (default: BATCH_SIZE of "
                                                       "the export's config.yaml, else 1)")
    parser.add_argument("--no_save_images", dest="save_images", action="store_false",
                        help="do not write the drawn images")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results of an earlier run in --output_dir")
    parser.add_argument("--no_progress", dest="progress", action="store_false", help="hide the progress bar")
    return parser.parse_args(argv)


def main(argv=None):
    """Runs the CLI; returns the exit code (2 for an error in the user's input)."""
    args = parse_args(argv)
    try:
        runtime = Runtime(args.export_dir, engine=args.engine, model=args.model)
        runtime.predict_folder(args.input_dir, args.output_dir, batch_size=args.batch_size,
                               save_images=args.save_images, progress=args.progress, overwrite=args.overwrite)
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
