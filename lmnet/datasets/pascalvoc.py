"""PASCAL VOC detection data in the VOCdevkit layout, shared by the 2007, 2012 and 2007+2012 datasets.

Each year lives in ``DATA_DIR/PASCALVOC_<year>/VOCdevkit/VOC<year>/``::

    Annotations/<image id>.xml          one XML file per image
    JPEGImages/<image id>.jpg
    ImageSets/Main/<split>.txt          image ids of train, val, trainval and test, one per line

A dataset class only declares which ``(year, split)`` lists form its ``train`` and ``validation``
subsets (:attr:`PascalvocBase.splits`); reading is the same for every year.

VOC coordinates are 1-based, inclusive pixel indices, so a box ``xmin=1, xmax=10`` covers the
first ten pixel columns and becomes ``x=0, w=10`` in our pixel-edge ``(x, y, w, h)`` convention.
Objects marked ``difficult`` are kept with ``Annotation.ignore`` set.

The XML files are trusted local data parsed with :mod:`xml.etree.ElementTree` (``defusedxml`` is not
available); any document type declaration is refused, so no entity (internal or external) is ever
declared or expanded.
"""
import os
import xml.etree.ElementTree as ElementTree


from lmnet.boxes import voc_to_xywh
from lmnet.datasets.detection_base import AnnotationStore, FileDetectionDataset, LazyAnnotations
from lmnet.errors import DatasetError

#: The 20 PASCAL VOC classes, in the standard (alphabetical) order.
VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)


class _NoDoctypeTreeBuilder(ElementTree.TreeBuilder):
    """Tree builder refusing document type declarations, hence every entity declaration."""

    def doctype(self, name, pubid, system):
        """Called by the parser on ``<!DOCTYPE``: always refuses."""
        raise DatasetError("document type (DOCTYPE / ENTITY) declarations are not allowed")


def parse_xml(path):
    """Parses a trusted local XML file, refusing DOCTYPE / ENTITY declarations.

    Returns:
        The root :class:`xml.etree.ElementTree.Element`.

    Raises:
        DatasetError: declarations present (always); the message names the file.
        ElementTree.ParseError: malformed XML.
    """
    parser = ElementTree.XMLParser(target=_NoDoctypeTreeBuilder())
    with open(path, "rb") as stream:
        data = stream.read()
    try:
        parser.feed(data)
        return parser.close()
    except DatasetError as error:
        raise DatasetError(f"{path}: {error}") from None


def _text(element, tag):
    """The stripped text of the child ``tag`` of ``element``; raises ``ValueError`` when absent or empty."""
    child = element.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise ValueError(f"missing <{tag}> in <{element.tag}>")
    return child.text.strip()


def _number(element, tag):
    """The child ``tag`` of ``element`` as a float; raises ``ValueError`` when absent or not a number."""
    text = _text(element, tag)
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"<{tag}> of <{element.tag}> is not a number: '{text}'") from None


def voc_box(bndbox):
    """Converts a VOC ``<bndbox>`` (1-based inclusive pixel indices) to pixel-edge ``(x, y, w, h)``."""
    xmin, ymin, xmax, ymax = (_number(bndbox, tag) for tag in ("xmin", "ymin", "xmax", "ymax"))
    return voc_to_xywh(xmin, ymin, xmax, ymax)


def read_voc_objects(root):
    """Reads the objects of a parsed VOC annotation.

    Args:
        root: the ``<annotation>`` element.

    Returns:
        ``(names, boxes, difficult, size)``: class names, ``(x, y, w, h)`` pixel-edge boxes, difficult
        flags and ``(height, width)`` from ``<size>`` (``None`` when absent).

    Raises:
        ValueError: a field is missing or not a number.
    """
    names, boxes, difficult = [], [], []
    for obj in root.iter("object"):
        names.append(_text(obj, "name"))
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise ValueError(f"<object> '{names[-1]}' has no <bndbox>")
        boxes.append(voc_box(bndbox))
        flag = obj.find("difficult")
        difficult.append(flag is not None and (flag.text or "0").strip() not in ("0", ""))
    size = root.find("size")
    if size is None or size.find("width") is None or size.find("height") is None:
        return names, boxes, difficult, None
    return names, boxes, difficult, (int(_number(size, "height")), int(_number(size, "width")))


def read_image_ids(path):
    """Reads the image ids of an ``ImageSets/Main/<split>.txt`` file (the first word of each line).

    Raises:
        DatasetError: the file is missing; the message names it.
    """
    if not os.path.isfile(path):
        raise DatasetError(f"{path}: image set file not found")
    with open(path, encoding="utf-8") as stream:
        return [line.split()[0] for line in stream if line.strip()]


def _brace(names):
    """``name`` for one name, ``{a,b}`` (shell brace style) for several."""
    return names[0] if len(names) == 1 else "{" + ",".join(names) + "}"


class PascalvocBase(FileDetectionDataset):
    """PASCAL VOC detection from one or more VOCdevkit years.

    Subclasses set :attr:`splits`: for ``"train"`` and ``"validation"``, the ``(year, image set)``
    lists read in order. Samples are the images of those lists; the classes are :data:`VOC_CLASSES`
    and the ground truth keeps difficult objects as ``ignore``. Constructor arguments are those of
    :class:`lmnet.datasets.detection_base.DetectionDataset` (``max_boxes``, ``skip_bad_annotations``,
    ``use_ignored``, ``lazy_annotations``: then building the dataset reads only the image-set lists
    and each XML file is read with its sample).
    """

    classes = VOC_CLASSES
    #: ``{"train": ((year, split), ...), "validation": ((year, split), ...)}``. A subclass sets only this;
    #: ``extend_dir`` (the first year's ``PASCALVOC_<year>``) and ``layout`` follow from it.
    splits = {}

    def __init_subclass__(cls, **kwargs):
        """Derives ``extend_dir`` and the ``layout`` shown in errors from the subclass's :attr:`splits`."""
        super().__init_subclass__(**kwargs)
        lists = {}
        for year, split in (pair for subset in ("train", "validation") for pair in cls.splits.get(subset, ())):
            lists.setdefault(year, []).append(split)
        if not lists:
            return
        cls.extend_dir = f"PASCALVOC_{next(iter(lists))}"
        folders = [f"PASCALVOC_{year}/VOCdevkit/VOC{year}/ (ImageSets/Main/{_brace(names)}.txt)"
                   for year, names in lists.items()]
        cls.layout = (" and ".join(folders) + (", each" if len(folders) > 1 else "")
                      + " with Annotations/<id>.xml and JPEGImages/<id>.jpg")

    def devkit_dir(self, year):
        """The ``VOC<year>`` folder of ``year``, checked to exist.

        The year folder named by ``extend_dir`` is checked with the base ``root`` property first.

        Raises:
            DatasetError: the folder is missing; the message names the path and the layout.
        """
        folder = f"PASCALVOC_{year}"
        base = self.root if folder == self.extend_dir else os.path.join(self.data_dir, folder)
        path = os.path.join(base, "VOCdevkit", f"VOC{year}")
        if not os.path.isdir(path):
            raise DatasetError(f"{type(self).__name__}: dataset directory {path} not found; expected {self.layout}. "
                               "Set DATA_DIR to the folder that holds it.")
        return path

    def _read_subset(self, subset):
        """Reads every ``(year, split)`` list of ``subset``, in order (only the lists when lazy)."""
        items, annotations = [], AnnotationStore()
        for year, split in self.splits[subset]:
            devkit = self.devkit_dir(year)
            for image_id in read_image_ids(os.path.join(devkit, "ImageSets", "Main", f"{split}.txt")):
                if self.lazy_annotations:
                    items.append(os.path.join(devkit, "JPEGImages", f"{image_id}.jpg"))
                    continue
                sample = self._read_sample(devkit, image_id)
                if sample is not None:
                    items.append(sample[0])
                    annotations.append(sample[1])
        if self.lazy_annotations:
            return items, LazyAnnotations(items, self._read_annotation_of)
        return items, annotations

    def _read_annotation_of(self, image_path):
        """The :class:`Annotation` of the image at ``devkit/JPEGImages/<id>.jpg`` (lazy reading)."""
        devkit = os.path.dirname(os.path.dirname(image_path))
        image_id = os.path.splitext(os.path.basename(image_path))[0]
        return self._read_sample(devkit, image_id)[1]

    def _read_sample(self, devkit, image_id):
        """``(image path, Annotation)`` of one image, or ``None`` when it is skipped as bad."""
        xml_path = os.path.join(devkit, "Annotations", f"{image_id}.xml")
        parsed = self._parse_annotation(xml_path)
        if parsed is None:
            return None
        names, boxes, difficult, size = parsed
        image_path = os.path.join(devkit, "JPEGImages", f"{image_id}.jpg")
        image_size = self._image_size(image_path, xml_path, size)
        if image_size is None:
            return None
        known = [index for index, name in enumerate(names) if self._known_class(name, xml_path)]
        annotation = self._make_annotation([boxes[i] for i in known], [self.classes.index(names[i]) for i in known],
                                           [difficult[i] for i in known], image_size, xml_path)
        return image_path, annotation

    def _parse_annotation(self, xml_path):
        """The objects of one XML file (see :func:`read_voc_objects`), or ``None`` when skipped as malformed."""
        if not os.path.isfile(xml_path):
            self.bad_annotations.problem("missing annotation", f"{xml_path}: annotation file not found")
            return None
        try:
            return read_voc_objects(parse_xml(xml_path))
        except (ElementTree.ParseError, ValueError) as error:
            self.bad_annotations.problem("malformed annotation", f"{xml_path}: malformed VOC annotation ({error})")
            return None

    def _known_class(self, name, xml_path):
        """Whether ``name`` is a class; an unknown name is a reported problem."""
        if name in self.classes:
            return True
        self.bad_annotations.problem("unknown class", f"{xml_path}: unknown class '{name}'; expected one of "
                                                      f"{', '.join(self.classes)}")
        return False
