"""Style transfer's part of the runtime, copied beside train.py: common.py (the costs' numpy reference, the
images, the optimisation loop and what it writes), torch.py and keras.py (the features and the costs)."""
