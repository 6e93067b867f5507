"""Every executor gives the same results as the serial reference (same threads per training),
packed training agrees with unpacked training, and device selection falls back to CPU."""

import json
import os
import signal
import threading
import time

import pytest
import torch

from hmtl.data.prepare import prepare_dataset
from hmtl.errors import HmtlError
from hmtl.executors import make_executor
from hmtl.models import TreeSpec
from hmtl.pipeline import run_pipeline
from hmtl.testing import tiny_config
from hmtl.training.device import resolve_device
from hmtl.training.job import TrainJob
from hmtl.training.plain import train_job
from hmtl.training.packed import shape_key, train_packed

TASKS = ("vowel", "pitch", "rhythm")


def comparable(results: dict) -> dict:
    r = json.loads(json.dumps(results))
    r.pop("run")
    r["search"].pop("seconds")
    return r


@pytest.fixture(scope="module")
def serial_reference(corpus, tmp_path_factory):
    cfg = tiny_config(corpus, tasks=TASKS)
    raw = run_pipeline(cfg, tmp_path_factory.mktemp("serial") / "run", verbose=False, threads=1)
    return cfg, comparable(raw)


@pytest.mark.slow
def test_executors_give_the_serial_results(serial_reference, tmp_path):
    pytest.importorskip("distributed")
    cfg, serial = serial_reference
    for spec in ("local:2", "dask-local:2"):
        raw = run_pipeline(cfg, tmp_path / spec.replace(":", "_"), executor=spec, verbose=False,
                           threads=1)
        assert raw["run"]["threads_per_training"] == [1], spec   # what made them comparable
        assert comparable(raw) == serial, spec
    records = list((tmp_path / "local_2" / "runs").glob("*/metrics.json"))
    assert records and all(json.loads(p.read_text())["threads"] == 1 for p in records)


@pytest.mark.slow
def test_a_dask_worker_killed_mid_sweep_changes_no_result(serial_reference, tmp_path):
    """SIGKILL a Dask worker while it trains: its unit goes to another worker (the nanny
    restarts the dead one) and the run ends with the uninterrupted run's results."""
    distributed = pytest.importorskip("distributed")
    cfg, serial = serial_reference
    runs = tmp_path / "dask" / "runs"
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=50)
    client = distributed.Client(cluster)
    killed: dict = {}

    def kill_a_busy_worker():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not killed:
            busy = [(w, keys) for w, keys in client.processing().items() if keys]
            if len(list(runs.glob("*/metrics.json"))) >= 2 and busy:
                worker, keys = busy[0]
                pid = client.run(os.getpid, workers=[worker])[worker]
                os.kill(pid, signal.SIGKILL)        # a training takes seconds: this one is in it
                killed.update(pid=pid, keys=keys)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    try:
        address = "dask://" + cluster.scheduler_address.split("://", 1)[1]     # as users write it
        raw = run_pipeline(cfg, tmp_path / "dask", executor=address,
                           verbose=False, threads=1)
    finally:
        killed.setdefault("done", True)
        killer.join()
        client.close()
        cluster.close()
    assert killed.get("pid") and killed["keys"], "no worker was killed while training"
    assert comparable(raw) == serial


@pytest.fixture(scope="module")
def prepared(corpus, tmp_path_factory):
    cfg = tiny_config(corpus, tasks=TASKS, overrides=["train.epochs=4"])
    return cfg, prepare_dataset(cfg, tmp_path_factory.mktemp("run") / "data")


@pytest.mark.parametrize("backbone, jitter", [("tc_cnn", 0.0), ("ds_cnn", 0.0), ("tc_cnn", 0.05)])
def test_packed_training_matches_unpacked(corpus, tmp_path, backbone, jitter):
    cfg = tiny_config(corpus, tasks=TASKS, overrides=["train.epochs=4", f"model.backbone={backbone}",
                                                      f"features.crop_jitter={jitter}"])
    data = prepare_dataset(cfg, tmp_path / "data")
    jobs = [TrainJob(TreeSpec.pair(a, b, 1, 2), seed, cfg.model, cfg.train, ((a, 1.0), (b, 1.0)),
                     data.key) for a, b in [("vowel", "pitch"), ("pitch", "rhythm")] for seed in (0, 1)]
    assert len({shape_key(j, data) for j in jobs}) == 1
    torch.set_num_threads(1)
    packed = train_packed(jobs, data)
    for job, (rec_p, state_p) in zip(jobs, packed):
        rec_u, state_u = train_job(job, data)
        assert set(state_p) == set(state_u)
        for task in job.spec.tasks:
            assert abs(rec_p.val[task]["accuracy"] - rec_u.val[task]["accuracy"]) <= 0.05
        # same initialisation and batches: the weights end up (nearly) the same
        diff = max((state_p[k].float() - state_u[k].float()).abs().max().item() for k in state_u)
        assert diff < 1e-2
        assert rec_p.params == rec_u.params and rec_p.packed == 4


def test_a_pack_drops_members_that_stopped_and_still_trains_the_rest_as_unpacked(corpus, tmp_path):
    """Early stopping inside a pack: stopped members leave it (so the pack's cost follows the
    members still training), and every member's epochs and weights are those of its job
    trained alone."""
    from hmtl.training.fit import fit
    from hmtl.training.packed import PackedTrainee

    cfg = tiny_config(corpus, tasks=TASKS, overrides=["train.epochs=12", "train.patience=1"])
    data = prepare_dataset(cfg, tmp_path / "data")
    jobs = [TrainJob(TreeSpec.pair(a, b, 1, 2), seed, cfg.model, cfg.train, ((a, 1.0), (b, 1.0)),
                     data.key) for a, b in [("vowel", "pitch"), ("pitch", "rhythm")]
            for seed in (0, 1, 2)]
    torch.set_num_threads(1)
    trainee = PackedTrainee(jobs, data)
    results = fit(trainee, cfg.train)
    epochs = [r.epochs for r in results]
    assert len(set(epochs)) > 1, "no member stopped before another: the test shows nothing"
    assert trainee.pack_sizes[0] == len(jobs) and trainee.pack_sizes[-1] < len(jobs)
    assert trainee.pack_sizes == sorted(trainee.pack_sizes, reverse=True)
    for job, (rec_p, state_p) in zip(jobs, train_packed(jobs, data)):
        rec_u, state_u = train_job(job, data)
        assert rec_p.epochs == rec_u.epochs and rec_p.best_epoch == rec_u.best_epoch
        diff = max((state_p[k].float() - state_u[k].float()).abs().max().item() for k in state_u)
        assert diff < 1e-2


def test_optimizer_state_of_a_shrunk_pack_is_each_remaining_members_own():
    """When the member with the most classes leaves, the packed heads narrow: each remaining
    member keeps exactly its own rows of optimizer state."""
    from torch import nn

    from hmtl.training.packed import _member_rows
    from hmtl.training.packing import PackedConv, PackedHeads

    heads = [nn.Linear(5, n) for n in (4, 6, 3)]
    old, new = PackedHeads(heads), PackedHeads([heads[0], heads[2]])
    rows = torch.tensor([0, 2])
    state = torch.arange(old.weight.numel(), dtype=torch.float32).view(old.weight.shape)
    kept = _member_rows(state, old.weight, new.weight, 3, rows)
    assert kept.shape == new.weight.shape == (2, 4, 5)
    assert torch.equal(kept[0], state[0, :4]) and torch.equal(kept[1], state[2, :4])
    convs = [nn.Conv1d(2, 3, 5, bias=False) for _ in range(3)]
    old_c, new_c = PackedConv(convs), PackedConv([convs[1]])
    state = torch.randn(old_c.weight.shape)
    assert torch.equal(_member_rows(state, old_c.weight, new_c.weight, 3, torch.tensor([1])),
                       state[3:6])
    assert torch.equal(_member_rows(torch.tensor(7.0), old_c.weight, new_c.weight, 3,
                                    torch.tensor([1])), torch.tensor(7.0))      # the step


def test_single_task_models_of_different_class_counts_pack(prepared):
    cfg, data = prepared
    jobs = [TrainJob(TreeSpec.single(t, 2), 0, cfg.model, cfg.train, ((t, 1.0),), data.key)
            for t in TASKS]
    assert len({shape_key(j, data) for j in jobs}) == 1
    for job, (record, state) in zip(jobs, train_packed(jobs, data)):
        t = job.spec.tasks[0]
        assert state[f"heads.{t}.weight"].shape[0] == data.num_classes(t)
        assert 0 <= record.val[t]["accuracy"] <= 1


def test_packed_executor_in_the_pipeline(corpus, tmp_path):
    cfg = tiny_config(corpus, tasks=TASKS)
    r = run_pipeline(cfg, tmp_path / "p", executor="packed", verbose=False)
    assert set(r["methods"]) == {"independent", "flat", "hierarchical"}
    assert r["run"]["executor"] == "packed"


class _Handle:
    """What Executor.units needs of a RunHandle: the dataset."""

    def __init__(self, data):
        self.data = data

    def dataset(self, key):
        return self.data


def test_any_executor_packs_with_a_plus_packed_suffix_spread_over_its_workers(prepared):
    cfg, data = prepared
    jobs = [TrainJob(TreeSpec.single("vowel", 2), seed, cfg.model, cfg.train, (("vowel", 1.0),),
                     data.key) for seed in range(10)]
    pool = make_executor("local:2+packed:8")
    assert (pool.name, pool.pack, pool.workers) == ("local+packed", 8, 2)
    assert sorted(len(u) for u in pool.units(jobs, _Handle(data))) == [5, 5]  # not 8 + 2
    serial = make_executor("serial+packed")
    assert (serial.name, serial.pack) == ("serial+packed", 64)
    assert [len(u) for u in serial.units(jobs, _Handle(data))] == [10]
    assert [len(u) for u in make_executor("local:2").units(jobs, _Handle(data))] == [1] * 10
    pool.close()


@pytest.mark.parametrize("spec", ["local:2+packed:0", "local:2+packedx", "local:2+packed:",
                                  "local:2+packed8"])
def test_bad_packed_suffix(spec):
    with pytest.raises(HmtlError, match=r"\+packed:K"):
        make_executor(spec)


@pytest.mark.slow
def test_a_pool_of_packing_workers_runs_the_pipeline(corpus, tmp_path):
    cfg = tiny_config(corpus, tasks=TASKS)
    r = run_pipeline(cfg, tmp_path / "p", executor="local:2+packed", verbose=False)
    assert set(r["methods"]) == {"independent", "flat", "hierarchical"}
    assert r["run"]["executor"] == "local+packed"
    packed = [json.loads(p.read_text()).get("packed") or 1
              for p in (tmp_path / "p" / "runs").glob("*/metrics.json")]
    assert max(packed) > 1 and len(packed) == r["run"]["trained_now"]


def test_device_selection_falls_back_to_cpu():
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device("auto").type == "cpu"
        assert resolve_device("cuda").type == "cpu"
        assert resolve_device("cuda:1").type == "cpu"


@pytest.mark.parametrize("spec", ["threads", "local:x", "dask-local:"])
def test_bad_executor_spec(spec):
    with pytest.raises(HmtlError, match="expected serial, local:N"):
        make_executor(spec)


def test_packed_training_matches_unpacked_for_every_task_type(corpus, tmp_path):
    # one task of each type: packing uses the task types' own losses and metrics
    tasks = [{"name": "vowel"},
             {"name": "f0", "type": "regression", "tolerance": 5.0},
             {"name": "voice", "type": "verification", "column": "pitch", "embedding_dim": 8,
              "trials": 200}]
    cfg = tiny_config(corpus, tasks=tasks, overrides=["train.epochs=3"])
    data = prepare_dataset(cfg, tmp_path / "data")
    names = ("vowel", "f0", "voice")
    jobs = [TrainJob(TreeSpec.flat(names, 2), seed, cfg.model, cfg.train,
                     tuple((t, 1.0) for t in names), data.key) for seed in (0, 1)]
    assert len({shape_key(j, data) for j in jobs}) == 1
    torch.set_num_threads(1)
    for job, (rec_p, state_p) in zip(jobs, train_packed(jobs, data)):
        rec_u, state_u = train_job(job, data)
        assert set(state_p) == set(state_u) and rec_p.packed == 2
        assert abs(rec_p.val["vowel"]["accuracy"] - rec_u.val["vowel"]["accuracy"]) <= 0.05
        assert rec_p.val["f0"]["mae"] == pytest.approx(rec_u.val["f0"]["mae"], rel=0.05)
        assert abs(rec_p.val["voice"]["eer"] - rec_u.val["voice"]["eer"]) <= 0.05
        assert rec_p.best_epoch == rec_u.best_epoch
        diff = max((state_p[k].float() - state_u[k].float()).abs().max().item() for k in state_u)
        assert diff < 1e-2


ORPHAN_PARENT = """
import multiprocessing as mp, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from hmtl.executors.local import _init_worker

if __name__ == "__main__":
    ctx = mp.get_context("spawn")
    pool = ProcessPoolExecutor(1, mp_context=ctx, initializer=_init_worker,
                               initargs=(ctx.Value("i", 0), 0))
    print(pool.submit(os.getpid).result(), flush=True)
    pool.submit(time.sleep, 120)              # a "training" that outlives its parent
    time.sleep(120)
"""


def test_a_worker_exits_when_its_run_is_killed(tmp_path):
    """kill -9 on `hmtl run` must not leave local:N workers training for nobody."""
    import subprocess
    import sys

    script = tmp_path / "parent.py"
    script.write_text(ORPHAN_PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(worker, signal.SIGKILL)
    pytest.fail(f"worker {worker} still alive 20 s after its parent was killed")
