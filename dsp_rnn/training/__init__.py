"""Training, checkpoints and the model registry, the same for every model family.

* :func:`train` trains any model family that implements :class:`TrainTask` (the GridRNN's is
  :class:`dsp_rnn.gridrnn.task.GridTask`) with :class:`TrainConfig`;
* :func:`load_model` loads a model of any registered family, :func:`save_model` saves one;
* :func:`generate` writes a piece (MIDI or audio) from a model, :func:`evaluate_model`
  measures one.

>>> from dsp_rnn.training import generate, load_model
>>> model, meta = load_model("default")
>>> meta["family"]
'gridrnn'
"""

from dsp_rnn.training.checkpoint import default_model_dir, resolve_model
from dsp_rnn.training.config import TrainConfig
from dsp_rnn.training.generate import Evaluation, Generated, evaluate_model, generate
from dsp_rnn.training.registry import (
    Family,
    families,
    load_model,
    register,
    save_model,
    unregister,
)
from dsp_rnn.training.run_folder import RUN_FILES, STATE_FILE
from dsp_rnn.training.task import TrainTask
from dsp_rnn.training.trainer import Counters, TrainingInterrupted, train

__all__ = [
    "Counters",
    "Evaluation",
    "Family",
    "Generated",
    "RUN_FILES",
    "STATE_FILE",
    "TrainConfig",
    "TrainTask",
    "TrainingInterrupted",
    "default_model_dir",
    "evaluate_model",
    "families",
    "generate",
    "load_model",
    "register",
    "resolve_model",
    "save_model",
    "train",
    "unregister",
]
