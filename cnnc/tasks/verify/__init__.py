"""Face verification and one-shot recognition (`--task verify`): an encoding f(x) learnt so that
d(x1, x2) = ||f(x1) - f(x2)||^2 is small for the same identity and large for different ones."""
