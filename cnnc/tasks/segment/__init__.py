"""Semantic segmentation (`--task segment`): a class per pixel (or voxel), U-Net style.

runtime/     copied beside train.py: metrics.py (losses in numpy, pixel accuracy, IoU, Dice, confusion),
             tiles.py (centre crop, overlap-tile prediction), masks.py (mask files and arrays, named
             errors, masks following augmentation), torch.py and keras.py (the losses per framework)
"""
