"""Population training: many same-architecture networks trained together in one process.

- :mod:`.settings`: ``Member`` (one network's hyperparameters) and ``TrainingSettings``;
- :mod:`.init`: starting states, fresh from seeds or given per member;
- :mod:`.optim`: per-member SGD and Adam;
- :mod:`.forward`: every member's forward pass, loss and evaluation at once;
- :mod:`.engine`: ``PopulationTrainer``, the vectorized training loop (no file I/O);
- :mod:`.readout`: activations of any set of layers of every member.
"""

from .engine import PopulationTrainer, member_targets, select_device
from .forward import evaluate_members, population_forward
from .init import initial_population, population_from_states, repeat_state
from .readout import population_activations
from .settings import OPTIMIZERS, Member, TrainingSettings

__all__ = [
    "OPTIMIZERS",
    "Member",
    "PopulationTrainer",
    "TrainingSettings",
    "evaluate_members",
    "initial_population",
    "member_targets",
    "population_activations",
    "population_forward",
    "population_from_states",
    "repeat_state",
    "select_device",
]
