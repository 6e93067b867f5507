import numpy as np
import pytest
import torch

from hmtl.data.prepare import prepare_dataset
from hmtl.models import TreeSpec
from hmtl.testing import tiny_config
from hmtl.training.job import TrainJob
from hmtl.training.plain import train_job
from hmtl.training.store import RunStore
from hmtl.metrics import accuracy, drop, macro_f1
from hmtl.training.multitask import MultiTaskLoss


@pytest.fixture(scope="module")
def prepared(corpus, tmp_path_factory):
    cfg = tiny_config(corpus, tasks=("vowel", "pitch", "rhythm"))
    return cfg, prepare_dataset(cfg, tmp_path_factory.mktemp("run") / "data")


def job(cfg, data, spec, seed=0, **train):
    tcfg = type(cfg.train)(**{**cfg.train.__dict__, **train})
    return TrainJob(spec, seed, cfg.model, tcfg, tuple((t, 1.0) for t in spec.tasks), data.key)


def test_macro_f1_and_accuracy_by_hand():
    y = np.array([0, 0, 1, 1, 2])
    p = np.array([0, 1, 1, 1, 0])
    assert accuracy(y, p) == pytest.approx(0.6)
    # class 0: tp1 fp1 fn1 -> 0.5; class 1: tp2 fp1 fn0 -> 0.8; class 2: tp0 fn1 -> 0
    assert macro_f1(y, p) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert drop(0.9, 0.8) == pytest.approx(0.1)


def test_loss_ignores_unlabelled_clips():
    loss = MultiTaskLoss(["a", "b"], {"a": 1.0, "b": 2.0})
    logits = {"a": torch.tensor([[5.0, 0.0], [0.0, 5.0]]), "b": torch.tensor([[0.0, 0.0], [9.0, -9.0]])}
    y = torch.tensor([[0, -1], [1, -1]])   # task b unlabelled everywhere: contributes nothing
    only_a = torch.nn.functional.cross_entropy(logits["a"], torch.tensor([0, 1]))
    assert loss(logits, y).item() == pytest.approx(only_a.item())
    y2 = torch.tensor([[-1, 0], [-1, -1]])
    assert loss(logits, y2).item() == pytest.approx(2.0 * np.log(2.0), rel=1e-5)


def test_training_learns_well_above_chance(prepared):
    cfg, data = prepared
    record, state = train_job(job(cfg, data, TreeSpec.single("vowel", 2), epochs=8), data)
    assert record.val["vowel"]["accuracy"] > 0.6        # 6 classes: chance is 0.17
    assert record.params == sum(v.numel() for k, v in state.items()
                                   if not k.startswith("norm.") and "running" not in k
                                   and "num_batches" not in k)


def test_training_is_deterministic_for_a_seed(prepared):
    cfg, data = prepared
    spec = TreeSpec.pair("vowel", "pitch", 1, 2)
    a, sa = train_job(job(cfg, data, spec, seed=3, epochs=3), data)
    b, sb = train_job(job(cfg, data, spec, seed=3, epochs=3), data)
    _, sc = train_job(job(cfg, data, spec, seed=4, epochs=3), data)
    assert a.val == b.val and a.test == b.test
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)     # another seed, other weights


def test_partial_labels_train(prepared, tmp_path):
    cfg, data = prepared
    y = data.y.clone()
    y[::2, 1] = -1                      # half the clips lose their pitch label
    partial = type(data)(**{**data.__dict__, "y": y})
    record, _ = train_job(job(cfg, partial, TreeSpec.flat(("vowel", "pitch"), 2), epochs=2), partial)
    assert record.val["pitch"]["n"] < record.val["vowel"]["n"]


def test_finished_job_is_never_trained_again(prepared, tmp_path, monkeypatch):
    cfg, data = prepared
    store = RunStore(tmp_path / "runs")
    j = job(cfg, data, TreeSpec.single("pitch", 2), epochs=1)
    first, trained = store.run(j, data)
    assert trained and (store.folder(j) / "model.pt").exists()
    import hmtl.training.job as job_module

    monkeypatch.setattr(job_module, "train_job", lambda *a, **k: pytest.fail("retrained"))
    again, trained = store.run(j, data)
    assert not trained and again == first
    state = store.load_state(j)
    assert "heads.pitch.weight" in state


def test_job_key_covers_what_changes_the_result(prepared):
    cfg, data = prepared
    spec = TreeSpec.single("pitch", 2)
    base = job(cfg, data, spec)
    assert base.key == job(cfg, data, spec).key
    assert base.key != job(cfg, data, spec, seed=1).key
    assert base.key != job(cfg, data, spec, epochs=7).key
    assert base.key != job(cfg, data, TreeSpec.single("vowel", 2)).key
    assert base.key == job(cfg, data, spec, device="cuda").key   # where it runs is not what it is
    assert base.key == job(cfg, data, spec, cuda_graphs=False).key   # nor how its steps launch


def test_bf16_falls_back_to_fp32_where_autocast_is_not_used(prepared):
    """train.precision=bf16 autocasts on CUDA only (on this CPU bf16 was 2.4-8x slower,
    BENCHMARKS.md): on a CPU the training runs, in fp32, and gives the fp32 result."""
    cfg, data = prepared
    spec = TreeSpec.single("pitch", 2)
    fp32 = train_job(job(cfg, data, spec, epochs=2, device="cpu"), data)[0]
    bf16 = train_job(job(cfg, data, spec, epochs=2, device="cpu", precision="bf16"), data)[0]
    assert bf16.val == fp32.val and bf16.test == fp32.test


@pytest.fixture
def compile_backend(monkeypatch):
    """Compile through `backend` (torch's own eager backends keep a test to seconds, where
    inductor takes most of a minute); dynamo's caches and error setting restored after."""
    import torch._dynamo

    from hmtl.training import device

    suppress = torch._dynamo.config.suppress_errors   # a config module: no monkeypatch
    torch._dynamo.reset()
    yield lambda backend: monkeypatch.setattr(device, "COMPILE_BACKEND", backend)
    torch._dynamo.reset()
    torch._dynamo.config.suppress_errors = suppress


def test_compiled_training_steps_through_dynamo_and_matches_eager(prepared, compile_backend):
    """train.compile=true: the training steps go through torch.compile (here its aot_eager
    backend, which traces forward and backward as inductor does without generating code)."""
    cfg, data = prepared
    spec = TreeSpec.pair("vowel", "pitch", 1, 2)
    traced = []

    def counting(gm, inputs):
        traced.append(gm)
        return torch._dynamo.backends.debugging.aot_eager(gm, inputs)

    compile_backend(counting)
    eager = train_job(job(cfg, data, spec, epochs=1), data)[0]
    fast = train_job(job(cfg, data, spec, epochs=1, compile=True), data)[0]
    assert traced, "the compiled path was not taken"
    assert fast.key != eager.key
    for task in spec.tasks:
        assert fast.val[task]["accuracy"] == pytest.approx(eager.val[task]["accuracy"], abs=0.05)


def test_compile_falls_back_to_eager_steps_where_torch_cannot_compile(prepared, compile_backend,
                                                                      monkeypatch):
    """A compiler that fails (as inductor does without a C++ compiler) and a Python without
    dynamo both leave an eager training with the eager result, not an error."""
    import torch._dynamo

    cfg, data = prepared
    spec = TreeSpec.single("pitch", 2)
    eager = train_job(job(cfg, data, spec, epochs=2), data)[0]

    def broken(gm, inputs):
        raise RuntimeError("no C++ compiler")

    compile_backend(broken)
    failed = train_job(job(cfg, data, spec, epochs=2, compile=True), data)[0]
    assert failed.val == eager.val and failed.test == eager.test
    monkeypatch.setattr(torch._dynamo, "is_dynamo_supported", lambda: False)
    with pytest.warns(UserWarning, match="not supported here"):
        unsupported = train_job(job(cfg, data, spec, epochs=2, compile=True), data)[0]
    assert unsupported.val == eager.val and unsupported.test == eager.test


def test_compiled_trainings_are_not_packed(prepared):
    from hmtl.training.packed import can_pack

    cfg, data = prepared
    spec = TreeSpec.single("pitch", 2)
    assert can_pack(job(cfg, data, spec)) and not can_pack(job(cfg, data, spec, compile=True))


def test_options_added_later_do_not_change_existing_job_keys(prepared):
    cfg, data = prepared
    spec = TreeSpec.single("pitch", 2)
    plain = job(cfg, data, spec)
    assert "precision" not in plain.identity()["train"]          # default: not hashed
    assert job(cfg, data, spec, precision="bf16").key != plain.key
    assert "compile" not in plain.identity()["train"]
    assert job(cfg, data, spec, compile=True).key != plain.key



class ScriptedTrainee:
    """A trainee of `fit` whose validation scores follow a script; its weights are the epoch."""
    size = 1

    def __init__(self, scores):
        self.scores, self.epoch = scores, 0

    def train_epoch(self, epoch):
        self.epoch = epoch
        return [0.0]

    def validate(self):
        return [self.scores[self.epoch - 1]]

    def snapshot(self, member):
        return self.epoch

    def restore(self, member, state):
        self.epoch = state


@pytest.mark.parametrize("selection, epochs_run, kept", [("half", 3, 1), ("all", 3, 1),
                                                         ("last", 6, 6)])
def test_fit_keeps_the_best_epoch_unless_selection_is_last(prepared, selection, epochs_run, kept):
    from hmtl.training.fit import fit

    cfg, _ = prepared
    train = type(cfg.train)(**{**cfg.train.__dict__, "epochs": 6, "patience": 2,
                               "selection": selection})
    trainee = ScriptedTrainee([0.9, 0.5, 0.4, 0.3, 0.2, 0.1])     # best at epoch 1
    [result] = fit(trainee, train)
    assert result.epochs == epochs_run and result.best_epoch == kept and trainee.epoch == kept


def test_selection_last_measures_on_every_validation_clip(prepared):
    """train.selection=last: no half picked anything, so all validation clips measure the
    model; the option is part of the job's identity."""
    cfg, data = prepared
    spec = TreeSpec.single("pitch", 2)
    last = job(cfg, data, spec, epochs=3, selection="last")
    record, _ = train_job(last, data)
    assert record.epochs == 3 and record.best_epoch == 3 and record.select is None
    assert record.val["pitch"]["n"] == data.indices("val").numel()
    half = train_job(job(cfg, data, spec, epochs=3, selection="half"), data)[0]
    assert half.val["pitch"]["n"] < record.val["pitch"]["n"]
    assert last.key != job(cfg, data, spec, epochs=3, selection="half").key
    assert last.key != job(cfg, data, spec, epochs=3, selection="all").key
