"""Training: the TrainState, pure steps, and fit / evaluate / predict."""

from jaxnn.train.inference import evaluate, predict
from jaxnn.train.loop import fit
from jaxnn.train.state import TrainState
from jaxnn.train.step import make_eval_step, make_train_step

__all__ = ["TrainState", "evaluate", "fit", "make_eval_step", "make_train_step", "predict"]
