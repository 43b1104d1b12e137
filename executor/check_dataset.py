"""Check a dataset before training: statistics, problems with the files they are in, and anchors fitted to its boxes."""
import click

from lmnet.cli import config_overrides_option, overwrite_option, quiet_tensorflow, user_errors_exit_2, verbose_option

quiet_tensorflow()

from lmnet import dataset_check_tool  # noqa: E402
from lmnet.environment import Environment  # noqa: E402


def run(config_file=None, dataset=None, folder=None, image_size=None, stride=None, num_anchors=None, output_dir=None,
        max_images=None, overwrite=False, progress=True, decode_images=True, bpr_iou=None, seed=0, overrides=()):
    """Checks the dataset of ``config_file`` (or the bare dataset module ``dataset``); returns the
    :class:`lmnet.dataset_check_tool.CheckResult`.

    Raises:
        ConfigError: neither a config nor a dataset module, or options that do not apply.
    """
    target = dataset_check_tool.target_from_options(Environment.from_env().data_dir, config_file, dataset, folder,
                                                    image_size, stride, num_anchors, overrides)
    return dataset_check_tool.check(target, output_dir or dataset_check_tool.default_output_dir(target),
                                    max_images=max_images, overwrite=overwrite, progress=progress,
                                    decode_images=decode_images, bpr_iou=bpr_iou, seed=seed, log=click.echo)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config_file", help="config whose dataset, IMAGE_SIZE and anchors are checked")
@click.option("-d", "--dataset", help="dataset module of lmnet.datasets (e.g. yolo_txt): with -c, overrides "
                                      "DATASET_CLASS; alone, checks that dataset")
@click.option("--folder", type=click.Path(), help="the dataset's folder (instead of $DATA_DIR/<its default folder>)")
@click.option("--image_size", type=click.IntRange(min=1), nargs=2, metavar="H W",
              help="without -c: the network input the tiny-box rule and the anchors are for")
@click.option("--stride", type=click.IntRange(min=1), help="without -c: pixels per grid cell of the anchors "
                                                           f"(default {dataset_check_tool.DEFAULT_STRIDE})")
@click.option("-k", "--num_anchors", type=click.IntRange(min=1),
              help="anchors to fit (default: as many as configured; without -c "
                   f"{dataset_check_tool.DEFAULT_NUM_ANCHORS})")
@click.option("--bpr_iou", type=click.FloatRange(0, 1, min_open=True),
              help="shape IoU a box's best anchor must reach to count in the best-possible recall (default 0.5)")
@click.option("--max_images", type=click.IntRange(min=1), help="read at most this many images per subset")
@click.option("--no_decode", is_flag=True, help="do not decode the image files (faster; broken image data is "
                                                "then not found)")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the anchor k-means")
@click.option("-o", "--output_dir", help="folder for the plots and the report (default ./dataset_check/<name>)")
@click.option("--no_progress", is_flag=True, help="no progress bars (for logs)")
@overwrite_option
@config_overrides_option
@verbose_option
def main(config_file, dataset, folder, image_size, stride, num_anchors, bpr_iou, max_images, no_decode, seed,
         output_dir, no_progress, overwrite, overrides):
    """Check a dataset: statistics, problems, fitted anchors.

    Image and box statistics with plots, class balance, the files with degenerate, tiny, out-of-image or
    duplicate boxes and unreadable images, and anchors fitted by k-means against the configured ones.
    """
    user_errors_exit_2(run)(config_file, dataset, folder, image_size or None, stride, num_anchors, output_dir,
                            max_images, overwrite, not no_progress, not no_decode, bpr_iou, seed, overrides)


if __name__ == "__main__":
    main()
