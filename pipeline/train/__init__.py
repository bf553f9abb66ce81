"""Population training: many same-architecture networks trained together in one process.

- :mod:`.settings`: ``Member`` (one network's hyperparameters) and ``TrainingSettings``;
- :mod:`.init`: starting states, fresh from seeds or given per member;
- :mod:`.optim`: per-member SGD and Adam;
- :mod:`.engine`: ``PopulationTrainer``, the vectorized training loop (no file I/O);
- :mod:`.readout`: activations of any set of layers of every member.
"""

from .engine import PopulationTrainer, select_device
from .init import initial_population, population_from_states, repeat_state
from .readout import population_activations
from .settings import OPTIMIZERS, Member, TrainingSettings

__all__ = [
    "OPTIMIZERS",
    "Member",
    "PopulationTrainer",
    "TrainingSettings",
    "initial_population",
    "population_activations",
    "population_from_states",
    "repeat_state",
    "select_device",
]
