"""Object detection in the YOLO text format.

Layout under ``DATA_DIR/<extend_dir>/`` (``yolo`` by default)::

    classes.txt                       one class name per line, in class-index order
    train/images/<stem>.<ext>         jpg, jpeg, png, bmp, gif or webp
    train/labels/<stem>.txt           one object per line: ``class_index cx cy w h``
    validation/images/, validation/labels/

Box centres and sizes are fractions of the image width and height; they are turned into pixel
``(x, y, w, h)`` boxes with the size read from the image header. An image without a label file has
no objects. Samples are the images in file-name order. A label line with a wrong column count, a
value that is not a number or a class index outside ``classes.txt``, and a label file without an
image, are problems named after the label file (and line).
"""
import functools
import os

from lmnet.boxes import cxcywh_to_xywh, scale_xywh
from lmnet.datasets.detection_base import AnnotationStore, FileDetectionDataset, LazyAnnotations
from lmnet.datasets.image_folder import IMAGE_EXTENSIONS
from lmnet.errors import DatasetError

_SUBSET_FOLDERS = {"train": "train", "validation": "validation"}


def read_class_names(path):
    """Reads ``classes.txt``: one name per non-empty line.

    Raises:
        DatasetError: the file is missing or lists no class; the message names it.
    """
    if not os.path.isfile(path):
        raise DatasetError(f"{path}: class list not found")
    with open(path, encoding="utf-8") as stream:
        names = [line.strip() for line in stream if line.strip()]
    if not names:
        raise DatasetError(f"{path}: no class names")
    return tuple(names)


def list_stems(folder, extensions):
    """``{stem: file name}`` of the files of ``folder`` whose (case-insensitive) extension is in ``extensions``.

    Raises:
        DatasetError: two files share a stem; the message names both.
    """
    stems = {}
    for name in sorted(os.listdir(folder)):
        stem, extension = os.path.splitext(name)
        if name.startswith(".") or extension.lower() not in extensions:
            continue
        if stem in stems:
            raise DatasetError(f"{os.path.join(folder, name)}: same name as {os.path.join(folder, stems[stem])}")
        stems[stem] = name
    return stems


def yolo_box(values, image_size):
    """Turns normalized ``(cx, cy, w, h)`` into a pixel ``(x, y, w, h)`` box of an image of ``(height, width)``."""
    height, width = image_size
    return scale_xywh(cxcywh_to_xywh(values), width, height).tolist()


class YoloTxt(FileDetectionDataset):
    """YOLO-txt detection data under ``DATA_DIR/<extend_dir>/`` (``classes`` read from ``classes.txt``).

    Constructor arguments are those of :class:`lmnet.datasets.detection_base.DetectionDataset`.
    """

    extend_dir = "yolo"
    layout = ("classes.txt with train/{images,labels}/ and validation/{images,labels}/ "
              "(labels/<image stem>.txt lines: class cx cy w h, normalized)")

    def _read_subset(self, subset):
        """Reads ``classes.txt`` and the images and labels of ``subset``."""
        self.classes = read_class_names(os.path.join(self.root, "classes.txt"))
        image_dir, label_dir = self._subset_dirs(subset)
        images = list_stems(image_dir, IMAGE_EXTENSIONS)
        labels = list_stems(label_dir, (".txt",)) if os.path.isdir(label_dir) else {}
        for stem in sorted(set(labels) - set(images)):
            self.bad_annotations.problem("missing image", f"{os.path.join(label_dir, labels[stem])}: no image "
                                                          f"{stem}.<{'|'.join(e[1:] for e in IMAGE_EXTENSIONS)}> in "
                                                          f"{image_dir}")
        if not images:
            raise DatasetError(f"YoloTxt: no images in {image_dir}")
        paths = {stem: os.path.join(image_dir, name) for stem, name in images.items()}
        if self.lazy_annotations:
            items = list(paths.values())
            return items, LazyAnnotations(items, functools.partial(self._lazy_annotation, label_dir))
        items, annotations = [], AnnotationStore()
        for stem, path in paths.items():
            annotation = self._annotation(path, os.path.join(label_dir, f"{stem}.txt") if stem in labels else None)
            if annotation is not None:
                items.append(path)
                annotations.append(annotation)
        return items, annotations

    def _annotation(self, path, label_path):
        """The :class:`Annotation` of the image at ``path`` from ``label_path`` (``None``: no objects).

        Returns ``None`` when the image is skipped as unreadable (``skip_bad_annotations``).
        """
        image_size = self._image_size(path, label_path or path)
        if image_size is None:
            return None
        boxes, class_ids = self._read_labels(label_path, image_size) if label_path else ([], [])
        return self._make_annotation(boxes, class_ids, [False] * len(boxes), image_size, label_path or path)

    def _lazy_annotation(self, label_dir, path):
        """:meth:`_annotation` of the image at ``path``, its label file found now (lazy reading)."""
        label_path = os.path.join(label_dir, os.path.splitext(os.path.basename(path))[0] + ".txt")
        return self._annotation(path, label_path if os.path.isfile(label_path) else None)

    def _subset_dirs(self, subset):
        """``(images folder, labels folder)`` of ``subset``; the images folder must exist."""
        folder = os.path.join(self.root, _SUBSET_FOLDERS[subset])
        image_dir = os.path.join(folder, "images")
        if not os.path.isdir(image_dir):
            raise DatasetError(f"YoloTxt: {image_dir} not found; expected {self.layout}")
        return image_dir, os.path.join(folder, "labels")

    def _read_labels(self, label_path, image_size):
        """Reads one label file into pixel boxes and class indices; bad lines are reported problems."""
        boxes, class_ids = [], []
        try:
            with open(label_path, encoding="utf-8") as stream:
                lines = stream.readlines()
        except UnicodeDecodeError as error:
            raise DatasetError(f"{label_path}: label file is not UTF-8 text ({error})") from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            entry = self._parse_line(line, f"{label_path} line {number}")
            if entry is not None:
                class_ids.append(entry[0])
                boxes.append(yolo_box(entry[1], image_size))
        return boxes, class_ids

    def _parse_line(self, line, where):
        """``(class index, (cx, cy, w, h))`` of one label line, or ``None`` when it is a reported problem."""
        fields = line.split()
        if len(fields) != 5:
            self.bad_annotations.problem("malformed label", f"{where}: expected 5 values 'class cx cy w h', "
                                                            f"found {len(fields)}")
            return None
        try:
            class_id = int(fields[0])
            values = tuple(float(field) for field in fields[1:])
        except ValueError:
            self.bad_annotations.problem("malformed label", f"{where}: values are not numbers: {line.strip()!r}")
            return None
        if not 0 <= class_id < len(self.classes):
            self.bad_annotations.problem("unknown class", f"{where}: class index {class_id} outside "
                                                          f"0..{len(self.classes) - 1} of classes.txt")
            return None
        return class_id, values
