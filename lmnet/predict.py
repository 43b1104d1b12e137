"""Predicting a folder of images with a trained experiment's Keras model (``executor/predict.py``).

The loop, the JSON and the drawn images come from :mod:`lmnet.runtime.inference` and
:mod:`lmnet.runtime.results`, which the standalone runtime uses too; only the network differs
(here the Keras model restored from a checkpoint, called with ``training=False``).
"""
from lmnet import builders
from lmnet.evaluator import resolve_checkpoint
from lmnet.runtime.inference import BatchPredictor, ModelSpec, predict_folder
from lmnet.runtime.results import CLASSIFICATION_SCHEMA, DETECTION_SCHEMA, RESULT_SCHEMA, validate_document
from lmnet.training.checkpoints import restore_weights

__all__ = ["CLASSIFICATION_SCHEMA", "DETECTION_SCHEMA", "RESULT_SCHEMA", "experiment_classes", "keras_predictor",
           "predict_experiment", "validate_document"]


def experiment_classes(config, data_dir):
    """The class names: the config's ``CLASSES``, else those of the validation subset's dataset."""
    if config.CLASSES:
        return list(config.CLASSES)
    return builders.dataset_classes(config, builders.build_dataset(config, data_dir, "validation"))


def keras_predictor(config, network):
    """A :class:`BatchPredictor` running ``network.model`` with ``training=False``."""
    model = network.model

    def run_network(images):
        return model(images, training=False).numpy()

    spec = ModelSpec(task=config.TASK, classes=list(network.classes), image_size=tuple(config.IMAGE_SIZE),
                     pre_processor=config.PRE_PROCESSOR, post_processor=builders.build_post_processor(config, network))
    return BatchPredictor(spec, run_network)


def predict_experiment(config, paths, data_dir, input_dir, output_dir, restore_path=None, save_images=True,
                       progress=True, log=print, overwrite=False):
    """Predicts every image of ``input_dir`` with a checkpoint of an experiment.

    Args:
        config: the experiment's validated config.
        paths: its :class:`lmnet.environment.ExperimentPaths`.
        data_dir: the data root (read only when the config has no ``CLASSES``).
        input_dir: folder of image files.
        output_dir: receives ``npy/``, ``json/`` and (with ``save_images``) ``images/``.
        restore_path: checkpoint prefix (default: the newest checkpoint).
        save_images: write the drawn images.
        progress: show a progress bar.
        log: receives the checkpoint and summary lines.
        overwrite: replace an earlier run's results in ``output_dir``.

    Returns:
        The :class:`lmnet.runtime.inference.PredictionSummary`.

    Raises:
        ExperimentError: no checkpoint, or it does not fit the network.
        DatasetError: no readable image in ``input_dir``.
    """
    checkpoint = resolve_checkpoint(paths, restore_path)
    network = builders.build_network(config, experiment_classes(config, data_dir))
    restore_weights(network.model, checkpoint)
    log(f"restored {checkpoint}")
    return predict_folder(keras_predictor(config, network), input_dir, output_dir, config.BATCH_SIZE,
                          save_images=save_images, progress=progress, log=log, overwrite=overwrite)
