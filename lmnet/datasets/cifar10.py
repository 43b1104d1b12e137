"""CIFAR-10: 60,000 32x32 colour images in 10 classes (50,000 train, 10,000 test)."""
from lmnet.datasets.cifar import CifarDataset


class Cifar10(CifarDataset):
    """CIFAR-10, "python version", read from ``DATA_DIR/CIFAR_10/cifar-10-batches-py/``.

    Constructor arguments and samples are those of :class:`lmnet.datasets.cifar.CifarDataset`. Get the data
    with ``lmnet.datasets.download.fetch_dataset("cifar10", DATA_DIR)``.
    """

    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    extend_dir = "CIFAR_10"
    layout = ("CIFAR_10/cifar-10-batches-py/ holding data_batch_1 ... data_batch_5, test_batch and batches.meta "
              "(the extracted cifar-10-python.tar.gz)")
    batch_dir = "cifar-10-batches-py"
    train_files = tuple(f"data_batch_{number}" for number in range(1, 6))
    validation_files = ("test_batch",)
    label_key = "labels"
