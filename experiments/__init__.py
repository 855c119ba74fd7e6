"""Experiments: the figure catalogue, the gallery, benchmarks and examples.

Run `python -m experiments --help`. Importing this package changes no JAX
setting. The figures' arrays (`experiments.compute`) are computed in float64,
inside ``jax.enable_x64(True)``, as the seeds' NumPy and Theano code did;
the training example and the benchmarks run in the users' default, float32.
"""
