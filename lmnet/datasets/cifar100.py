"""CIFAR-100: 60,000 32x32 colour images in 100 fine classes (50,000 train, 10,000 test)."""
from lmnet.datasets.cifar import CifarDataset


class Cifar100(CifarDataset):
    """CIFAR-100, "python version", with its 100 fine labels, read from ``DATA_DIR/CIFAR_100/cifar-100-python/``.

    Constructor arguments and samples are those of :class:`lmnet.datasets.cifar.CifarDataset`. Get the data
    with ``lmnet.datasets.download.fetch_dataset("cifar100", DATA_DIR)``.
    """

    classes = [
        "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
        "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
        "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
        "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
        "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
        "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
        "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
        "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
        "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger",
        "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
    ]
    extend_dir = "CIFAR_100"
    layout = ("CIFAR_100/cifar-100-python/ holding train, test and meta "
              "(the extracted cifar-100-python.tar.gz)")
    batch_dir = "cifar-100-python"
    train_files = ("train",)
    validation_files = ("test",)
    label_key = "fine_labels"
