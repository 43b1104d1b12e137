"""OpenImages-style object detection from CSV files.

Layout under ``DATA_DIR/<extend_dir>/`` (``open_images_v4`` by default)::

    annotations-bbox.csv      one box per row, with a header naming at least ImageID, LabelName,
                              XMin, XMax, YMin, YMax (other OpenImages columns such as Source,
                              Confidence, IsOccluded are allowed; IsGroupOf = 1 marks a group box)
    class-descriptions.csv    LabelName,DisplayName rows, no header; the class order is the file order
    images/<ImageID>.jpg

Coordinates are fractions of the image width and height; they are turned into pixels with the size
read from the image header. Group boxes (``IsGroupOf`` = 1) are kept with ``Annotation.ignore`` set.
Only images with at least one row are samples, in ImageID order.

There are no separate subset files: a fixed fraction (``validation_ratio``) of the image ids, chosen
with ``split_seed``, forms ``validation`` and the rest ``train``. The split is made over every image id
of the CSV before any bad row is dropped, so it does not change with ``skip_bad_annotations``.
"""
import csv
import os

import numpy as np

from lmnet.boxes import scale_xywh, xyxy_to_xywh
from lmnet.datasets.base import RatioSplit
from lmnet.datasets.detection_base import AnnotationStore, FileDetectionDataset
from lmnet.datasets.image_folder import validation_count
from lmnet.errors import DatasetError

REQUIRED_COLUMNS = ("ImageID", "LabelName", "XMin", "XMax", "YMin", "YMax")
COORDINATE_COLUMNS = ("XMin", "XMax", "YMin", "YMax")


def read_class_descriptions(path):
    """Reads ``LabelName,DisplayName`` rows (no header).

    Returns:
        ``(label_names, display_names)``, two lists in file order.

    Raises:
        DatasetError: the file is missing, empty, has a short row or a repeated LabelName; the message
            names the file (and line).
    """
    if not os.path.isfile(path):
        raise DatasetError(f"{path}: class descriptions file not found")
    label_names, display_names = [], []
    with open(path, newline="", encoding="utf-8") as stream:
        reader = csv.reader(stream)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) < 2 or not row[0].strip():
                raise DatasetError(f"{path} line {reader.line_num}: expected LabelName,DisplayName, found {row}")
            if row[0].strip() in label_names:
                raise DatasetError(f"{path} line {reader.line_num}: LabelName '{row[0].strip()}' repeated")
            label_names.append(row[0].strip())
            display_names.append(row[1].strip())
    if not label_names:
        raise DatasetError(f"{path}: no classes")
    return label_names, display_names


def split_ids(image_ids, ratio, seed):
    """Splits sorted ``image_ids`` into ``{"train": [...], "validation": [...]}``, deterministically.

    ``ratio`` of them (rounded half up, always leaving one for training) are chosen with ``seed``
    for validation; each list stays sorted.
    """
    order = np.random.default_rng(seed).permutation(len(image_ids))
    held_out = set(order[:validation_count(len(image_ids), ratio)].tolist())
    return {"train": [image_id for index, image_id in enumerate(image_ids) if index not in held_out],
            "validation": [image_id for index, image_id in enumerate(image_ids) if index in held_out]}


class OpenImagesV4(RatioSplit, FileDetectionDataset):
    """OpenImages-style CSV detection data under ``DATA_DIR/<extend_dir>/``.

    ``classes`` are the display names of ``class-descriptions.csv`` (set on the instance).

    Arguments are those of :class:`lmnet.datasets.base.RatioSplit` (``validation_ratio`` of the image ids
    are used for validation) and :class:`lmnet.datasets.detection_base.DetectionDataset`.
    """

    extend_dir = "open_images_v4"
    layout = ("annotations-bbox.csv (ImageID, LabelName, XMin, XMax, YMin, YMax, ...), class-descriptions.csv "
              "(LabelName,DisplayName, no header) and images/<ImageID>.jpg")

    def _read_subset(self, subset):
        """Reads the CSV files and returns the images of ``subset`` with their annotations."""
        label_names, display_names = read_class_descriptions(os.path.join(self.root, "class-descriptions.csv"))
        self.classes = tuple(display_names)
        csv_path = os.path.join(self.root, "annotations-bbox.csv")
        rows = self._read_rows(csv_path, {name: index for index, name in enumerate(label_names)})
        items, annotations = [], AnnotationStore()
        for image_id in split_ids(sorted(rows), self.validation_ratio, self.split_seed)[subset]:
            path = os.path.join(self.root, "images", f"{image_id}.jpg")
            source = f"{csv_path} (ImageID {image_id})"
            image_size = self._image_size(path, source)
            if image_size is None:
                continue
            boxes, class_ids, group = _pixel_boxes(rows[image_id], image_size)
            items.append(path)
            annotations.append(self._make_annotation(boxes, class_ids, group, image_size, source))
        if not items:
            raise DatasetError(f"OpenImagesV4: no {subset} images in {csv_path}; set validation_ratio > 0 "
                               "or check the file")
        return items, annotations

    def _read_rows(self, csv_path, class_index):
        """Reads ``annotations-bbox.csv`` into ``{ImageID: [(xmin, xmax, ymin, ymax, class, group), ...]}``.

        Every ImageID appears (with an empty list when all its rows are bad), so the split is stable.
        """
        if not os.path.isfile(csv_path):
            raise DatasetError(f"{csv_path}: box annotation file not found")
        rows = {}
        try:
            with open(csv_path, newline="", encoding="utf-8") as stream:
                reader = csv.DictReader(stream)
                missing = [name for name in REQUIRED_COLUMNS if name not in (reader.fieldnames or [])]
                if missing:
                    raise DatasetError(f"{csv_path}: header lacks column(s) {', '.join(missing)}; "
                                       f"expected {', '.join(REQUIRED_COLUMNS)}")
                for row in reader:
                    self._add_row(row, f"{csv_path} line {reader.line_num}", class_index, rows)
        except (csv.Error, UnicodeDecodeError) as error:
            raise DatasetError(f"{csv_path}: malformed CSV ({error})") from None
        return rows

    def _add_row(self, row, where, class_index, rows):
        """Adds one CSV row to ``rows``; a malformed row or an unknown LabelName is a reported problem."""
        image_id = (row.get("ImageID") or "").strip()
        if not image_id:
            self.bad_annotations.problem("malformed row", f"{where}: empty ImageID")
            return
        entries = rows.setdefault(image_id, [])
        try:
            coordinates = [float(row[name]) for name in COORDINATE_COLUMNS]
        except (TypeError, ValueError):
            self.bad_annotations.problem("malformed row", f"{where}: XMin, XMax, YMin, YMax must be numbers, found "
                                                          f"{[row.get(name) for name in COORDINATE_COLUMNS]}")
            return
        label = (row.get("LabelName") or "").strip()
        if label not in class_index:
            self.bad_annotations.problem("unknown class", f"{where}: unknown LabelName '{label}' (not in "
                                                          "class-descriptions.csv)")
            return
        group = (row.get("IsGroupOf") or "0").strip() == "1"
        entries.append((*coordinates, class_index[label], group))


def _pixel_boxes(entries, image_size):
    """Turns ``(xmin, xmax, ymin, ymax, class, group)`` fractions into pixel ``(x, y, w, h)`` boxes.

    Returns:
        ``(boxes [N, 4], class_ids [N], group flags [N])``.
    """
    height, width = image_size
    corners = [[xmin, ymin, xmax, ymax] for xmin, xmax, ymin, ymax, _, _ in entries]
    boxes = scale_xywh(xyxy_to_xywh(np.reshape(corners, (-1, 4))), width, height).tolist()
    return boxes, [entry[4] for entry in entries], [entry[5] for entry in entries]
