"""Random-aspect training windows (rmdepth_training.aspect): geometry and truth."""

import numpy as np
from rmdepth_training.aspect import batch_size_for, crop_triplet, random_window, resize_truth
from rmdepth_training.config import AugmentConfig
from rmdepth_training.triplets import no_truth


def test_windows_have_the_aspect_and_stay_inside() -> None:
    rng = np.random.default_rng(0)
    for aspect in (1.0, 4 / 3, 16 / 9, 3.0, 5.0):
        for _ in range(20):
            x0, y0, width, height = random_window((640, 192), aspect, 0.6, rng)
            assert 0 <= x0 and x0 + width <= 640 and 0 <= y0 and y0 + height <= 192
            assert abs(width / height - aspect) < 0.05 * aspect + 1 / height * aspect


def test_batch_sizes_are_multiples_of_8_within_the_budget_and_off_by_default() -> None:
    rng = np.random.default_rng(1)
    assert batch_size_for(AugmentConfig(), (192, 64), rng) is None
    cfg = AugmentConfig(aspect_prob=1.0, aspect_min=1.2, aspect_max=3.6)
    sizes = [batch_size_for(cfg, (192, 64), rng) for _ in range(50)]
    assert all(w % 8 == 0 and h % 8 == 0 and 0.8 < w * h / 12288 < 1.25 for w, h in sizes)
    aspects = [w / h for w, h in sizes]
    assert min(aspects) < 1.6 and max(aspects) > 2.6


def test_crop_shifts_the_principal_point_and_resizing_scales_the_flow() -> None:
    K = np.array([[100.0, 0.0, 63.5], [0.0, 100.0, 23.5], [0.0, 0.0, 1.0]])
    images = [np.arange(48 * 128, dtype=np.uint8).reshape(48, 128)] * 3
    truth = no_truth(48, 128)
    truth['gt_flow'][0], truth['gt_flow'][1] = 2.0, -1.0
    truth['gt_depth'][0, 10:20, 40:50] = 7.0
    cropped, K2, cut = crop_triplet(images, K, truth, (40, 10, 64, 32))
    point = np.array([0.3, -0.05, 4.0])
    before, after = K @ point, K2 @ point
    np.testing.assert_allclose(after[:2] / after[2], before[:2] / before[2] - [40, 10])
    np.testing.assert_array_equal(cropped[0], images[0][10:42, 40:104])
    assert cut['gt_depth'].shape == (1, 32, 64) and (cut['gt_depth'][0, :10, :10] == 7).all()
    big = resize_truth(cut, (128, 64))  # 2x: flow doubles, depth keeps its values
    assert big['gt_flow'].shape == (2, 64, 128)
    np.testing.assert_allclose(big['gt_flow'][:, 5, 5], [4.0, -2.0])
    assert set(np.unique(big['gt_depth'])) == {0.0, 7.0}
    np.testing.assert_array_equal(big['gt_T'], truth['gt_T'])
