"""Training: data from memory, losses, straight-through rounding, a resumable trainer."""

from invsteg.train.config import LossWeights, TrainConfig
from invsteg.train.trainer import Trainer

__all__ = ["LossWeights", "TrainConfig", "Trainer"]
