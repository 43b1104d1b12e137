"""Predict a folder of images with a trained experiment; writes npy/, json/, images/ (and cam/ with --cam)."""
import click

from lmnet.cli import overwrite_option, quiet_tensorflow, trained_experiment_options, user_errors_exit_2, verbose_option

quiet_tensorflow()

from lmnet.environment import Environment  # noqa: E402
from lmnet.predict import predict_experiment  # noqa: E402
from lmnet.visualize import DEFAULT_DISPLAY_THRESHOLD  # noqa: E402


def run(input_dir, output_dir, experiment_id, config_file=None, restore_path=None, save_images=True, progress=True,
        overwrite=False, overrides=(), display_threshold=DEFAULT_DISPLAY_THRESHOLD, cam=False):
    """Predicts every image of ``input_dir`` with the newest (or given) checkpoint; returns the summary."""
    summary = predict_experiment(Environment.from_env(), experiment_id, input_dir, output_dir, config_file=config_file,
                                 restore_path=restore_path, save_images=save_images, progress=progress,
                                 log=click.echo, overwrite=overwrite, overrides=overrides,
                                 display_threshold=display_threshold, cam=cam)
    click.echo(f"outputs written to {output_dir}")
    return summary


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@trained_experiment_options
@click.option("-in", "--input_dir", required=True, help="folder of the images to predict")
@click.option("-o", "--output_dir", required=True, help="folder for npy/, json/ and images/")
@click.option("--save_images/--no_save_images", default=True, show_default=True,
              help="write the images with the predictions drawn")
@click.option("--display_threshold", type=float, default=DEFAULT_DISPLAY_THRESHOLD, show_default=True,
              help="draw only the detection boxes scoring at least this in images/ (npy/ and json/ keep every box)")
@click.option("--cam", is_flag=True, help="classifiers: also write each image with the class activation map of its "
                                          "predicted class to cam/")
@overwrite_option
@verbose_option
def main(input_dir, output_dir, experiment_id, config_file, restore_path, save_images, display_threshold, cam,
         overwrite, overrides):
    """Predict a folder of images with a trained experiment."""
    user_errors_exit_2(run)(input_dir, output_dir, experiment_id, config_file, restore_path, save_images,
                            overwrite=overwrite, overrides=overrides, display_threshold=display_threshold, cam=cam)


if __name__ == "__main__":
    main()
