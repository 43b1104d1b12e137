"""PASCAL VOC 2012 detection: ``train`` is ``train``, ``validation`` is ``val``."""
from lmnet.datasets.pascalvoc import PascalvocBase


class Pascalvoc2012(PascalvocBase):
    """PASCAL VOC 2012 from ``DATA_DIR/PASCALVOC_2012/VOCdevkit/VOC2012/``.

    The 20 classes are :data:`lmnet.datasets.pascalvoc.VOC_CLASSES`; difficult objects are kept as
    ``ignore``. Constructor arguments are those of :class:`lmnet.datasets.pascalvoc.PascalvocBase`.
    """

    extend_dir = "PASCALVOC_2012"
    layout = ("VOCdevkit/VOC2012/ with Annotations/<id>.xml, JPEGImages/<id>.jpg and "
              "ImageSets/Main/{train,val}.txt")
    splits = {"train": ((2012, "train"),), "validation": ((2012, "val"),)}
