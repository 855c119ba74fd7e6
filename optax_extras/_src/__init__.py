"""Implementation; the public API is `optax_extras`."""
