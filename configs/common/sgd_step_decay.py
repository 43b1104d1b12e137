"""Shared piece: SGD with momentum 0.9, weight decay 0.0005 and a step-decay learning rate, the recipe of the
CIFAR and PASCAL VOC configs. Name it in a config's ``BASE``; the config then sets
``NETWORK.LEARNING_RATE_KWARGS`` (``boundaries`` in steps, computed from ``MAX_STEPS``, and one more ``values``)."""
import keras

from lmnet.config import SmartDict

NETWORK = SmartDict()
NETWORK.OPTIMIZER_CLASS = keras.optimizers.SGD
NETWORK.OPTIMIZER_KWARGS = {"momentum": 0.9}
NETWORK.LEARNING_RATE_FUNC = keras.optimizers.schedules.PiecewiseConstantDecay
NETWORK.WEIGHT_DECAY_RATE = 0.0005
