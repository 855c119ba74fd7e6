"""Experiments: the figure catalogue, the gallery, benchmarks and examples.

Run `python -m experiments --help`. The experiments compute in float64, as
the seeds' NumPy and Theano code did (the library itself leaves the choice
to its users).
"""

import jax

jax.config.update("jax_enable_x64", True)
