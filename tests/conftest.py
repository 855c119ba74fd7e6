"""Test configuration: float64 on, so references can be matched to 1e-10."""

import jax

jax.config.update("jax_enable_x64", True)
