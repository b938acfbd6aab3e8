"""Attribute schemas shared by the op records (pydantic models).

Values arrive from the expander as Python ints, floats, bools, strings (for
symbols such as `same` or `bilinear`) and tuples.  Each op's model validates
them; a failure names the attribute so the diagnostic can point at its argument.
"""

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

PosInt = Annotated[int, Field(ge=1)]
NonNegInt = Annotated[int, Field(ge=0)]
Size = Union[PosInt, tuple[PosInt, ...]]
PadAmount = Union[NonNegInt, tuple[NonNegInt, NonNegInt]]
ExplicitPad = Union[NonNegInt, tuple[PadAmount, ...]]
# `same_lower` (ONNX's SAME_LOWER: the odd cell at the start) and `causal` (1D: all d * (k - 1)
# cells before, WaveNet's and Keras' Conv1D `causal`) resolve to explicit pairs (shape_math.keyword_pairs).
Padding = Union[Literal["valid", "same", "same_lower", "causal"], ExplicitPad]
Rate = Annotated[float, Field(ge=0.0, lt=1.0)]
MAX_LRN_SIZE = 1024

# Constant kernels of the material (2D, one input channel; see `constant_kernel`).
CONSTANT_KERNELS: dict[str, tuple[tuple[float, ...], ...]] = {
    "vertical": ((1, 0, -1), (1, 0, -1), (1, 0, -1)),
    "horizontal": ((1, 1, 1), (0, 0, 0), (-1, -1, -1)),
    "sobel_x": ((1, 0, -1), (2, 0, -2), (1, 0, -1)),
    "sobel_y": ((1, 2, 1), (0, 0, 0), (-1, -2, -1)),
    "scharr_x": ((3, 0, -3), (10, 0, -10), (3, 0, -3)),
    "scharr_y": ((3, 10, 3), (0, 0, 0), (-3, -10, -3)),
}
KernelName = Literal["vertical", "horizontal", "sobel_x", "sobel_y", "scharr_x", "scharr_y"]
Matrix = tuple[tuple[float, ...], ...]


class Attrs(BaseModel):
    """Base of every op's attributes: frozen, unknown keys refused."""

    # allow_inf_nan=False: `nan` and `inf` pass no framework's layer (Keras' source even names them)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, defer_build=True, allow_inf_nan=False)


class LayerAttrs(Attrs):
    """Attributes of layers with weights.  (`frozen=` is accepted by every step and
    kept on the node, `Node.frozen`, since it also applies to whole blocks.)"""


class NoAttrs(Attrs):
    pass


class ConvAttrs(LayerAttrs):
    filters: PosInt
    kernel: Size
    stride: Size = 1
    padding: Padding = "valid"
    dilation: Size = 1
    groups: PosInt = 1
    bias: bool = True
    # A constant kernel (by name or as a matrix) makes the layer a fixed filter.
    weights: KernelName | Matrix | None = None


class DepthwiseAttrs(LayerAttrs):
    kernel: Size
    stride: Size = 1
    padding: Padding = "valid"
    dilation: Size = 1
    multiplier: PosInt = 1
    bias: bool = True


class SeparableAttrs(DepthwiseAttrs):
    """Depthwise (kernel, stride, padding, dilation, multiplier) then a 1x1 to `filters`."""

    filters: PosInt


class PointwiseAttrs(LayerAttrs):
    filters: PosInt
    bias: bool = True


class ConvTransposeAttrs(LayerAttrs):
    filters: PosInt
    kernel: Size
    stride: Size = 1
    padding: Literal["valid", "same"] | ExplicitPad = "valid"
    dilation: Size = 1
    groups: PosInt = 1
    # None (not given) and 0 differ under `same`, as in Keras: n * s, or (n - 1) * s + k - 2 * (k // 2) + p.
    output_padding: NonNegInt | tuple[NonNegInt, ...] | None = None
    bias: bool = True


class PoolAttrs(Attrs):
    size: Size = 2
    stride: Size | None = None  # defaults to the window size
    padding: Padding = "valid"
    dilation: Size = 1
    ceil: bool = False


class AvgPoolAttrs(PoolAttrs):
    # PyTorch's default (nn.AvgPool2d): padded cells count as zeros in the average.  Off by
    # default here, as in Keras and TensorFlow: only the input's cells are averaged.  The
    # cells ceil mode adds past the padding are never counted (PyTorch's rule).
    count_include_pad: bool = False


class GlobalPoolAttrs(Attrs):
    keepdims: bool = False


class AdaptivePoolAttrs(Attrs):
    size: Size


class UpsampleAttrs(Attrs):
    # Non-integer factors and `bicubic` are accepted here so the shape rule can say why cnnc refuses them.
    scale: Size | Annotated[float, Field(gt=0.0)] | tuple[Annotated[float, Field(gt=0.0)], ...] = 2
    mode: Literal["nearest", "bilinear", "bicubic"] = "nearest"


class BatchNormAttrs(LayerAttrs):
    # PyTorch's conventions: running = (1 - momentum) * running + momentum * batch.
    momentum: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    epsilon: Annotated[float, Field(gt=0.0)] = 1e-5
    scale: bool = True
    center: bool = True


class LRNAttrs(Attrs):
    # PyTorch pads the channels by the window and pools over them: a window of 10^12 channels asked
    # for 72 PB.  AlexNet's is 5; past the channel count a window only rescales alpha.
    size: Annotated[int, Field(ge=1, le=MAX_LRN_SIZE)] = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 2.0


class DropoutAttrs(Attrs):
    rate: Rate = 0.5


class PadAttrs(Attrs):
    padding: ExplicitPad = 1


class CropAttrs(Attrs):
    cropping: ExplicitPad


class DenseAttrs(LayerAttrs):
    units: PosInt
    bias: bool = True


class FlattenAttrs(Attrs):
    # The first axis folded in: 0 folds everything (a flat vector); 1 keeps h and folds w x c into
    # the channels (a conv map as a sequence of rows, CRNN's step from a conv stack to a 1D one).
    axis: NonNegInt = 0


class ReshapeAttrs(Attrs):
    shape: tuple[Annotated[int, Field(ge=-1)], ...]


class SoftmaxAttrs(Attrs):
    axis: int = -1


class ScaleAttrs(Attrs):
    factor: float


class LeakyReluAttrs(Attrs):
    alpha: Annotated[float, Field(ge=0.0)] = 0.01


class EluAttrs(Attrs):
    alpha: Annotated[float, Field(gt=0.0)] = 1.0


class MaxoutAttrs(Attrs):
    pieces: Annotated[int, Field(ge=2)] = 2


class ConcatAttrs(Attrs):
    axis: int = -1


class InputAttrs(Attrs):
    shape: tuple[PosInt, ...]
    name: str
