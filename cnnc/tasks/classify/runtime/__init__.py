"""Classification's part of the runtime: its targets, metrics and report (common.py), its loss and
predictions per framework (torch.py, keras.py).  Copied beside train.py with the shared runtime."""
