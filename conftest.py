"""Suite-wide JAX settings (root level so doctests in jaxsched/ get them too).

The whole suite runs with strict dtype promotion and rank promotion set to
raise; warnings are errors (pyproject.toml). Interop tests that need optax's
own standard promotion opt back in locally.
"""

import jax

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")
