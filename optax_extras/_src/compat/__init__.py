"""Other frameworks' update rules as optax transforms (`optax_extras.compat`).

One module per framework (`pytorch`, `keras3`, `tf1`, `lasagne`); the few
rules that optax and this library do not already have are in `rules`.
"""
