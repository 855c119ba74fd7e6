"""optax_extras: classic first-order optimizer variants as optax transforms."""
