"""The shared training runtime that compiled harnesses import, task-neutral and framework by framework.

This package is copied (minus the other framework's files) into every folder
that `cnnc compile --task ...` writes, as `cnnc_tasks/runtime/`, beside the
task's own pieces (`cnnc_tasks/<task>/`), so a compiled folder runs without
cnnc installed.  Its modules therefore import only the standard library,
numpy, pillow and matplotlib, plus the one framework in `torch_lib.py` /
`keras_lib.py`, and refer to each other relatively.  Nothing here knows what
a target is: the task brings its reader, its step and loss, and its metrics.

  config.py    the options every task shares: defaults, help, argparse
  data.py      sources (the task's files, .npz arrays), the split, scaling, batches
  augment.py   the augmentations of the material, numpy, per sample, seeded; geometry returned
  metrics.py   helpers more than one task needs (box IoU, means, formatting)
  loop.py      the epoch loop: schedule, early stopping, checkpoints, CSV, test
  records.py   the run's files, written whole or not at all; log.csv's columns
  curves.py    curves.png, drawn by a helper process while training runs
  torch_lib.py / keras_lib.py   device or strategy, model, optimizer, the Trainer, weights, freezing
  torch_data.py / keras_data.py the framework's loaders over data.py's batches
"""
