"""The explorer: steer optimizers on any surface in a browser, computed live.

``python -m experiments explore`` serves a page and a JSON API on the
loopback address (`server`); requests are checked field by field (`api`),
computed by the sweep engine or, for a few paths, by a small cached program
that gives the same numbers (`engine`); the optimizers offered and their
sliders are a registry (`optimizers`); every view has the
`optax_extras.sweep` call that reproduces it (`snippets`). The page is
plain JavaScript and SVG in ``static/``: no build step, no library, works
offline.
"""
