"""Metrics: hand-computed values, limits, agreement with scikit-image and between numpy and torch."""

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from hsinr import metrics, metrics_torch
from hsinr.errors import DataError


def small_pair():
    """A 2x2x2 cube: band 0 is 0.5 with one pixel off by 0.1, band 1 is 0.25 with every pixel off by 0.1."""
    gt = np.empty((2, 2, 2))
    gt[..., 0] = 0.5
    gt[..., 1] = 0.25
    pred = gt.copy()
    pred[0, 0, 0] += 0.1
    pred[..., 1] -= 0.1
    return gt, pred


def random_pair(seed, shape=(24, 20, 5)):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0.05, 1.0, shape)
    pred = np.clip(gt + rng.normal(0.0, 0.05, shape), 0.0, None)
    return gt, pred


def to_batch(*cubes):
    """(H, W, C) float64 arrays -> (N, C, H, W) float64 tensor."""
    return torch.from_numpy(np.stack(cubes)).permute(0, 3, 1, 2).contiguous()


def test_psnr_hand_computed():
    gt, pred = small_pair()
    # band 0: MSE = 0.01 / 4 -> 10*log10(400) dB; band 1: MSE = 0.01 -> 20 dB
    expected = (10 * math.log10(400.0) + 20.0) / 2
    assert metrics.psnr(gt, pred) == pytest.approx(expected, abs=1e-9)
    assert metrics.psnr(gt, pred, peak=2.0) == pytest.approx(expected + 10 * math.log10(4.0), abs=1e-9)
    # eq. 12 uses max(gt) = 0.5 as the peak: 10*log10(0.25) lower
    assert metrics.psnr_max(gt, pred) == pytest.approx(expected + 10 * math.log10(0.25), abs=1e-9)
    np.testing.assert_allclose(metrics.band_psnr(gt, pred), [10 * math.log10(400.0), 20.0], atol=1e-9)
    np.testing.assert_allclose(metrics.band_psnr(gt, gt), [metrics.PSNR_CAP_DB] * 2)


def test_identical_inputs_give_the_limits():
    gt, _ = random_pair(0)
    assert metrics.psnr(gt, gt) == pytest.approx(metrics.PSNR_CAP_DB)
    assert metrics.psnr_max(gt, gt) == pytest.approx(metrics.PSNR_CAP_DB)
    assert metrics.ssim(gt, gt) == pytest.approx(1.0, abs=1e-12)
    assert metrics.sam(gt, gt) == pytest.approx(0.0, abs=1e-9)
    assert metrics.ergas(gt, gt) == 0.0
    assert metrics.rmse(gt, gt) == 0.0
    assert metrics.mrae(gt, gt) == 0.0


def test_sam_angles():
    gt = np.zeros((1, 4, 2))
    gt[0, :, 0] = 1.0
    orthogonal = np.zeros_like(gt)
    orthogonal[0, :, 1] = 2.0
    diagonal = np.ones_like(gt)
    assert metrics.sam(gt, orthogonal) == pytest.approx(90.0)
    assert metrics.sam(gt, 3.7 * gt) == pytest.approx(0.0, abs=1e-9)  # scale invariance
    assert metrics.sam(gt, diagonal) == pytest.approx(45.0)
    assert metrics.sam(gt, np.zeros_like(gt)) == pytest.approx(90.0)  # zero prediction counts as 90 degrees


def test_sam_ignores_pixels_with_zero_ground_truth():
    gt = np.array([[[1.0, 0.0], [0.0, 0.0]]])
    pred = np.array([[[1.0, 1.0], [1.0, 0.0]]])
    assert metrics.sam(gt, pred) == pytest.approx(45.0)
    with pytest.raises(DataError):
        metrics.sam(np.zeros((2, 2, 3)), np.ones((2, 2, 3)))


def test_ergas_hand_computed():
    gt, pred = small_pair()
    # mean_b RMSE_b^2 / mu_b^2 = (0.0025 / 0.25 + 0.01 / 0.0625) / 2 = 0.085
    assert metrics.ergas(gt, pred) == pytest.approx(100 * math.sqrt(0.085))
    assert metrics.ergas(gt, pred, ratio=4) == pytest.approx(25 * math.sqrt(0.085))


def test_rmse_and_mrae_hand_computed():
    gt, pred = small_pair()
    assert metrics.rmse(gt, pred) == pytest.approx(math.sqrt((0.01 + 4 * 0.01) / 8))
    assert metrics.mrae(gt, pred) == pytest.approx((0.1 / 0.5 + 4 * 0.1 / 0.25) / 8)


def test_mrae_uses_the_epsilon_floor_for_zero_ground_truth():
    gt = np.array([[[0.0, 0.5]]])
    pred = np.array([[[0.01, 0.6]]])
    assert metrics.mrae(gt, pred) == pytest.approx((0.01 / 1e-3 + 0.1 / 0.5) / 2)
    assert metrics.mrae(gt, pred, eps=0.1) == pytest.approx((0.01 / 0.1 + 0.1 / 0.5) / 2)


@pytest.mark.parametrize("seed", [1, 2])
def test_ssim_matches_scikit_image(seed):
    gt, pred = random_pair(seed, (32, 27, 3))
    reference = np.mean(
        [
            structural_similarity(
                gt[..., band],
                pred[..., band],
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
                data_range=1.0,
            )
            for band in range(gt.shape[2])
        ]
    )
    assert metrics.ssim(gt, pred) == pytest.approx(reference, abs=1e-9)
    assert metrics.ssim(gt, pred) < 0.99


def test_ssim_rejects_images_smaller_than_the_window():
    with pytest.raises(DataError, match="11x11"):
        metrics.ssim(np.ones((10, 20, 2)), np.ones((10, 20, 2)))


def test_shape_mismatch_and_black_ground_truth_raise():
    with pytest.raises(DataError):
        metrics.psnr(np.ones((4, 4, 3)), np.ones((4, 4, 2)))
    with pytest.raises(DataError):
        metrics.psnr_max(np.zeros((4, 4, 3)), np.ones((4, 4, 3)))
    with pytest.raises(DataError):
        metrics.ergas(np.zeros((4, 4, 3)), np.ones((4, 4, 3)))


def test_backprojection_mrae():
    gt, pred = random_pair(3, (6, 5, 4))
    srf = np.random.default_rng(4).uniform(0.0, 1.0, (3, 4))
    rgb = gt @ srf.T
    assert metrics.backprojection_mrae(rgb, gt, srf) == pytest.approx(0.0, abs=1e-12)
    assert metrics.backprojection_mrae(rgb, pred, srf) == pytest.approx(metrics.mrae(rgb, pred @ srf.T))
    assert metrics.backprojection_mrae(rgb, 1.1 * gt, srf) == pytest.approx(0.1)


def test_evaluate_all_keys_and_directions():
    gt, pred = random_pair(5)
    srf = np.full((3, gt.shape[2]), 1.0 / gt.shape[2])
    plain = metrics.evaluate_all(gt, pred)
    assert set(plain) == {"psnr", "psnr_max", "ssim", "sam", "ergas", "rmse", "mrae"}
    assert plain["psnr"] == pytest.approx(metrics.psnr(gt, pred))
    full = metrics.evaluate_all(gt, pred, rgb=gt @ srf.T, srf=srf, ratio=2.0)
    assert full["ergas"] == pytest.approx(plain["ergas"] / 2)
    assert set(full) <= set(metrics.METRIC_INFO) and "backprojection_mrae" in full
    assert metrics.METRIC_INFO["psnr"][1] is True and metrics.METRIC_INFO["sam"][1] is False


def test_torch_agrees_with_numpy_per_image():
    pairs = [random_pair(seed) for seed in (10, 11)]
    gt = to_batch(*(pair[0] for pair in pairs))
    pred = to_batch(*(pair[1] for pair in pairs))
    srf = np.random.default_rng(12).uniform(0.0, 1.0, (3, gt.shape[1]))
    rgb = torch.einsum("nchw,kc->nkhw", gt, torch.from_numpy(srf)) * 1.02
    for name in ("psnr", "psnr_max", "ssim", "sam", "ergas", "rmse", "mrae"):
        batched = getattr(metrics_torch, name)(gt, pred)
        assert batched.shape == (2,)
        for index, (gt_image, pred_image) in enumerate(pairs):
            assert batched[index].item() == pytest.approx(getattr(metrics, name)(gt_image, pred_image), abs=1e-6), name
    batched = metrics_torch.backprojection_mrae(rgb, pred, srf)
    for index, (_, pred_image) in enumerate(pairs):
        rgb_image = rgb[index].permute(1, 2, 0).numpy()
        assert batched[index].item() == pytest.approx(metrics.backprojection_mrae(rgb_image, pred_image, srf), abs=1e-6)


def test_torch_metrics_are_differentiable_even_at_a_perfect_match():
    gt, _ = random_pair(13, (16, 16, 4))
    target = to_batch(gt)
    for name in ("psnr", "ssim", "sam", "ergas", "rmse", "mrae"):
        near = (target + 0.01).requires_grad_(True)
        getattr(metrics_torch, name)(target, near).sum().backward()
        assert torch.isfinite(near.grad).all() and near.grad.abs().sum() > 0, name
    exact = target.clone().requires_grad_(True)
    metrics_torch.sam(target, exact).sum().backward()
    assert torch.isfinite(exact.grad).all()
