"""Shared piece: Adam with a cosine-decaying learning rate and weight decay 0.0001, the recipe of the examples
on the embedded sets. Name it in a config's ``BASE``; the config then sets ``NETWORK.LEARNING_RATE_KWARGS``
(``initial_learning_rate``, ``decay_steps``, ``alpha`` of ``keras.optimizers.schedules.CosineDecay``)."""
import keras

from lmnet.config import SmartDict

NETWORK = SmartDict()
NETWORK.OPTIMIZER_CLASS = keras.optimizers.Adam
NETWORK.OPTIMIZER_KWARGS = {}
NETWORK.LEARNING_RATE_FUNC = keras.optimizers.schedules.CosineDecay
NETWORK.WEIGHT_DECAY_RATE = 0.0001
