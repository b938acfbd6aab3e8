"""Every resource limit of the front end, in one place.

A spec is hand-written: beyond these it is a typo or an attack, never a network, and cnnc
refuses with E0601 at once rather than hanging or running out of memory.  The parser, the
expander and the shape rules all read them from here; this module imports nothing, so any
layer may.
"""

# --- reading ---
MAX_SOURCE_BYTES = 4 << 20  # a spec file; the largest library spec is a few KiB
MAX_IMPORTS = 256  # files one spec may pull in through `import`

# --- numbers ---
MAX_MAGNITUDE = 1 << 62  # any number the language computes with, literal or computed
MAX_EXPONENT = 256  # `a ** b`: |b| beyond this only builds huge numbers
MAX_RANGE = 1 << 20  # `sum`, `min` and `max` walk a range in C, where no step budget can stop them
MAX_STRING = 1 << 16  # characters of a string, items of a list built with `+`

# --- expansion ---
MAX_NODES = 50_000  # the largest classic nets have a few thousand layers
MAX_STEPS = 500_000  # evaluation steps: the largest shipped spec takes 2,200; 50,000 layers at 8 a layer fit
MAX_BLOCK_DEPTH = 64  # block calls nested inside block calls
# Python frames the expander may use, whatever limit the host program set (TensorFlow, for one,
# raises Python's), so that one spec checks the same everywhere.
EXPANSION_STACK = 1000

# --- shapes ---
MAX_DIM = 1 << 24  # one dimension of a tensor
MAX_ELEMENTS = 1 << 36  # elements of one tensor, per example
