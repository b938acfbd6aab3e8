# ruff: noqa: E501  (the table keeps one reference case per line, its citation first)
"""cnnc's shapes against the reference frameworks' own shape tests.

Every row is one case of ONNX's shape inference tests, ONNX's backend node tests (the
`input_shape` / `output_shape` each export documents), Keras' layer tests or PyTorch's module
tests (`TORCH_CASES`, with parameter counts), cited as
`owner/repo/path::test`: the input shape, the attributes and the expected output shape
as the test states them, written channels-last without the batch as cnnc's shapes are
(ONNX's `N x C x spatial` and Keras' `channels_first` cases moved; ONNX's `pads` as
(before, after) pairs; `auto_pad=SAME_UPPER` is `same`, `SAME_LOWER` is `same_lower`).
Rows were transcribed with a script over the tests' literals and kept as a table.

`REFUSED` holds the cases cnnc does not express, each with the diagnostic code that says so.
"""

from __future__ import annotations

import pytest

from cnnc.compiler import analyze

CASES = [
    ('onnx/onnx/tests/python/shape_inference_test.py::test_conv', '5x6x7x4', 'conv(5, (2, 4, 3), stride=(1, 1, 2), padding=((0, 0), (1, 0), (1, 1)), dilation=(1, 2, 2))', '4x1x3x5'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_conv_1d_simple', '5x4', 'conv(50, 2)', '4x50'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_conv_dilations', '8x8x8x4', 'conv(50, 3, dilation=(1, 2, 3))', '6x4x2x50'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_conv_strides', '8x8x8x4', 'conv(50, 3, stride=(1, 2, 3))', '6x3x2x50'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_conv_pads', '7x6x4x4', 'conv(50, 3, padding=((1, 0), (1, 1), (2, 2)))', '6x6x6x50'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_conv_auto_pad', '7x6x4x4', 'conv(50, (4, 3, 2), padding=same)', '7x6x4x50'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_conv_auto_pads', '7x6x4x4', 'conv(50, (4, 3, 2), stride=(2, 2, 1), padding=same)', '4x3x4x50'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_conv_auto_pad_dilation', '65x64x63x4', 'conv(50, (4, 3, 2), padding=same, dilation=(2, 3, 4))', '65x64x63x50'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_conv_group', '8x8x8x4', 'conv(4, 8, groups=4)', '1x1x1x4'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_conv_only_one_pos', '5x4', 'conv(50, 5, stride=2)', '1x50'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_average_pool_auto_pads', '7x6x4x4', 'avgpool((4, 3, 2), stride=(2, 2, 1), padding=same)', '4x3x4x4'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_average_pool_with_dilations', '4x4x3', 'avgpool(2, stride=1, dilation=2)', '2x2x3'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_average_pool_with_same_upper_padding_and_stride_and_dilation', '4x4x3', 'avgpool(2, stride=2, padding=same, dilation=(2, 3))', '2x2x3'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_maxpool', '4x4x3', 'maxpool(2, stride=1)', '3x3x3'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_maxpool_with_indices', '4x4x3', 'maxpool(2, stride=1)', '3x3x3'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_maxpool_3D', '4x4x4x3', 'maxpool(2, stride=1)', '3x3x3x3'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_maxpool_with_floor_mode', '35x35x288', 'maxpool(2, stride=2)', '17x17x288'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_maxpool_with_ceil_mode', '35x35x288', 'maxpool(2, stride=2, ceil=true)', '18x18x288'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_maxpool_ceil', '4x4x1', 'maxpool(3, stride=2, ceil=true)', '2x2x1'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_maxpool_with_dilations', '4x4x3', 'maxpool(2, stride=1, dilation=2)', '2x2x3'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_maxpool_with_same_upper_padding_and_stride', '4x4x3', 'maxpool(2, stride=2, padding=same)', '2x2x3'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_maxpool_with_same_upper_padding_and_stride_and_dilation', '4x4x3', 'maxpool(2, stride=2, padding=same, dilation=(2, 3))', '2x2x3'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_maxpool_with_same_upper_padding_and_stride_one', '4x4x3', 'maxpool(2, stride=1, padding=same)', '4x4x3'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_maxpool_with_same_lower_padding_and_stride', '9x9x3', 'maxpool(2, stride=2, padding=same_lower)', '5x5x3'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_maxpool_with_same_lower_padding_and_stride_and_dilation', '9x9x3', 'maxpool(2, stride=2, padding=same_lower, dilation=(2, 3))', '5x5x3'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_maxpool_with_same_lower_padding_and_big_stride', '4x4x3', 'maxpool(2, stride=4, padding=same_lower)', '1x1x3'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_averagepool', '4x4x3', 'avgpool(2, stride=1)', '3x3x3'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_averagepool_3D', '4x4x4x3', 'avgpool(2, stride=1)', '3x3x3x3'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_averagepool_ceil', '4x4x1', 'avgpool(3, stride=2, ceil=true)', '2x2x1'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_conv_transpose', '16x16x48', 'conv_transpose(32, 3, stride=2)', '33x33x32'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_conv_transpose_with_pads', '16x16x48', 'conv_transpose(32, 3, stride=2, padding=((1, 2), (1, 2)))', '30x30x32'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_conv_transpose_with_dilations', '16x16x48', 'conv_transpose(32, 3, stride=2, padding=((1, 2), (1, 2)), dilation=3)', '34x34x32'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_conv_transpose_with_group', '16x16x48', 'conv_transpose(64, 3, stride=2, padding=((1, 2), (1, 2)), groups=2)', '30x30x64'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_conv_transpose_auto_pads', '16x16x48', 'conv_transpose(32, 3, stride=2, padding=same)', '32x32x32'),
    ('onnx/onnx/onnx/backend/test/case/node/averagepool.py::test_averagepool_2d_precomputed_pads', '5x5x1', 'avgpool(5, stride=1, padding=2)', '5x5x1'),
    ('onnx/onnx/onnx/backend/test/case/node/averagepool.py::test_averagepool_2d_precomputed_strides', '5x5x1', 'avgpool(2, stride=2)', '2x2x1'),
    ('onnx/onnx/onnx/backend/test/case/node/averagepool.py::test_averagepool_2d_precomputed_same_upper', '5x5x1', 'avgpool(3, stride=2, padding=same)', '3x3x1'),
    ('onnx/onnx/onnx/backend/test/case/node/averagepool.py::test_averagepool_1d_default', '32x3', 'avgpool(2, stride=1)', '31x3'),
    ('onnx/onnx/onnx/backend/test/case/node/averagepool.py::test_averagepool_2d_default', '32x32x3', 'avgpool(2, stride=1)', '31x31x3'),
    ('onnx/onnx/onnx/backend/test/case/node/averagepool.py::test_averagepool_3d_default', '32x32x32x3', 'avgpool(2, stride=1)', '31x31x31x3'),
    ('onnx/onnx/onnx/backend/test/case/node/averagepool.py::test_averagepool_2d_same_upper', '32x32x3', 'avgpool(2, stride=1, padding=same)', '32x32x3'),
    ('onnx/onnx/onnx/backend/test/case/node/averagepool.py::test_averagepool_2d_same_lower', '32x32x3', 'avgpool(2, stride=1, padding=same_lower)', '32x32x3'),
    ('onnx/onnx/onnx/backend/test/case/node/averagepool.py::test_averagepool_2d_pads', '28x28x3', 'avgpool(3, stride=1, padding=2)', '30x30x3'),
    ('onnx/onnx/onnx/backend/test/case/node/averagepool.py::test_averagepool_2d_strides', '32x32x3', 'avgpool(5, stride=3)', '10x10x3'),
    ('onnx/onnx/onnx/backend/test/case/node/averagepool.py::test_averagepool_2d_ceil', '4x4x1', 'avgpool(3, stride=2, ceil=true)', '2x2x1'),
    ('onnx/onnx/onnx/backend/test/case/node/averagepool.py::test_averagepool_2d_dilations', '4x4x1', 'avgpool(2, stride=1, dilation=2, ceil=true)', '2x2x1'),
    ('onnx/onnx/onnx/backend/test/case/node/maxpool.py::test_maxpool_2d_uint8', '5x5x1', 'maxpool(5, stride=1, padding=2)', '5x5x1'),
    ('onnx/onnx/onnx/backend/test/case/node/maxpool.py::test_maxpool_2d_precomputed_pads', '5x5x1', 'maxpool(5, stride=1, padding=2)', '5x5x1'),
    ('onnx/onnx/onnx/backend/test/case/node/maxpool.py::test_maxpool_with_argmax_2d_precomputed_pads', '5x5x1', 'maxpool(5, stride=1, padding=2)', '5x5x1'),
    ('onnx/onnx/onnx/backend/test/case/node/maxpool.py::test_maxpool_2d_precomputed_strides', '5x5x1', 'maxpool(2, stride=2)', '2x2x1'),
    ('onnx/onnx/onnx/backend/test/case/node/maxpool.py::test_maxpool_with_argmax_2d_precomputed_strides', '5x5x1', 'maxpool(2, stride=2)', '2x2x1'),
    ('onnx/onnx/onnx/backend/test/case/node/maxpool.py::test_maxpool_2d_precomputed_same_upper', '5x5x1', 'maxpool(3, stride=2, padding=same)', '3x3x1'),
    ('onnx/onnx/onnx/backend/test/case/node/maxpool.py::test_maxpool_1d_default', '32x3', 'maxpool(2, stride=1)', '31x3'),
    ('onnx/onnx/onnx/backend/test/case/node/maxpool.py::test_maxpool_2d_default', '32x32x3', 'maxpool(2, stride=1)', '31x31x3'),
    ('onnx/onnx/onnx/backend/test/case/node/maxpool.py::test_maxpool_3d_default', '32x32x32x3', 'maxpool(2, stride=1)', '31x31x31x3'),
    ('onnx/onnx/onnx/backend/test/case/node/maxpool.py::test_maxpool_2d_same_upper', '32x32x3', 'maxpool(2, stride=1, padding=same)', '32x32x3'),
    ('onnx/onnx/onnx/backend/test/case/node/maxpool.py::test_maxpool_2d_same_lower', '32x32x3', 'maxpool(2, stride=1, padding=same_lower)', '32x32x3'),
    ('onnx/onnx/onnx/backend/test/case/node/maxpool.py::test_maxpool_2d_pads', '28x28x3', 'maxpool(3, stride=1, padding=2)', '30x30x3'),
    ('onnx/onnx/onnx/backend/test/case/node/maxpool.py::test_maxpool_2d_strides', '32x32x3', 'maxpool(5, stride=3)', '10x10x3'),
    ('onnx/onnx/onnx/backend/test/case/node/maxpool.py::test_maxpool_2d_ceil', '4x4x1', 'maxpool(3, stride=2, ceil=true)', '2x2x1'),
    ('onnx/onnx/onnx/backend/test/case/node/maxpool.py::test_maxpool_2d_ceil_output_size_reduce_by_one', '2x2x1', 'maxpool(1, stride=2, ceil=true)', '1x1x1'),
    ('onnx/onnx/onnx/backend/test/case/node/maxpool.py::test_maxpool_2d_dilations', '4x4x1', 'maxpool(2, stride=1, dilation=2)', '2x2x1'),
    ('onnx/onnx/onnx/backend/test/case/node/maxpool.py::test_maxpool_3d_dilations', '4x4x4x1', 'maxpool(2, stride=1, dilation=2)', '2x2x2x1'),
    ('keras-team/keras/keras/src/layers/pooling/average_pooling_test.py::AveragePoolingBasicTest::test_average_pooling1d', '5x4', 'avgpool(2, stride=1)', '4x4'),
    ('keras-team/keras/keras/src/layers/pooling/average_pooling_test.py::AveragePoolingBasicTest::test_average_pooling1d', '4x5', 'avgpool(2, stride=1, padding=same)', '4x5'),
    ('keras-team/keras/keras/src/layers/pooling/average_pooling_test.py::AveragePoolingBasicTest::test_average_pooling1d', '5x4', 'avgpool(2, stride=2)', '2x4'),
    ('keras-team/keras/keras/src/layers/pooling/average_pooling_test.py::AveragePoolingBasicTest::test_average_pooling2d', '5x5x4', 'avgpool(2, stride=1)', '4x4x4'),
    ('keras-team/keras/keras/src/layers/pooling/average_pooling_test.py::AveragePoolingBasicTest::test_average_pooling2d', '5x5x4', 'avgpool(2, stride=1, padding=same)', '5x5x4'),
    ('keras-team/keras/keras/src/layers/pooling/average_pooling_test.py::AveragePoolingBasicTest::test_average_pooling2d', '5x4x5', 'avgpool(2, stride=1)', '4x3x5'),
    ('keras-team/keras/keras/src/layers/pooling/average_pooling_test.py::AveragePoolingBasicTest::test_average_pooling2d', '5x4x5', 'avgpool(2, stride=1, padding=same)', '5x4x5'),
    ('keras-team/keras/keras/src/layers/pooling/average_pooling_test.py::AveragePoolingBasicTest::test_average_pooling2d', '5x5x4', 'avgpool((2, 3), stride=2)', '2x2x4'),
    ('keras-team/keras/keras/src/layers/pooling/average_pooling_test.py::AveragePoolingBasicTest::test_average_pooling2d', '5x5x4', 'avgpool((2, 3), stride=2, padding=same)', '3x3x4'),
    ('keras-team/keras/keras/src/layers/pooling/average_pooling_test.py::AveragePoolingBasicTest::test_average_pooling2d', '5x4x5', 'avgpool((2, 3), stride=3, padding=same)', '2x2x5'),
    ('keras-team/keras/keras/src/layers/pooling/average_pooling_test.py::AveragePoolingBasicTest::test_average_pooling3d', '5x5x5x4', 'avgpool(2, stride=1)', '4x4x4x4'),
    ('keras-team/keras/keras/src/layers/pooling/average_pooling_test.py::AveragePoolingBasicTest::test_average_pooling3d', '5x5x4x5', 'avgpool(2, stride=1, padding=same)', '5x5x4x5'),
    ('keras-team/keras/keras/src/layers/pooling/average_pooling_test.py::AveragePoolingBasicTest::test_average_pooling3d', '5x5x5x4', 'avgpool((2, 3, 2), stride=(2, 2, 1))', '2x2x4x4'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_test.py::ConvBasicTest::test_conv1d_basic', '5x4', 'conv(5, 2)', '4x5'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_test.py::ConvBasicTest::test_conv1d_basic', '4x4', 'conv(6, 2, padding=same, dilation=2, groups=2)', '4x6'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_test.py::ConvBasicTest::test_conv1d_basic', '4x4', 'conv(6, 2, padding=causal, dilation=2, groups=2)', '4x6'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_test.py::ConvBasicTest::test_conv1d_basic', '5x4', 'conv(6, 2, stride=2, groups=2)', '2x6'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_test.py::ConvBasicTest::test_conv2d_basic', '5x5x4', 'conv(5, 2)', '4x4x5'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_test.py::ConvBasicTest::test_conv2d_basic', '4x4x4', 'conv(6, 2, padding=same, dilation=2, groups=2)', '4x4x6'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_test.py::ConvBasicTest::test_conv2d_basic', '5x5x4', 'conv(6, 2, stride=(2, 1), groups=2)', '2x4x6'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_test.py::ConvBasicTest::test_conv3d_basic', '5x5x5x4', 'conv(5, 2)', '4x4x4x5'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_test.py::ConvBasicTest::test_conv3d_basic', '4x4x4x4', 'conv(6, 2, padding=same, dilation=2, groups=2)', '4x4x4x6'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_test.py::ConvBasicTest::test_conv3d_basic', '5x5x5x4', 'conv(6, (2, 2, 3), stride=(2, 1, 2), groups=2)', '2x4x2x6'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_transpose_test.py::ConvTransposeBasicTest::test_conv1d_transpose_basic', '8x4', 'conv_transpose(5, 2, stride=2)', '16x5'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_transpose_test.py::ConvTransposeBasicTest::test_conv1d_transpose_basic', '8x4', 'conv_transpose(6, 2, stride=3, padding=same, output_padding=2)', '23x6'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_transpose_test.py::ConvTransposeBasicTest::test_conv1d_transpose_basic', '8x4', 'conv_transpose(6, 2, stride=2)', '16x6'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_transpose_test.py::ConvTransposeBasicTest::test_conv2d_transpose_basic', '8x8x4', 'conv_transpose(5, 2, stride=2)', '16x16x5'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_transpose_test.py::ConvTransposeBasicTest::test_conv2d_transpose_basic', '8x8x4', 'conv_transpose(6, 2, stride=3, padding=same, output_padding=2)', '23x23x6'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_transpose_test.py::ConvTransposeBasicTest::test_conv2d_transpose_basic', '8x8x4', 'conv_transpose(6, (2, 3), stride=(2, 1))', '16x10x6'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_transpose_test.py::ConvTransposeBasicTest::test_conv3d_transpose_basic', '8x8x8x4', 'conv_transpose(5, 2, stride=2)', '16x16x16x5'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_transpose_test.py::ConvTransposeBasicTest::test_conv3d_transpose_basic', '8x8x8x4', 'conv_transpose(6, 2, stride=3, padding=same, output_padding=2)', '23x23x23x6'),
    ('keras-team/keras/keras/src/layers/convolutional/conv_transpose_test.py::ConvTransposeBasicTest::test_conv3d_transpose_basic', '8x8x8x4', 'conv_transpose(6, (2, 2, 3), stride=(2, 1, 2))', '16x9x17x6'),
    ('keras-team/keras/keras/src/layers/convolutional/depthwise_conv_test.py::DepthwiseConvBasicTest::test_depthwise_conv1d_basic', '5x4', 'depthwise(2, multiplier=5)', '4x20'),
    ('keras-team/keras/keras/src/layers/convolutional/depthwise_conv_test.py::DepthwiseConvBasicTest::test_depthwise_conv1d_basic', '4x4', 'depthwise(2, padding=same, dilation=2, multiplier=6)', '4x24'),
    ('keras-team/keras/keras/src/layers/convolutional/depthwise_conv_test.py::DepthwiseConvBasicTest::test_depthwise_conv1d_basic', '5x4', 'depthwise(2, stride=2, multiplier=6)', '2x24'),
    ('keras-team/keras/keras/src/layers/convolutional/depthwise_conv_test.py::DepthwiseConvBasicTest::test_depthwise_conv1d_basic', '10x4', 'depthwise(2, padding=same, dilation=2, multiplier=6)', '10x24'),
    ('keras-team/keras/keras/src/layers/convolutional/depthwise_conv_test.py::DepthwiseConvBasicTest::test_depthwise_conv2d_basic', '5x5x4', 'depthwise(2, multiplier=5)', '4x4x20'),
    ('keras-team/keras/keras/src/layers/convolutional/depthwise_conv_test.py::DepthwiseConvBasicTest::test_depthwise_conv2d_basic', '4x4x4', 'depthwise(2, padding=same, dilation=2, multiplier=6)', '4x4x24'),
    ('keras-team/keras/keras/src/layers/convolutional/depthwise_conv_test.py::DepthwiseConvBasicTest::test_depthwise_conv2d_basic', '5x5x4', 'depthwise(2, stride=2, multiplier=6)', '2x2x24'),
    ('keras-team/keras/keras/src/layers/pooling/max_pooling_test.py::MaxPoolingBasicTest::test_max_pooling1d', '5x4', 'maxpool(2, stride=1)', '4x4'),
    ('keras-team/keras/keras/src/layers/pooling/max_pooling_test.py::MaxPoolingBasicTest::test_max_pooling1d', '4x5', 'maxpool(2, stride=1, padding=same)', '4x5'),
    ('keras-team/keras/keras/src/layers/pooling/max_pooling_test.py::MaxPoolingBasicTest::test_max_pooling1d', '5x4', 'maxpool(2, stride=2)', '2x4'),
    ('keras-team/keras/keras/src/layers/pooling/max_pooling_test.py::MaxPoolingBasicTest::test_max_pooling2d', '5x5x4', 'maxpool(2, stride=1)', '4x4x4'),
    ('keras-team/keras/keras/src/layers/pooling/max_pooling_test.py::MaxPoolingBasicTest::test_max_pooling2d', '5x4x5', 'maxpool(2, stride=1, padding=same)', '5x4x5'),
    ('keras-team/keras/keras/src/layers/pooling/max_pooling_test.py::MaxPoolingBasicTest::test_max_pooling2d', '5x5x4', 'maxpool((2, 3), stride=2)', '2x2x4'),
    ('keras-team/keras/keras/src/layers/pooling/max_pooling_test.py::MaxPoolingBasicTest::test_max_pooling3d', '5x5x5x4', 'maxpool(2, stride=1)', '4x4x4x4'),
    ('keras-team/keras/keras/src/layers/pooling/max_pooling_test.py::MaxPoolingBasicTest::test_max_pooling3d', '5x5x4x5', 'maxpool(2, stride=1, padding=same)', '5x5x4x5'),
    ('keras-team/keras/keras/src/layers/pooling/max_pooling_test.py::MaxPoolingBasicTest::test_max_pooling3d', '5x5x5x4', 'maxpool((2, 3, 2), stride=(2, 2, 1))', '2x2x4x4'),
    ('keras-team/keras/keras/src/layers/convolutional/separable_conv_test.py::SeparableConvBasicTest::test_separable_conv1d_basic', '5x4', 'separable(5, 2, multiplier=5)', '4x5'),
    ('keras-team/keras/keras/src/layers/convolutional/separable_conv_test.py::SeparableConvBasicTest::test_separable_conv1d_basic', '4x4', 'separable(6, 2, padding=same, dilation=2, multiplier=6)', '4x6'),
    ('keras-team/keras/keras/src/layers/convolutional/separable_conv_test.py::SeparableConvBasicTest::test_separable_conv1d_basic', '5x4', 'separable(6, 2, stride=2, multiplier=6)', '2x6'),
    ('keras-team/keras/keras/src/layers/convolutional/separable_conv_test.py::SeparableConvBasicTest::test_separable_conv2d_basic', '5x5x4', 'separable(5, 2, multiplier=5)', '4x4x5'),
    ('keras-team/keras/keras/src/layers/convolutional/separable_conv_test.py::SeparableConvBasicTest::test_separable_conv2d_basic', '4x4x4', 'separable(6, 2, padding=same, dilation=2, multiplier=6)', '4x4x6'),
    ('keras-team/keras/keras/src/layers/convolutional/separable_conv_test.py::SeparableConvBasicTest::test_separable_conv2d_basic', '5x5x4', 'separable(6, 2, stride=2, multiplier=6)', '2x2x6'),
    # Keras' `valid` without output_padding pads k < s up to n * s; PyTorch (and cnnc) give (n - 1) * s + k,
    # so Keras' 224 is written with output_padding = s - k = 9: (14 - 1) * 16 + 7 + 9 = 224.
    ('keras-team/keras/keras/src/layers/convolutional/conv_transpose_test.py::ConvTransposeBasicTest::test_conv2d_transpose_basic', '14x14x2', 'conv_transpose(2, 7, stride=16, output_padding=9)', '224x224x2'),
]

# PyTorch's module tests (common_nn.py, run by test_nn.py as test_<module>_<desc>) give the module's
# arguments and the input size; the expected shape and parameter count are that module's own, run on
# the input when the table was written (PyTorch's tests compare against a reference, not a literal).
TORCH_CASES = [
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_Conv1d', '10x4', 'conv(5, 3)', '8x5', 65),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_Conv1d_stride', '10x4', 'conv(5, 3, stride=2)', '4x5', 65),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_Conv1d_pad1', '10x4', 'conv(5, 3, padding=1)', '10x5', 65),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_Conv1d_pad2', '10x4', 'conv(5, 5, padding=2)', '10x5', 105),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_Conv1d_pad1size1', '1x4', 'conv(4, 3, padding=1)', '1x4', 52),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_Conv1d_pad2size1', '1x4', 'conv(4, 5, padding=2)', '1x4', 84),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_ConvTranspose1d_no_bias', '6x3', 'conv_transpose(4, 3, stride=2, padding=1, output_padding=1, bias=false)', '12x4', 36),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_ConvTranspose1d_dilated', '6x3', 'conv_transpose(4, 3, stride=2, padding=1, output_padding=1, dilation=2)', '14x4', 40),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_Conv2d', '7x5x3', 'conv(4, (3, 2))', '5x4x4', 76),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_Conv2d_strided', '6x6x3', 'conv(4, 3, stride=2)', '2x2x4', 112),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_Conv2d_padding', '6x6x3', 'conv(4, 3, stride=2, padding=1)', '3x3x4', 112),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_Conv2d_dilated', '8x8x3', 'conv(2, 3, stride=2, padding=1, dilation=2)', '3x3x2', 56),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_Conv2d_no_bias', '6x5x3', 'conv(4, (3, 2), bias=false)', '4x4x4', 72),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_ConvTranspose2d', '7x6x3', 'conv_transpose(4, 3, stride=(3, 2), padding=1, output_padding=1)', '20x12x4', 112),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_ConvTranspose2d_dilated', '6x7x3', 'conv_transpose(4, 3, stride=(2, 3), padding=1, output_padding=1, dilation=2, bias=false)', '14x22x4', 108),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_ConvTranspose2d_no_bias', '6x7x3', 'conv_transpose(4, 3, stride=(2, 3), padding=1, output_padding=1, bias=false)', '12x20x4', 108),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_Conv3d', '4x5x4x2', 'conv(3, (2, 3, 2))', '3x3x3x3', 75),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_Conv3d_no_bias', '3x4x5x2', 'conv(3, (2, 3, 4), bias=false)', '2x2x2x3', 144),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_Conv3d_1x1x1_no_bias', '3x4x5x2', 'conv(3, 1, bias=false)', '3x4x5x3', 6),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_Conv3d_stride', '5x5x5x3', 'conv(4, 2, stride=2)', '2x2x2x4', 100),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_Conv3d_stride_padding', '5x5x5x3', 'conv(4, 2, stride=2, padding=1)', '3x3x3x4', 100),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_ConvTranspose3d', '4x5x4x2', 'conv_transpose(3, (2, 3, 2))', '5x7x5x3', 75),
    ('pytorch/pytorch/torch/testing/_internal/common_nn.py::test_ConvTranspose3d_dilated', '4x5x4x2', 'conv_transpose(3, (2, 3, 2), dilation=2)', '6x9x6x3', 75),
]

# Cases cnnc refuses, each with its code: padding as wide as the window leaves windows of padding
# alone (ONNX gives -inf or NaN there); ConvTranspose's `output_shape` is not an attribute (padding and
# output_padding say the same size).
REFUSED = [
    ('onnx/onnx/tests/python/shape_inference_test.py::test_maxpool_with_padding', '4x4x3', 'maxpool(2, stride=1, padding=((1, 2), (1, 2)))', '6x6x3', 'E0305'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_maxpool_with_padding_and_stride', '4x4x3', 'maxpool(2, stride=2, padding=((1, 2), (1, 2)))', '3x3x3', 'E0305'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_averagepool_with_padding', '4x4x3', 'avgpool(2, stride=1, padding=((1, 2), (1, 2)))', '6x6x3', 'E0305'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_averagepool_with_padding_and_stride', '4x4x3', 'avgpool(2, stride=2, padding=((1, 2), (1, 2)))', '3x3x3', 'E0305'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_conv_transpose_with_output_shape', '16x16x48', 'conv_transpose(32, 3, stride=2, padding=((1, 2), (1, 2)), output_shape=36)', '36x36x32', 'E0203'),
    ('onnx/onnx/tests/python/shape_inference_test.py::test_conv_transpose_with_group_and_output_shape', '16x16x48', 'conv_transpose(64, 3, stride=2, padding=((1, 2), (1, 2)), groups=2, output_shape=36)', '36x36x64', 'E0203'),
]

# Average pools that count padded cells (`count_include_pad=true`, PyTorch's default).
COUNT_INCLUDE_PAD = [
    ('onnx/onnx/onnx/backend/test/case/node/averagepool.py::test_averagepool_2d_precomputed_pads_count_include_pad', '5x5x1', 'avgpool(5, stride=1, padding=2, count_include_pad=true)', '5x5x1'),
    ('onnx/onnx/onnx/backend/test/case/node/averagepool.py::test_averagepool_2d_pads_count_include_pad', '28x28x3', 'avgpool(3, stride=1, padding=2, count_include_pad=true)', '30x30x3'),
    ('onnx/onnx/onnx/backend/test/case/node/averagepool.py::test_averagepool_2d_ceil_last_window_starts_on_pad', '2x2x3', 'avgpool(3, stride=3, padding=1, ceil=true, count_include_pad=true)', '1x1x3'),
]
CASES += COUNT_INCLUDE_PAD


def _probe(tmp_path, shape: str, step: str):
    path = tmp_path / "case.cnn"
    path.write_text(f"network T() {{\n  input x: {shape}\n  x -> {step} as probe -> output y\n}}\n")
    return analyze(path)


@pytest.mark.parametrize(
    "shape, step, expected", [pytest.param(*row[1:], id=f"{i}-{row[0].split('::')[1]}") for i, row in enumerate(CASES)]
)
def test_reference_shape(tmp_path, shape, step, expected):
    analysis = _probe(tmp_path, shape, step)
    assert analysis.ok, [(d.code, d.message) for d in analysis.diagnostics]
    assert "x".join(map(str, analysis.graph.node("probe").shape)) == expected


@pytest.mark.parametrize(
    "shape, step, expected, code", [pytest.param(*row[1:], id=row[0].split("::")[1]) for row in REFUSED]
)
def test_refused_reference_case(tmp_path, shape, step, expected, code):
    analysis = _probe(tmp_path, shape, step)
    assert [d.code for d in analysis.diagnostics if d.level == "error"] == [code]


@pytest.mark.parametrize(
    "shape, step, expected, params", [pytest.param(*row[1:], id=row[0].split("::")[1]) for row in TORCH_CASES]
)
def test_pytorch_module_case(tmp_path, shape, step, expected, params):
    analysis = _probe(tmp_path, shape, step)
    assert analysis.ok, [(d.code, d.message) for d in analysis.diagnostics]
    node = analysis.graph.node("probe")
    assert ("x".join(map(str, node.shape)), node.params.total) == (expected, params)


def test_the_table_cites_each_framework():
    sources = {row[0].split("/")[0] + "/" + row[0].split("/")[1] for row in CASES + TORCH_CASES}
    assert sources == {"onnx/onnx", "keras-team/keras", "pytorch/pytorch"}
    assert len(CASES) + len(TORCH_CASES) >= 100


# --- the bugs the references found, and the refusals, as diagnostics ------------------------


def _error(tmp_path, shape: str, step: str):
    from cnnc.diagnostics import render

    analysis = _probe(tmp_path, shape, step)
    errors = [d for d in analysis.diagnostics if d.level == "error"]
    assert len(errors) == 1, [(d.code, d.message) for d in analysis.diagnostics]
    lines = render(errors[0], analysis.sources).splitlines()
    index = next(i for i, line in enumerate(lines) if "^" in line and "|" in line)
    cut = lines[index - 1].index("|") + 2
    source, marks = lines[index - 1][cut:], lines[index][cut:]
    start = marks.index("^")
    return errors[0], source[start : len(marks.rstrip())]


def test_same_with_output_padding_is_keras_rule(tmp_path):
    # keras conv_transpose_test::test_conv2d_transpose_basic: 8 -> 23 with k=2, s=3, p=2; 12 -> 23 (not 24) below
    analysis = _probe(tmp_path, "12x12x3", "conv_transpose(4, 3, stride=2, padding=same, output_padding=0)")
    assert analysis.graph.node("probe").shape == (23, 23, 4)
    analysis = _probe(tmp_path, "12x12x3", "conv_transpose(4, 3, stride=2, padding=same)")
    assert analysis.graph.node("probe").shape == (24, 24, 4)


def test_output_padding_not_below_the_stride_is_refused(tmp_path):
    diag, under = _error(tmp_path, "8x8x3", "conv_transpose(4, 3, stride=2, output_padding=2)")
    assert (diag.code, diag.message) == ("E0305", "output_padding 2 is not smaller than the stride 2")
    assert "stride - 1 = 1" in diag.notes[0]
    assert under == "conv_transpose(4, 3, stride=2, output_padding=2) as probe"


def test_pool_padding_as_wide_as_the_window_is_refused(tmp_path):
    diag, under = _error(tmp_path, "4x4x3", "maxpool(2, stride=1, padding=((1, 2), (1, 2)))")
    assert (diag.code, diag.message) == ("E0305", "pool padding 2 is not smaller than the window 2")
    assert under.startswith("maxpool(2")


def test_causal_padding_is_one_dimensional(tmp_path):
    diag, under = _error(tmp_path, "8x8x3", "conv(4, 3, padding=causal)")
    assert (diag.code, diag.message) == ("E0305", "`padding=causal` is for 1D input, got 2 spatial dimensions")
    assert under == "conv(4, 3, padding=causal) as probe"


def test_causal_output_never_sees_a_later_input(tmp_path):
    import numpy as np
    import torch

    from cnnc.backends import torch as torch_backend

    analysis = _probe(tmp_path, "16x2", "conv(3, 3, dilation=2, padding=causal)")
    scope: dict = {}
    exec(torch_backend.generate(analysis)["model.py"], scope)
    model = scope["build_model"]().eval()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 2, 16)).astype(np.float32))
    later = x.clone()
    later[:, :, 10:] += 1.0
    with torch.no_grad():
        assert torch.equal(model(x)[:, :, :10], model(later)[:, :, :10])
        assert not torch.equal(model(x)[:, :, 10:], model(later)[:, :, 10:])


@pytest.mark.parametrize(
    "step", ["conv_transpose(4, 3, stride=2, dilation=2)", "deconv(4, (1, 3), stride=(1, 2), dilation=(2, 1), groups=2)"]
)
def test_keras_refuses_what_conv_transpose_cannot_build(tmp_path, step):
    from cnnc.backends import keras as keras_backend
    from cnnc.diagnostics import CnncError

    analysis = _probe(tmp_path, "8x8x4", step)
    assert analysis.ok
    with pytest.raises(CnncError) as raised:
        keras_backend.generate(analysis)
    (diag,) = raised.value.diagnostics
    assert diag.code == "E0307" and "refuses strides > 1 with dilation_rate > 1" in diag.notes[0]
    assert diag.span.line == 3


def test_keras_builds_a_grouped_conv_transpose(tmp_path):
    """Conv*DTranspose has no `groups`: the runtime's GroupedConvTranspose, one (*k, out/g, in) kernel."""
    from cnnc.backends import keras as keras_backend

    analysis = _probe(tmp_path, "8x8x4", "conv_transpose(6, 3, stride=2, groups=2)")
    assert "GroupedConvTranspose(6, 3, groups=2, strides=2" in keras_backend.generate(analysis)["model.py"]
    layer = keras_backend.build(analysis.graph).get_layer("probe")
    # 3 x 3 taps x 6 // 2 outputs x 4 inputs + 6 biases, as the IR counts (and torch's (4, 3, 3, 3))
    assert [tuple(w.shape) for w in layer.get_weights()] == [(3, 3, 3, 4), (6,)]
    assert layer.count_params() == analysis.graph.node("probe").params.trainable == 114


@pytest.mark.parametrize(
    "step, message",
    [
        ("upsample(2, mode=bicubic)", "bicubic upsampling is not supported"),
        ("upsample(1.5)", "upsampling by 1.5x1.5 is not supported: factors are integers"),
        ("upsample((2, 2.5))", "upsampling by 2x2.5 is not supported: factors are integers"),
    ],
)
def test_upsampling_the_frameworks_disagree_on_is_refused(tmp_path, step, message):
    diag, under = _error(tmp_path, "8x8x3", step)
    assert (diag.code, diag.message) == ("E0308", message)
    assert under == f"{step} as probe"


def test_an_integral_float_factor_is_an_integer(tmp_path):
    assert _probe(tmp_path, "8x8x3", "upsample(2.0)").graph.node("probe").shape == (16, 16, 3)


KERAS_REFUSES = """network TransposedGroups() {
  input x: 9x7x4
  a = x -> conv_transpose(6, 3, stride=2, groups=2, padding=((1, 0), (0, 2)), output_padding=1)
  b = x -> conv_transpose(4, 3, stride=2, dilation=2, groups=4, padding=same, output_padding=1)
  a -> output a
  b -> output b
}
"""


def test_conv_transpose_groups_and_dilation_agree_in_torch_and_onnx(spec_file, tmp_path):
    """Groups and dilation in ONNX against PyTorch; Keras builds the first (grouped_transpose.cnn in the
    differential tests) but refuses the second's stride with dilation (E0307)."""
    from test_backend_onnx import check_against_torch

    analysis = analyze(spec_file(KERAS_REFUSES))
    assert analysis.ok, analysis.diagnostics
    # groups divide the weights: 4 input channels x 6 // 2 outputs x 9 taps + 6 biases; 4 x 1 x 9 + 4
    assert [analysis.graph.node(n).params.trainable for n in ("conv_transpose1", "conv_transpose2")] == [114, 40]
    # (9 - 1) * 2 - 1 - 0 + 3 + 1 = 19 by (7 - 1) * 2 - 0 - 2 + 3 + 1 = 14; same: (n - 1) * 2 + 5 - 2 * 2 + 1
    assert analysis.graph.node("conv_transpose1").shape == (19, 14, 6)
    assert analysis.graph.node("conv_transpose2").shape == (18, 14, 4)
    check_against_torch(analysis, tmp_path)


def test_flatten_keeping_axes(tmp_path):
    assert _probe(tmp_path, "6x5x4", "flatten(1)").graph.node("probe").shape == (6, 20)
    assert _probe(tmp_path, "6x5x4", "flatten(2)").graph.node("probe").shape == (6, 5, 4)
    assert _probe(tmp_path, "6x5x4", "flatten").graph.node("probe").shape == (120,)
    diag, under = _error(tmp_path, "6x5x4", "flatten(3)")
    assert (diag.code, diag.message) == ("E0305", "flatten axis 3 is outside a rank-3 shape 6x5x4")
    assert under == "flatten(3) as probe"


def test_counted_padding_with_dilation_is_refused_at_the_pool(tmp_path):
    analysis = _probe(tmp_path, "16x16x3", "avgpool(3, padding=2, dilation=2, count_include_pad=true)")
    (error,) = [d for d in analysis.diagnostics if d.level == "error"]
    assert (error.code, error.message) == ("E0305", "`count_include_pad=true` with `dilation` is not supported")
    assert (error.span.line, error.span.column) == (3, 8)
