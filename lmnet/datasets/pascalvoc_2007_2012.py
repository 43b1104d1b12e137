"""PASCAL VOC 2007+2012 detection: ``train`` is 2007 ``trainval`` followed by 2012 ``trainval``,
``validation`` is 2007 ``test`` (the usual "07+12" protocol)."""
from lmnet.datasets.pascalvoc import PascalvocBase


class Pascalvoc20072012(PascalvocBase):
    """PASCAL VOC 2007+2012 from ``DATA_DIR/PASCALVOC_2007/VOCdevkit/VOC2007/`` and
    ``DATA_DIR/PASCALVOC_2012/VOCdevkit/VOC2012/``.

    The 20 classes are :data:`lmnet.datasets.pascalvoc.VOC_CLASSES`; difficult objects are kept as
    ``ignore``. Constructor arguments are those of :class:`lmnet.datasets.pascalvoc.PascalvocBase`.
    """

    extend_dir = "PASCALVOC_2007"
    layout = ("PASCALVOC_2007/VOCdevkit/VOC2007/ (ImageSets/Main/{trainval,test}.txt) and "
              "PASCALVOC_2012/VOCdevkit/VOC2012/ (ImageSets/Main/trainval.txt), each with "
              "Annotations/<id>.xml and JPEGImages/<id>.jpg")
    splits = {"train": ((2007, "trainval"), (2012, "trainval")), "validation": ((2007, "test"),)}
