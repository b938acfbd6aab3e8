"""The training runtime that compiled harnesses import, framework by framework.

This package is copied whole (minus the other framework's files) into every
folder that `cnnc compile --task ...` writes, as the package `cnnc_runtime`,
so a compiled folder runs without cnnc installed.  Its modules therefore import
only the standard library, numpy, pillow and matplotlib, plus the one framework
in `torch_lib.py` / `keras_lib.py`, and refer to each other relatively.

  config.py    the options of every task: defaults, help, argparse
  data.py      folders of class subfolders, .npz arrays, the split, scaling
  augment.py   the augmentations of the material, numpy, per sample, seeded
  metrics.py   accuracy, top-k, precision/recall, confusion matrix, reports
  loop.py      the epoch loop: schedule, early stopping, checkpoints, CSV, plot, test
  torch_lib.py / keras_lib.py   device or strategy, model, loss, optimizer, the Trainer, transfer
  torch_data.py / keras_data.py the framework's loaders over data.py's batches
"""
