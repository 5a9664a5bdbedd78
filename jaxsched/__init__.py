"""jaxsched: learning-rate schedules as data for JAX and optax.

A schedule is a frozen dataclass pytree whose leaves are its hyperparameters.
Call it with steps to get learning rates; pass it to any optax optimizer; jit
it, vmap it over a grid of its own settings, differentiate through it.
"""

from importlib.metadata import PackageNotFoundError, version

from . import bridges as bridges
from . import functional as functional
from ._arith import Clip as Clip
from ._arith import Extremum as Extremum
from ._arith import Product as Product
from ._arith import Sum as Sum
from ._arith import clip as clip
from ._arith import maximum as maximum
from ._arith import minimum as minimum
from ._base import Schedule as Schedule
from ._config import from_config as from_config
from ._config import from_json as from_json
from ._config import register as register_config  # noqa: F401  (public: jaxsched.register_config)
from ._config import to_config as to_config
from ._config import to_json as to_json
from ._grid import Grid as Grid
from ._grid import evaluate as evaluate
from ._grid import grid as grid
from ._grid import grid_zip as grid_zip
from ._grid import linspace as linspace
from ._grid import logspace as logspace
from ._grid import stack as stack
from ._join import Join as Join
from ._join import Select as Select
from ._join import Warmup as Warmup
from ._join import join as join
from ._join import select as select
from ._join import warmup as warmup
from ._plateau import Plateau as Plateau
from ._plateau import PlateauSchedule as PlateauSchedule
from ._plateau import PlateauState as PlateauState
from ._plateau import ScaleByPlateauState as ScaleByPlateauState
from ._plateau import observe_plateau as observe_plateau
from ._plateau import orbax_restore as orbax_restore
from ._plateau import orbax_save as orbax_save
from ._plateau import plateau as plateau
from ._plateau import plateau_lr as plateau_lr
from ._plateau import plateau_schedule as plateau_schedule
from ._plateau import scale_by_plateau as scale_by_plateau
from ._plateau import state_from_bytes as state_from_bytes
from ._plateau import state_from_dict as state_from_dict
from ._plateau import state_to_bytes as state_to_bytes
from ._plateau import state_to_dict as state_to_dict
from ._plot import Phase as Phase
from ._plot import describe as describe
from ._plot import horizon as horizon
from ._plot import phases as phases
from ._plot import plot as plot
from ._presets import cyclic as cyclic
from ._presets import linear_to_zero as linear_to_zero
from ._presets import onecycle as onecycle
from ._presets import onecycle_momentum as onecycle_momentum
from ._presets import sgdr as sgdr
from ._presets import warmup_cosine as warmup_cosine
from ._presets import warmup_inverse_sqrt as warmup_inverse_sqrt
from ._presets import wsd as wsd
from ._primitives import Constant as Constant
from ._primitives import Cooldown as Cooldown
from ._primitives import Cosine as Cosine
from ._primitives import Exponential as Exponential
from ._primitives import InverseSqrt as InverseSqrt
from ._primitives import Linear as Linear
from ._primitives import PiecewiseConstant as PiecewiseConstant
from ._primitives import PiecewiseLinear as PiecewiseLinear
from ._primitives import Polynomial as Polynomial
from ._primitives import SqrtDecay as SqrtDecay
from ._primitives import constant as constant
from ._primitives import cooldown as cooldown
from ._primitives import cosine as cosine
from ._primitives import exponential as exponential
from ._primitives import inverse_sqrt as inverse_sqrt
from ._primitives import linear as linear
from ._primitives import piecewise_constant as piecewise_constant
from ._primitives import piecewise_linear as piecewise_linear
from ._primitives import polynomial as polynomial
from ._primitives import sqrt_decay as sqrt_decay
from ._registry import get as get
from ._registry import names as names
from ._repeat import Repeat as Repeat
from ._repeat import repeat as repeat
from ._sweep import collectives as collectives
from ._sweep import gather as gather
from ._sweep import shard_data as shard_data
from ._sweep import shard_grid as shard_grid
from ._sweep import sweep as sweep
from ._sweep import sweep_mesh as sweep_mesh
from ._train import TrainStep as TrainStep
from ._train import WithState as WithState
from ._train import applied as applied
from ._train import grouped as grouped
from ._train import layerwise_decay as layerwise_decay
from ._train import make_train_step as make_train_step
from ._train import onecycle_hparams as onecycle_hparams
from ._train import scheduled as scheduled
from ._train import with_state as with_state

try:
    __version__ = version("jaxsched")
except PackageNotFoundError:  # pragma: no cover - running from a checkout
    __version__ = "0.0.0+unknown"
