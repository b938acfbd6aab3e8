"""Augmentation of 1D signals and 3D volumes (quick): mirrors per axis, the stretch, amplitude scaling, and
the geometry they report, which targets follow; the options that need another rank are refused."""

from __future__ import annotations

import numpy as np
import pytest

from cnnc.tasks.runtime import augment


def _bright_voxel(shape, at):
    x = np.zeros((*shape, 1), np.float32)
    x[at] = 1.0
    return x


@pytest.mark.parametrize(
    "option, moved_to", [("flip", (2, 3, 6)), ("flip_vertical", (2, 1, 1)), ("flip_depth", (5, 3, 1))]
)
def test_each_mirror_flips_its_own_axis_of_a_volume(option, moved_to):
    x = _bright_voxel((8, 5, 8), (2, 3, 1))  # depth 8, height 5, width 8
    out, geometry = augment.Augment(**{option: 1.0}).apply(x, np.random.default_rng(0))
    assert tuple(int(v) for v in np.argwhere(out[..., 0] == 1.0)[0]) == moved_to
    assert geometry.points([[2, 3, 1]]).round(6).tolist() == [list(map(float, moved_to))]


def test_the_stretch_moves_a_signal_about_its_centre():
    x = np.zeros((21, 1), np.float32)
    x[14] = 1.0  # 4 samples right of the centre (10)
    aug = augment.Augment(zoom=0.5)
    out, geometry = aug.apply(x, np.random.default_rng(2))
    factor = geometry.matrix[0, 0]
    assert 0.5 <= factor <= 1.5 and factor != 1.0
    assert geometry.points([[14.0]])[0, 0] == pytest.approx(10 + 4 * factor)
    peak = 10 + 4 * factor  # the linear interpolation puts the bump's centre of mass there
    assert float((np.arange(21) * out[:, 0]).sum() / out[:, 0].sum()) == pytest.approx(peak, abs=0.05)


def test_zoom_axes_by_two_doubles_distances_from_the_centre_of_a_volume():
    x = _bright_voxel((9, 9, 9), (6, 4, 2))  # offsets from the centre (4, 4, 4): (2, 0, -2)
    out = augment.zoom_axes(x, 2.0)
    assert out[8, 4, 0, 0] == pytest.approx(1.0)  # (4 + 4, 4, 4 - 4)
    assert out.shape == x.shape and out.dtype == np.float32


def test_amplitude_scales_every_value_by_one_factor():
    x = np.linspace(-1, 1, 32, dtype=np.float32).reshape(16, 2)
    out = augment.Augment(amplitude=0.3)(x, np.random.default_rng(5))
    ratio = out[x != 0] / x[x != 0]
    assert np.allclose(ratio, ratio[0]) and 0.7 <= ratio[0] <= 1.3 and ratio[0] != 1.0


def test_options_that_need_another_rank_are_refused():
    assert augment.Augment(flip_vertical=0.5, flip_depth=0.5, zoom=0.1).problems((128, 2)) == [
        "--flip-vertical needs 2D images or 3D volumes",
        "--flip-depth needs 3D volumes",
    ]
    assert augment.Augment(flip_depth=0.5).problems((32, 32, 3)) == ["--flip-depth needs 3D volumes"]
    assert augment.Augment(flip=1, flip_vertical=1, flip_depth=1, zoom=0.1, shift=0.1).problems((8, 8, 8, 1)) == []
