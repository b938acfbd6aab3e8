"""Unit visualisation's part of the runtime, copied beside visualize.py: common.py (images, the top
patches, the grids), torch.py and keras.py (a layer's activations)."""
