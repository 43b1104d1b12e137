"""PASCAL VOC 2007 detection: ``train`` is ``trainval``, ``validation`` is ``test``."""
from lmnet.datasets.pascalvoc import PascalvocBase


class Pascalvoc2007(PascalvocBase):
    """PASCAL VOC 2007 from ``DATA_DIR/PASCALVOC_2007/VOCdevkit/VOC2007/``.

    Classes, samples and constructor arguments are those of :class:`lmnet.datasets.pascalvoc.PascalvocBase`.
    """

    splits = {"train": ((2007, "trainval"),), "validation": ((2007, "test"),)}
