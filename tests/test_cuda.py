"""GPU path: runs when CUDA is present, skipped otherwise."""
import pytest
import torch

import drive_lab
from drive_lab import data as data_module
from drive_lab import models, scores
from drive_lab.config import RunConfig
from drive_lab.masks import Masks, keep_top, prunable_parameters

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_auto_device_is_cuda():
    assert drive_lab.runtime.resolve_device("auto").type == "cuda"


def test_data_lives_on_gpu():
    data = data_module.load("digits", device="cuda")
    assert data.x_train.is_cuda and data.y_test.is_cuda
    x, y = next(data.epoch(32, torch.Generator().manual_seed(0)))
    assert x.is_cuda and y.is_cuda


def test_drive_run_on_gpu_keeps_invariants():
    drive_lab.set_progress(False)
    result = drive_lab.run(RunConfig(epochs=2, warmup_epochs=1, iterations=10, sparsity=0.9, device="cuda"))
    assert result.environment["device"].startswith("cuda") and "gpu" in result.environment
    assert result.kept_weights == round(0.1 * result.prunable_weights)
    assert result.final_test_accuracy > 0.5


def test_gpu_and_cpu_scores_agree():
    torch.manual_seed(0)
    model = models.build("conv", 10, 1, 8)
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
    cpu = scores.drive(model, [(x, y)])
    gpu = scores.drive(model.cuda(), [(x.cuda(), y.cuda())])
    for name in cpu:
        torch.testing.assert_close(gpu[name].cpu(), cpu[name], rtol=1e-3, atol=1e-6)


def test_exact_top_k_on_gpu():
    torch.manual_seed(0)
    model = models.build("vgg16", 10, 3, 32).cuda()
    masks = Masks.ones(model).to("cuda")
    scores_ = {n: torch.rand_like(w) for n, w in prunable_parameters(model).items()}
    for density in (0.5, 0.01, 0.001):
        masks = keep_top(scores_, masks, density)
        assert masks.kept() == round(density * masks.total())


def test_synflow_float64_on_gpu():
    torch.manual_seed(0)
    model = models.build("vgg16", 10, 3, 32).cuda()
    result = scores.synflow(model, None, input_shape=(3, 32, 32))
    assert all(torch.isfinite(s).all() for s in result.values())
