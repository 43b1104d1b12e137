"""PASCAL VOC 2012 detection: ``train`` is ``train``, ``validation`` is ``val``."""
from lmnet.datasets.pascalvoc import PascalvocBase


class Pascalvoc2012(PascalvocBase):
    """PASCAL VOC 2012 from ``DATA_DIR/PASCALVOC_2012/VOCdevkit/VOC2012/``.

    Classes, samples and constructor arguments are those of :class:`lmnet.datasets.pascalvoc.PascalvocBase`.
    """

    splits = {"train": ((2012, "train"),), "validation": ((2012, "val"),)}
