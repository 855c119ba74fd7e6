"""Parity with PyTorch and Keras 3: the cases, the runners, the goldens."""
