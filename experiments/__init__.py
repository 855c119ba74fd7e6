"""Experiments: the figure catalogue, the gallery, benchmarks and examples.

Run `python -m experiments --help`.
"""
