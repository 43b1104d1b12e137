"""Top-1 and top-k accuracy accumulated over batches."""
import numpy as np


class ClassificationMetrics:
    """Accumulates top-1 and top-``k`` accuracy.

    Args:
        top_k: the ``k`` of the second accuracy (clipped to the number of classes).

    :attr:`labels` and :attr:`predictions` keep every sample's label and top-1 class, in order (the
    evaluation report's confusion matrix).
    """

    def __init__(self, top_k=5):
        self.top_k = top_k
        self.correct_top1 = 0
        self.correct_top_k = 0
        self.count = 0
        self._labels = []
        self._predictions = []

    @property
    def labels(self):
        """``int64`` array: the true labels added so far, in sample order."""
        return np.concatenate(self._labels) if self._labels else np.zeros(0, np.int64)

    @property
    def predictions(self):
        """``int64`` array: the top-1 classes predicted so far (those the accuracy counts), in sample order."""
        return np.concatenate(self._predictions) if self._predictions else np.zeros(0, np.int64)

    def update(self, labels, scores):
        """Adds a batch: ``labels`` ``[batch]`` ints, ``scores`` ``[batch, classes]`` (logits or probabilities).

        Ties are broken towards the lower class index, as ``argmax`` does.
        """
        labels = np.asarray(labels).astype(np.int64).reshape(-1)
        scores = np.asarray(scores)
        k = min(self.top_k, scores.shape[-1])
        ranking = np.argsort(-scores, axis=-1, kind="stable")
        self.correct_top1 += int(np.sum(ranking[:, 0] == labels))
        self.correct_top_k += int(np.sum(np.any(ranking[:, :k] == labels[:, None], axis=-1)))
        self.count += len(labels)
        self._labels.append(labels)
        self._predictions.append(ranking[:, 0].astype(np.int64))

    def result(self):
        """Returns ``{"accuracy": …, "top5_accuracy": …}`` (``top<k>``); 0 when nothing was added."""
        count = max(self.count, 1)
        return {"accuracy": self.correct_top1 / count, f"top{self.top_k}_accuracy": self.correct_top_k / count}
