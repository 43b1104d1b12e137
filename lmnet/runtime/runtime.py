"""The :class:`Runtime`: an export folder + an engine → predictions, without TensorFlow."""
import os

from lmnet.errors import DatasetError
from lmnet.image_io import load_image
from lmnet.runtime.engines import create_engine
from lmnet.runtime.inference import BatchPredictor, ModelSpec, predict_folder
from lmnet.runtime.meta import export_batch_size, load_meta
from lmnet.visualize import DEFAULT_DISPLAY_THRESHOLD


class Runtime:
    """Runs an exported model with its pre- and post-processing.

    Args:
        export_dir: the export folder (``meta.yaml`` and the model files).
        engine: ``"onnx"`` (default), ``"tflite"`` or ``"tensorflow"``.
        model: model file inside ``export_dir`` (default per engine, e.g. ``model.onnx``;
            ``"model_int8.tflite"`` for the quantized TFLite model).
        export_format: instead of ``engine`` and ``model``, an export format name of
            :data:`lmnet.runtime.layout.RUNTIME_FORMATS` (``"tflite_int8"``): its file and engine.

    Raises:
        ConfigError: bad ``meta.yaml``, unknown engine or format, a format with an engine or model,
            or the engine's package missing.
        ExperimentError: the model file is missing.
    """

    def __init__(self, export_dir, engine=None, model=None, export_format=None):
        self.export_dir = export_dir
        self.meta = load_meta(export_dir)
        self.engine = create_engine(export_dir, engine, model, export_format=export_format)
        spec = ModelSpec(task=self.meta.task, classes=self.meta.classes, image_size=self.meta.image_size,
                         pre_processor=self.meta.pre_processor, post_processor=self.meta.post_processor)
        self.predictor = BatchPredictor(spec, self.engine.run)

    @property
    def classes(self):
        """The class names."""
        return self.meta.classes

    @property
    def task(self):
        """The :class:`lmnet.common.Tasks` value."""
        return self.meta.task

    def run(self, images):
        """Post-processed outputs ``[B, ...]`` (as predict.py's ``npy``) of raw RGB ``uint8`` images."""
        return self.predictor(list(images))

    def predict_images(self, images):
        """The ``prediction`` list of each raw RGB ``uint8`` image ``(height, width, 3)``."""
        return self.predictor.predictions(list(images))

    def predict_files(self, paths):
        """``[{"file_path", "prediction"}]`` of image files, as in predict.py's JSON ``results``.

        ``file_path`` is the absolute path, as predict.py writes it.

        Raises:
            DatasetError: a file is unreadable (the message names it).
        """
        paths = [os.path.abspath(path) for path in paths]
        images = [load_image(path) for path in paths]
        return [{"file_path": path, "prediction": prediction}
                for path, prediction in zip(paths, self.predict_images(images))]

    def predict_folder(self, input_dir, output_dir, batch_size=None, save_images=True, progress=True, log=print,
                       overwrite=False, display_threshold=DEFAULT_DISPLAY_THRESHOLD):
        """Writes ``npy/``, ``json/`` and ``images/`` for every image of ``input_dir``, like predict.py.

        Args:
            batch_size: images per output file (default: ``BATCH_SIZE`` of the export's
                ``config.yaml``, else 1).
            overwrite: replace an earlier run's results in ``output_dir``.
            display_threshold: detection boxes scoring below it are not drawn in ``images/`` (``npy/``
                and ``json/`` keep them).

        Returns:
            The :class:`lmnet.runtime.inference.PredictionSummary`.

        Raises:
            DatasetError: no readable image.
        """
        batch_size = batch_size or export_batch_size(self.export_dir)
        if batch_size < 1:
            raise DatasetError(f"batch size must be positive, got {batch_size}")
        return predict_folder(self.predictor, input_dir, output_dir, batch_size, save_images=save_images,
                              progress=progress, log=log, overwrite=overwrite, display_threshold=display_threshold)
