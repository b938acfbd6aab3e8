"""Segmentation's part of the runtime, copied beside train.py: metrics.py (the losses in numpy, the
metrics), tiles.py (centre crop, overlap-tile prediction), masks.py (reading masks, masks following
augmentation), torch.py and keras.py (the losses in each framework)."""
