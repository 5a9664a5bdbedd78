"""Exact ports of the peers' schedulers under their own names.

Import the submodule you are moving from: ``jaxsched.compat.torch``,
``jaxsched.compat.keras``, ``jaxsched.compat.transformers``,
``jaxsched.compat.timm`` or ``jaxsched.compat.optax``. None of them imports
the peer library; each returns ordinary jaxsched schedules built on the core
primitives and combinators.
"""
