"""PASCAL VOC 2007+2012 detection: ``train`` is 2007 ``trainval`` followed by 2012 ``trainval``,
``validation`` is 2007 ``test`` (the usual "07+12" protocol)."""
from lmnet.datasets.pascalvoc import PascalvocBase


class Pascalvoc20072012(PascalvocBase):
    """PASCAL VOC 2007+2012 from ``DATA_DIR/PASCALVOC_2007/VOCdevkit/VOC2007/`` and
    ``DATA_DIR/PASCALVOC_2012/VOCdevkit/VOC2012/``.

    Classes, samples and constructor arguments are those of :class:`lmnet.datasets.pascalvoc.PascalvocBase`.
    """

    splits = {"train": ((2007, "trainval"), (2012, "trainval")), "validation": ((2007, "test"),)}
