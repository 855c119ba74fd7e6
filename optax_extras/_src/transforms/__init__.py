"""The update rules: one module per family, each a `scale_by_*` and its optimizer."""
