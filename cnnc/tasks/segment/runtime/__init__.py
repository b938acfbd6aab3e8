"""Segmentation's part of the runtime, copied beside train.py: metrics.py (the losses in numpy, the
metrics), tiles.py (centre crop, overlap-tile prediction), masks.py and reader.py (mask files and arrays,
their errors, masks following augmentation), common.py (the head, the evaluation, per-axis flips),
pictures.py (side-by-side PNGs, overlays, --predict), torch.py and keras.py (the losses and the task in
each framework)."""
