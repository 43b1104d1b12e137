"""Predicting a folder of images with a trained experiment's Keras model (``executor/predict.py``).

The loop, the JSON and the drawn images come from :mod:`lmnet.runtime.inference` and
:mod:`lmnet.runtime.results`, which the standalone runtime uses too; only the network differs
(here the Keras model restored from a checkpoint, called with ``training=False``). With ``cam`` a
classifier's class activation maps are written too (:mod:`lmnet.activation_maps`), in ``cam/``.
"""
from lmnet import builders
from lmnet.experiment import config_or_validation_classes, open_experiment
from lmnet.runtime.inference import BatchPredictor, ModelSpec, predict_folder
from lmnet.runtime.results import CLASSIFICATION_SCHEMA, DETECTION_SCHEMA, RESULT_SCHEMA, validate_document
from lmnet.tasks import get_task
from lmnet.visualize import DEFAULT_DISPLAY_THRESHOLD

__all__ = ["CLASSIFICATION_SCHEMA", "DETECTION_SCHEMA", "RESULT_SCHEMA", "keras_predictor", "predict_experiment",
           "validate_document"]


def keras_predictor(config, network):
    """A :class:`BatchPredictor` running ``network.model`` with ``training=False``."""
    model = network.model

    def run_network(images):
        return model(images, training=False).numpy()

    spec = ModelSpec(task=config.TASK, classes=list(network.classes), image_size=tuple(config.IMAGE_SIZE),
                     pre_processor=config.PRE_PROCESSOR, post_processor=builders.build_post_processor(config, network))
    return BatchPredictor(spec, run_network)


def predict_experiment(environment, experiment_id, input_dir, output_dir, config_file=None, restore_path=None,
                       save_images=True, progress=True, log=print, overwrite=False, overrides=(),
                       display_threshold=DEFAULT_DISPLAY_THRESHOLD, cam=False):
    """Predicts every image of ``input_dir`` with a checkpoint of an experiment.

    Args:
        environment: the :class:`lmnet.environment.Environment` (its data root is read only when the
            config has no ``CLASSES``).
        experiment_id: the trained experiment.
        input_dir: folder of image files.
        output_dir: receives ``npy/``, ``json/`` and (with ``save_images``) ``images/``.
        config_file: a config to use instead of the experiment's ``config.yaml``.
        restore_path: checkpoint prefix (default: the newest checkpoint).
        save_images: write the drawn images.
        progress: show a progress bar.
        log: receives the checkpoint and summary lines.
        overwrite: replace an earlier run's results in ``output_dir``.
        overrides: ``--set KEY=VALUE`` strings applied to the config.
        display_threshold: detection boxes scoring below it are not drawn in ``images/`` (``npy/`` and
            ``json/`` keep them).
        cam: also write each image with the class activation map of its predicted class to ``cam/``
            (classifiers only).

    Returns:
        The :class:`lmnet.runtime.inference.PredictionSummary`.

    Raises:
        ExperimentError: no checkpoint, or it does not fit the network.
        DatasetError: no readable image in ``input_dir``.
        LmnetError: ``cam`` for a detector, or ``display_threshold`` outside ``[0, 1]``.
    """
    opened = open_experiment(environment, experiment_id, config_file, restore_path,
                             classes=config_or_validation_classes, overrides=overrides)
    log(f"restored {opened.checkpoint}")
    config = opened.config
    predictor = keras_predictor(config, opened.network)
    extra_outputs = [get_task(config.TASK).activation_map_writer(opened.network, predictor.spec)] if cam else []
    return predict_folder(predictor, input_dir, output_dir, config.BATCH_SIZE, save_images=save_images,
                          progress=progress, log=log, overwrite=overwrite, display_threshold=display_threshold,
                          extra_outputs=extra_outputs)
