"""Landmarks' part of the runtime: its targets, loss reference, metrics, report and pictures (common.py),
and what each framework's trainer asks of it (torch.py, keras.py).  Copied beside train.py."""
