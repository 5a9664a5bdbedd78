"""jaxsched: learning-rate schedules as data for JAX and optax.

A schedule is a frozen dataclass pytree whose leaves are its hyperparameters.
Call it with steps to get learning rates; pass it to any optax optimizer; jit
it, vmap it over a grid of its own settings, differentiate through it.
"""

from importlib.metadata import PackageNotFoundError, version

from . import functional as functional
from ._arith import Clip as Clip
from ._arith import Extremum as Extremum
from ._arith import Product as Product
from ._arith import Sum as Sum
from ._arith import clip as clip
from ._arith import maximum as maximum
from ._arith import minimum as minimum
from ._base import Schedule as Schedule
from ._grid import Grid as Grid
from ._grid import grid as grid
from ._grid import stack as stack
from ._join import Join as Join
from ._join import Select as Select
from ._join import Warmup as Warmup
from ._join import join as join
from ._join import select as select
from ._join import warmup as warmup
from ._presets import cyclic as cyclic
from ._presets import linear_to_zero as linear_to_zero
from ._presets import onecycle as onecycle
from ._presets import onecycle_momentum as onecycle_momentum
from ._presets import sgdr as sgdr
from ._presets import warmup_cosine as warmup_cosine
from ._presets import warmup_inverse_sqrt as warmup_inverse_sqrt
from ._presets import wsd as wsd
from ._primitives import Constant as Constant
from ._primitives import Cosine as Cosine
from ._primitives import Exponential as Exponential
from ._primitives import InverseSqrt as InverseSqrt
from ._primitives import Linear as Linear
from ._primitives import PiecewiseConstant as PiecewiseConstant
from ._primitives import PiecewiseLinear as PiecewiseLinear
from ._primitives import Polynomial as Polynomial
from ._primitives import SqrtDecay as SqrtDecay
from ._primitives import constant as constant
from ._primitives import cosine as cosine
from ._primitives import exponential as exponential
from ._primitives import inverse_sqrt as inverse_sqrt
from ._primitives import linear as linear
from ._primitives import piecewise_constant as piecewise_constant
from ._primitives import piecewise_linear as piecewise_linear
from ._primitives import polynomial as polynomial
from ._primitives import sqrt_decay as sqrt_decay
from ._repeat import Repeat as Repeat
from ._repeat import repeat as repeat

try:
    __version__ = version("jaxsched")
except PackageNotFoundError:  # pragma: no cover - running from a checkout
    __version__ = "0.0.0+unknown"
