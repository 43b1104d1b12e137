"""PASCAL VOC 2007 detection: ``train`` is ``trainval``, ``validation`` is ``test``."""
from lmnet.datasets.pascalvoc import PascalvocBase


class Pascalvoc2007(PascalvocBase):
    """PASCAL VOC 2007 from ``DATA_DIR/PASCALVOC_2007/VOCdevkit/VOC2007/``.

    The 20 classes are :data:`lmnet.datasets.pascalvoc.VOC_CLASSES`; difficult objects are kept as
    ``ignore``. Constructor arguments are those of :class:`lmnet.datasets.pascalvoc.PascalvocBase`.
    """

    extend_dir = "PASCALVOC_2007"
    layout = ("VOCdevkit/VOC2007/ with Annotations/<id>.xml, JPEGImages/<id>.jpg and "
              "ImageSets/Main/{trainval,test}.txt")
    splits = {"train": ((2007, "trainval"),), "validation": ((2007, "test"),)}
