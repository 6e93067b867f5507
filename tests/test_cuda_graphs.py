"""CUDA-graph replay of the packed training step: the device-side learning rate it needs follows
the same schedule as the float one (CPU), and on a GPU graphed training gives eager training's
models, and a step that cannot be captured falls back to eager training with a warning."""

import copy

import pytest
import torch

from hmtl.config import TrainConfig
from hmtl.data.prepare import prepare_dataset
from hmtl.models import TreeSpec
from hmtl.testing import tiny_config
from hmtl.training.graphs import GraphedStep
from hmtl.training.job import TrainJob
from hmtl.training.optim import TensorLR, make_optimizer, make_schedule
from hmtl.training.packed import train_packed

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
TASKS = ("vowel", "pitch", "rhythm")


def _train_tiny(capturable: bool, cfg: TrainConfig, steps: int = 12) -> tuple[list, dict]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    opt = make_optimizer(list(model.parameters()), cfg, capturable=capturable)
    sched = make_schedule(opt, cfg, steps_per_epoch=4)
    gen = torch.Generator().manual_seed(1)
    lrs = []
    for _ in range(steps):
        x, y = torch.randn(16, 6, generator=gen), torch.randint(0, 3, (16,), generator=gen)
        lrs.append(float(opt.param_groups[0]["lr"]))
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        sched.step()
    return lrs, model.state_dict()



@pytest.mark.parametrize("schedule", ["cosine", "step"])
def test_device_side_learning_rate_follows_the_float_schedule(schedule):
    cfg = TrainConfig(epochs=3, schedule=schedule, step_epochs=1, warmup_epochs=1.0)
    lrs_float, state_float = _train_tiny(False, cfg)
    lrs_tensor, state_tensor = _train_tiny(True, cfg)
    assert len(set(lrs_float)) >= 3                     # the schedule does move
    assert lrs_tensor == pytest.approx(lrs_float, rel=1e-6)
    for name, value in state_float.items():
        torch.testing.assert_close(state_tensor[name], value, rtol=1e-5, atol=1e-6)


def test_capturable_optimizer_gets_the_tensor_schedule():
    model = torch.nn.Linear(2, 2)
    opt = make_optimizer(list(model.parameters()), TrainConfig(), capturable=True)
    assert isinstance(make_schedule(opt, TrainConfig(), 4), TensorLR)
    assert isinstance(opt.param_groups[0]["lr"], torch.Tensor)


def test_graphed_step_without_cuda_is_the_eager_step():
    """Each call zeroes the gradients first, as the eager loop does; nothing is captured."""
    p = torch.nn.Parameter(torch.zeros(3))
    opt = torch.optim.SGD([p], lr=1.0)
    grads = []

    def body(x):
        (p * x).sum().backward()
        grads.append(p.grad.clone())
        opt.step()

    step = GraphedStep(body, opt, "cpu")
    for _ in range(3):
        step(torch.ones(3))
    assert [g.tolist() for g in grads] == [[1.0, 1.0, 1.0]] * 3   # not accumulated
    assert p.tolist() == [-3.0, -3.0, -3.0] and step.replays == 0 and not step.graphs


@cuda
def test_graphed_packed_training_gives_the_eager_models(corpus, tmp_path):
    cfg = tiny_config(corpus, tasks=TASKS, overrides=["train.epochs=4", "train.device=cuda",
                                                      "model.dropout=0.0"])
    data = prepare_dataset(cfg, tmp_path / "data")
    jobs = [TrainJob(TreeSpec.pair(a, b, 1, 2), seed, cfg.model, cfg.train, ((a, 1.0), (b, 1.0)),
                     data.key) for a, b in [("vowel", "pitch"), ("pitch", "rhythm")] for seed in (0, 1)]
    eager = train_packed(jobs, data, cuda_graphs=False)
    graphed = train_packed(jobs, data, cuda_graphs=True)
    for (rec_e, state_e), (rec_g, state_g) in zip(eager, graphed):
        assert rec_g.cuda_graphs and not rec_e.cuda_graphs
        for task in rec_e.tasks:
            assert abs(rec_g.val[task]["accuracy"] - rec_e.val[task]["accuracy"]) <= 0.05
        diff = max((state_g[k].float() - state_e[k].float()).abs().max().item() for k in state_e)
        assert diff < 1e-2


@cuda
def test_a_step_that_cannot_be_captured_trains_eagerly_with_a_warning():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2).cuda()
    reference = copy.deepcopy(model)
    cfg = TrainConfig(schedule="constant")
    x = torch.randn(8, 4, device="cuda")
    losses = []

    def make_body(m, opt):
        def body(xb):
            loss = m(xb).pow(2).mean()
            loss.backward()
            losses.append(loss.item())           # a host sync: not capturable
            opt.step()
        return body

    opt = make_optimizer(list(model.parameters()), cfg, capturable=True)
    step = GraphedStep(make_body(model, opt), opt)
    with pytest.warns(RuntimeWarning, match="CUDA graph capture failed"):
        for _ in range(5):
            step(x)
    assert step.failure and step.replays == 0 and not step.enabled
    ref_opt = make_optimizer(list(reference.parameters()), cfg, capturable=True)
    ref_step = GraphedStep(make_body(reference, ref_opt), ref_opt, "cuda", enabled=False)
    for _ in range(5):
        ref_step(x)
    torch.testing.assert_close(model.weight, reference.weight)
