"""The explorer: steer optimizers on any surface in a browser, computed live.

``python -m experiments explore`` serves a page and a JSON API on the
loopback address (`server`); requests are checked field by field and
computed by `optax_extras.sweep` itself (`api`), with the registries'
function objects, so that jit's cache compiles each shape once; the
optimizers offered and their sliders are a registry (`optimizers`); every
view has the `optax_extras.sweep` call that reproduces it (`snippets`). The
page is plain JavaScript and SVG in ``static/``: no build step, no library,
works offline.
"""
