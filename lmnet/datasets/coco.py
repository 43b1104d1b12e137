"""MS-COCO 2017 object detection, read with ``pycocotools``.

Layout under ``DATA_DIR/COCO/``::

    annotations/instances_train2017.json
    annotations/instances_val2017.json
    train2017/<file_name>
    val2017/<file_name>

Classes are the JSON's categories sorted by category id: class index ``i`` is category id
``category_ids[i]`` (ids need not be contiguous; keep the mapping for the COCO metric). Boxes are
COCO ``[x, y, w, h]`` pixel edges already. Crowd regions (``iscrowd``) are kept with
``Annotation.ignore`` set. Images are in increasing image-id order; ``image_ids`` gives each
sample's id. Images without any annotation are kept in ``validation`` (they count for the metric)
but skipped in ``train`` (they teach nothing to the detector and only slow training down). An
annotation whose ``image_id`` is not in the file's ``images`` is a bad annotation (it would be lost).
"""
import contextlib
import io
import os

from lmnet.datasets.detection_base import AnnotationStore, FileDetectionDataset
from lmnet.errors import DatasetError

#: The 80 COCO detection classes in category-id order (the default before the JSON is read).
COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)

_SUBSET_NAMES = {"train": "train2017", "validation": "val2017"}


def load_coco(path):
    """Reads a COCO annotation file with ``pycocotools`` (its progress prints silenced).

    Returns:
        A ``pycocotools.coco.COCO`` index.

    Raises:
        DatasetError: the file is missing, not JSON, or not a COCO annotation dict; the message names it.
    """
    from pycocotools.coco import COCO

    if not os.path.isfile(path):
        raise DatasetError(f"{path}: COCO annotation file not found")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(path)
    except (ValueError, KeyError, TypeError, AssertionError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: malformed COCO annotation file ({type(error).__name__}: {error})") from None
    if not isinstance(coco.dataset, dict) or not coco.dataset.get("categories"):
        raise DatasetError(f"{path}: COCO annotation file has no 'categories'")
    return coco


def _bbox(annotation):
    """The ``[x, y, w, h]`` of a COCO annotation as floats; ``ValueError`` when malformed."""
    bbox = annotation.get("bbox")
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        raise ValueError(f"bbox must be 4 numbers, found {bbox!r}")
    try:
        return [float(value) for value in bbox]
    except (TypeError, ValueError):
        raise ValueError(f"bbox must be 4 numbers, found {bbox!r}") from None


class Coco(FileDetectionDataset):
    """MS-COCO 2017 detection from ``DATA_DIR/<extend_dir>/``.

    Once constructed, ``classes`` holds the JSON's category names in category-id order,
    ``category_ids`` the COCO category id of each class index and :attr:`image_ids` the COCO image id
    of each sample of this subset.

    Constructor arguments are those of :class:`lmnet.datasets.detection_base.DetectionDataset`.
    """

    classes = COCO_CLASSES
    extend_dir = "COCO"
    layout = "annotations/instances_{train,val}2017.json with the images in train2017/ and val2017/"

    def __init__(self, *args, **kwargs):
        self.category_ids = []
        self._image_ids = []
        super().__init__(*args, **kwargs)

    @property
    def image_ids(self):
        """COCO image ids of this subset's samples, in sample order."""
        return [self._image_ids[position] for position in self._indices]

    def _read_subset(self, subset):
        """Reads ``instances_<train|val>2017.json``; sets ``classes`` and ``category_ids``."""
        name = _SUBSET_NAMES[subset]
        json_path = os.path.join(self.root, "annotations", f"instances_{name}.json")
        coco = load_coco(json_path)
        self.category_ids = sorted(coco.cats)
        self.classes = tuple(str(coco.cats[category].get("name", category)) for category in self.category_ids)
        class_index = {category: index for index, category in enumerate(self.category_ids)}
        self._check_image_ids(coco, json_path)
        items, annotations = [], AnnotationStore()
        for image_id in sorted(coco.imgs):
            if subset == "train" and not coco.imgToAnns.get(image_id):
                continue
            sample = self._read_image(coco, image_id, os.path.join(self.root, name), class_index, json_path)
            if sample is not None:
                items.append(sample[0])
                annotations.append(sample[1])
                self._image_ids.append(image_id)
        return items, annotations

    def _check_image_ids(self, coco, json_path):
        """Reports each annotation whose ``image_id`` is not in the file's ``images`` list (it would be lost)."""
        for annotation in coco.dataset.get("annotations", []):
            image_id = annotation.get("image_id")
            if image_id not in coco.imgs:
                self.bad_annotations.problem("unknown image id", f"{json_path}, annotation id {annotation.get('id')}: "
                                                                 f"image_id {image_id!r} is not in the file's images")

    def _read_image(self, coco, image_id, image_dir, class_index, json_path):
        """``(image path, Annotation)`` of one image, or ``None`` when it is skipped as bad."""
        image = coco.imgs[image_id]
        source = f"{json_path} (image id {image_id})"
        if not isinstance(image.get("file_name"), str):
            raise DatasetError(f"{source}: image entry has no 'file_name'")
        path = os.path.join(image_dir, image["file_name"])
        height, width = image.get("height"), image.get("width")
        size = (height, width) if isinstance(height, int) and isinstance(width, int) else None
        image_size = self._image_size(path, source, size)
        if image_size is None:
            return None
        boxes, class_ids, crowd = [], [], []
        for annotation in coco.imgToAnns.get(image_id, []):
            entry = self._read_object(annotation, class_index, source)
            if entry is not None:
                boxes.append(entry[0])
                class_ids.append(entry[1])
                crowd.append(entry[2])
        return path, self._make_annotation(boxes, class_ids, crowd, image_size, source)

    def _read_object(self, annotation, class_index, source):
        """``(box, class index, crowd)`` of one COCO annotation, or ``None`` when it is skipped as bad."""
        where = f"{source}, annotation id {annotation.get('id')}"
        try:
            box = _bbox(annotation)
        except ValueError as error:
            self.bad_annotations.problem("malformed annotation", f"{where}: {error}")
            return None
        category = annotation.get("category_id")
        if category not in class_index:
            self.bad_annotations.problem("unknown class", f"{where}: unknown category_id {category!r}; "
                                                          f"categories are {self.category_ids}")
            return None
        return box, class_index[category], bool(annotation.get("iscrowd", 0))
