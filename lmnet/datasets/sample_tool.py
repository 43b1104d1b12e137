"""The ``python -m`` tool of the embedded synthetic sets: generation speed and sample PNGs.

Both ``lmnet.datasets.synthetic_shapes`` and ``lmnet.datasets.synthetic_shapes_detection`` run
:func:`run` with their own dataset class, picture maker and defaults.
"""
import argparse
import collections
import os
import time

import numpy as np

#: What a synthetic set's sample tool needs: its dataset class, ``samples(dataset, count, scale)``
#: returning ``(pictures, file names, contact-sheet columns)``, the default count, scale and number of
#: timed images, and the ``--help`` description. The default image size is the dataset's.
SampleTool = collections.namedtuple("SampleTool", "dataset_class samples count scale timing_images description")


def time_generation(dataset, count):
    """Seconds per image to generate ``count`` images of ``dataset``."""
    count = min(count, len(dataset))
    start = time.perf_counter()
    for index in range(count):
        dataset[index]
    return (time.perf_counter() - start) / count


def enlarge(image, scale):
    """``image`` enlarged ``scale`` times with nearest-neighbour sampling."""
    return image.repeat(scale, axis=0).repeat(scale, axis=1)


def contact_sheet(images, columns, gap=2):
    """Tiles equally sized images on a grey sheet, ``columns`` per row."""
    height, width = images[0].shape[:2]
    rows = -(-len(images) // columns)
    sheet = np.full((rows * (height + gap) + gap, columns * (width + gap) + gap, 3), 128, np.uint8)
    for number, image in enumerate(images):
        top, left = gap + (number // columns) * (height + gap), gap + (number % columns) * (width + gap)
        sheet[top:top + height, left:left + width] = image
    return sheet


def write_pictures(out_dir, pictures, names, columns, gap):
    """Writes each picture as ``out_dir/name`` and, when there are any, a ``contact_sheet.png`` of them.

    Args:
        out_dir: folder to write to (created when missing).
        pictures: equally sized RGB ``uint8`` images.
        names: a PNG file name for each picture.
        columns: pictures per row of the contact sheet.
        gap: pixels between the pictures on the sheet.

    Returns:
        The paths written.
    """
    from PIL import Image

    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, name) for name in names]
    for picture, path in zip(pictures, paths):
        Image.fromarray(picture).save(path)
    if pictures:
        paths.append(os.path.join(out_dir, "contact_sheet.png"))
        Image.fromarray(contact_sheet(pictures, columns, gap)).save(paths[-1])
    return paths


def write_samples(tool, out_dir, count, image_size, seed, scale):
    """Writes ``count`` training samples of ``tool``'s set, enlarged ``scale`` times, and their contact sheet."""
    dataset = tool.dataset_class("train", seed=seed, image_size=image_size, num_train=max(count, 1))
    pictures, names, columns = tool.samples(dataset, count, scale)
    return write_pictures(out_dir, pictures, names, columns, gap=scale * 2)


def command(*args, **kwargs):
    """The ``main(argv=None)`` of a synthetic set's module; the arguments are the fields of :data:`SampleTool`."""
    tool = SampleTool(*args, **kwargs)

    def main(argv=None):
        """Prints the generation time per image and writes sample PNGs (``python -m`` entry point)."""
        run(tool, argv)
    return main


def run(tool, argv=None):
    """Prints the generation time per image of ``tool``'s set and writes sample PNGs.

    Args:
        tool: the :data:`SampleTool` of a synthetic set.
        argv: the command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=tool.description)
    parser.add_argument("out_dir", help="folder for the sample PNGs")
    parser.add_argument("--count", type=int, default=tool.count, help="number of samples written")
    parser.add_argument("--height", type=int, default=tool.dataset_class.default_image_size[0])
    parser.add_argument("--width", type=int, default=tool.dataset_class.default_image_size[1])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=int, default=tool.scale, help="enlargement of the written PNGs")
    parser.add_argument("--timing-images", type=int, default=tool.timing_images,
                        help="images generated to measure speed")
    args = parser.parse_args(argv)
    image_size = (args.height, args.width)
    dataset = tool.dataset_class("train", seed=args.seed, image_size=image_size,
                                 num_train=max(args.timing_images, 50))
    time_generation(dataset, 20)
    seconds = time_generation(dataset, args.timing_images)
    print(f"{tool.dataset_class.__name__} {image_size[0]}x{image_size[1]}: {seconds * 1e3:.3f} ms per image "
          f"({1.0 / seconds:.0f} images/s, {args.timing_images} images)")
    paths = write_samples(tool, args.out_dir, args.count, image_size, args.seed, args.scale)
    print(f"wrote {len(paths)} PNGs to {args.out_dir}")
