"""``inference_test_data/``: an image and every node output of the exported graph, for layer-by-layer debugging.

Files per image: ``raw_image.npy`` (RGB ``uint8`` as decoded), ``preprocessed_image.npy`` (float32
``[1, H, W, 3]``, the graph input) and ``<node>.npy`` for every node of the graph, holding the
node's first output, with ``/`` in the node name written as ``__`` (``conv1_bn/FusedBatchNormV3``
→ ``conv1_bn__FusedBatchNormV3.npy``; ``output.npy`` is the network output).
"""
import os

import numpy as np

from lmnet.export.graph import output_nodes, run_graph_def

RAW_IMAGE = "raw_image.npy"
PREPROCESSED_IMAGE = "preprocessed_image.npy"


def node_file_name(node_name):
    """The ``.npy`` file name of a node's output (``/`` becomes ``__``)."""
    return node_name.replace("/", "__") + ".npy"


def write_image_data(directory, graph_def, raw, preprocessed):
    """Writes the raw and pre-processed image and every node output of the graph into ``directory``.

    Returns:
        ``{node name: output}`` of the graph on this image.
    """
    os.makedirs(directory, exist_ok=True)
    np.save(os.path.join(directory, RAW_IMAGE), np.asarray(raw, np.uint8))
    np.save(os.path.join(directory, PREPROCESSED_IMAGE), np.asarray(preprocessed, np.float32))
    values = run_graph_def(graph_def, preprocessed, output_nodes(graph_def))
    for name, value in values.items():
        np.save(os.path.join(directory, node_file_name(name)), value)
    return values


def write_inference_test_data(directory, graph_def, export_images):
    """Writes ``inference_test_data/`` for the ``--images``.

    One image: its files go directly into ``directory``; several: into ``directory/<image stem>/``
    (a repeated stem gets ``_2``, ``_3`` …).

    Args:
        directory: the ``inference_test_data`` folder.
        graph_def: the exported graph.
        export_images: :class:`lmnet.export.samples.ExportImage` list.

    Returns:
        The folders written, one per image.
    """
    folders = _image_folders(directory, export_images)
    for folder, image in zip(folders, export_images):
        write_image_data(folder, graph_def, image.raw, image.preprocessed)
    return folders


def _image_folders(directory, export_images):
    if len(export_images) == 1:
        return [directory]
    folders, used = [], {}
    for image in export_images:
        used[image.stem] = used.get(image.stem, 0) + 1
        suffix = "" if used[image.stem] == 1 else f"_{used[image.stem]}"
        folders.append(os.path.join(directory, image.stem + suffix))
    return folders
