"""The run configuration's schema: one dataclass per section, every key with its default and a
help string, each section validating itself with one-line errors that name the key.

Everything that makes one run differ from another lives here, so that a run folder can be named
by the hash of its resolved configuration and a finished stage is never recomputed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import HmtlError


def _help(text: str, **kw) -> Any:
    return field(metadata={"help": text}, **kw)


@dataclass
class TaskConfig:
    name: str = _help("task name, used in results and model outputs")
    type: Literal["classification", "regression", "verification"] = _help(
        "classification (accuracy), regression (MAE in the label's unit, e.g. age in years) or "
        "verification (an embedding scored by EER on trial pairs)", default="classification")
    column: str | None = _help("manifest column holding the label (default: the name)", default=None)
    weight: float = _help("weight of this task's loss in joint training", default=1.0)
    tolerance: float | None = _help(
        "compatibility tolerance in the primary metric's unit (accuracy or EER: a fraction, 0.01 "
        "= 1 point; regression: the label's unit, required). Default: search.tolerance",
        default=None)
    loss: Literal["l1", "mse"] = _help("regression loss on the standardised target", default="l1")
    embedding_dim: int = _help("verification: size of the embedding", default=64)
    margin: float = _help("verification: additive cosine margin of the training loss", default=0.2)
    scale: float = _help("verification: logit scale of the training loss", default=30.0)
    trials: int = _help("verification: trial pairs per evaluation split (half same-identity)",
                        default=4000)

    def validate(self, where: str) -> None:
        if not self.name:
            raise HmtlError(f"{where}.name: a task needs a name")
        if self.weight <= 0:
            raise HmtlError(f"{where}.weight: must be > 0, got {self.weight}")
        if self.tolerance is not None and self.tolerance < 0:
            raise HmtlError(f"{where}.tolerance: must be >= 0, got {self.tolerance}")
        if self.type == "regression" and self.tolerance is None:
            raise HmtlError(f"{where}.tolerance: a regression task needs its own tolerance in the "
                            f"label's unit (e.g. 1.0 for one year of MAE)")
        if self.embedding_dim < 1 or self.trials < 2 or self.scale <= 0 or self.margin < 0:
            raise HmtlError(f"{where}: embedding_dim >= 1, trials >= 2, scale > 0, margin >= 0")

    @property
    def label_column(self) -> str:
        return self.column or self.name


@dataclass
class DataConfig:
    manifest: str = _help("CSV manifest (relative to the config file or absolute)", default="")
    tasks: list[TaskConfig] = _help("tasks: names, or mappings with name/type/column/weight",
                                    default_factory=list)
    split_ratios: list[float] = _help("train/val/test fractions when the manifest has no split column",
                                      default_factory=lambda: [0.7, 0.15, 0.15])
    split_seed: int = _help("seed of the random split", default=0)
    splits: int = _help(
        "run the whole method on this many splits (seeds split_seed, split_seed+1, ...) and "
        "combine them: results over splits × seeds, paired comparisons by (split, seed) with "
        "the split as the unit, so 4-5 splits to show a difference (each split is its own "
        "resumable run folder, OUT/split-i)", default=1)
    split_by: Literal["stratified", "group"] = _help(
        "stratified random split, or group-disjoint by the manifest's group column", default="stratified")
    stratify_by: str | None = _help("task whose classes the split stratifies (default: first task)",
                                    default=None)
    on_bad_audio: Literal["error", "skip"] = _help("stop on an unreadable clip, or leave it out",
                                                   default="error")

    def validate(self, where: str) -> None:
        if not self.tasks:
            raise HmtlError(f"{where}.tasks: at least one task is needed")
        names = [t.name for t in self.tasks]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise HmtlError(f"{where}.tasks: duplicate task name(s) {sorted(dup)}")
        for i, t in enumerate(self.tasks):
            t.validate(f"{where}.tasks[{i}]")
        if len(self.split_ratios) != 3 or any(r < 0 for r in self.split_ratios) \
                or abs(sum(self.split_ratios) - 1.0) > 1e-6 or self.split_ratios[0] <= 0:
            raise HmtlError(f"{where}.split_ratios: three non-negative fractions summing to 1 "
                            f"with train > 0, got {self.split_ratios}")
        if self.splits < 1:
            raise HmtlError(f"{where}.splits: must be >= 1, got {self.splits}")
        if self.stratify_by is not None and self.stratify_by not in names:
            raise HmtlError(f"{where}.stratify_by: '{self.stratify_by}' is not a task ({names})")


@dataclass
class FeatureConfig:
    kind: Literal["logmel", "mfcc"] = _help("front end", default="logmel")
    sample_rate: int = _help("audio is resampled to this rate (Hz)", default=16000)
    duration: float = _help("clips are cropped or zero-padded to this many seconds", default=3.0)
    crop: Literal["center", "start"] = _help("which part of a longer clip is kept", default="center")
    n_fft: int = _help("FFT size", default=512)
    win_length: int = _help("window length in samples", default=400)
    hop_length: int = _help("hop in samples", default=160)
    n_mels: int = _help("mel bands", default=64)
    n_mfcc: int = _help("cepstral coefficients (kind=mfcc)", default=40)
    fmin: float = _help("lowest mel frequency (Hz)", default=20.0)
    fmax: float | None = _help("highest mel frequency (Hz; default: Nyquist)", default=None)
    crop_jitter: float = _help("training sees random windows up to this many seconds off the "
                               "centre (0: always the centre)", default=0.0)

    def validate(self, where: str) -> None:
        for key in ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels", "n_mfcc"):
            if getattr(self, key) <= 0:
                raise HmtlError(f"{where}.{key}: must be > 0, got {getattr(self, key)}")
        if self.duration <= 0:
            raise HmtlError(f"{where}.duration: must be > 0, got {self.duration}")
        if self.crop_jitter < 0:
            raise HmtlError(f"{where}.crop_jitter: must be >= 0, got {self.crop_jitter}")
        if self.win_length > self.n_fft:
            raise HmtlError(f"{where}.win_length: must be <= n_fft ({self.n_fft}), got {self.win_length}")
        nyquist = self.sample_rate / 2
        if self.fmax is not None and not (self.fmin < self.fmax <= nyquist):
            raise HmtlError(f"{where}.fmax: must be in (fmin, {nyquist}], got {self.fmax}")
        if self.kind == "mfcc" and self.n_mfcc > self.n_mels:
            raise HmtlError(f"{where}.n_mfcc: must be <= n_mels ({self.n_mels}), got {self.n_mfcc}")

    @property
    def num_samples(self) -> int:
        return int(round(self.duration * self.sample_rate))

    @property
    def num_frames(self) -> int:
        """Frames the models see (centre-padded STFT)."""
        return self.num_samples // self.hop_length + 1

    @property
    def stored_samples(self) -> int:
        """Samples kept per clip: the model window plus the jitter on both sides."""
        jitter = int(round(self.crop_jitter * self.sample_rate)) // self.hop_length * self.hop_length
        return self.num_samples + 2 * jitter

    @property
    def stored_frames(self) -> int:
        return self.stored_samples // self.hop_length + 1

    @property
    def channels(self) -> int:
        return self.n_mfcc if self.kind == "mfcc" else self.n_mels


@dataclass
class ModelConfig:
    backbone: str = _help("registered backbone (tc_cnn, ds_cnn)", default="tc_cnn")
    blocks: int = _help("number of blocks L: the depths at which tasks can branch", default=4)
    width: int = _help("channels of every block (unless widths is given)", default=64)
    widths: list[int] | None = _help("channels per block, one per block", default=None)
    kernel_size: int = _help("kernel size of the block convolutions", default=5)
    dropout: float = _help("dropout before each task head", default=0.1)
    args: dict[str, Any] = _help(
        "extra settings for the backbone, read by its class as self.args (your own backbone's "
        "options; part of every training's identity)", default_factory=dict)
    imports: list[str] = _help(
        "Python modules (my_pkg.backbones) or .py files (relative to the config file) imported "
        "before the backbone is looked up: where your own @register_backbone classes live",
        default_factory=list)

    def validate(self, where: str) -> None:
        if self.blocks < 1:
            raise HmtlError(f"{where}.blocks: must be >= 1, got {self.blocks}")
        if self.width < 1:
            raise HmtlError(f"{where}.width: must be >= 1, got {self.width}")
        if self.widths is not None and (len(self.widths) != self.blocks or min(self.widths) < 1):
            raise HmtlError(f"{where}.widths: need {self.blocks} positive widths, got {self.widths}")
        if self.kernel_size < 1:
            raise HmtlError(f"{where}.kernel_size: must be >= 1, got {self.kernel_size}")
        if not 0 <= self.dropout < 1:
            raise HmtlError(f"{where}.dropout: must be in [0, 1), got {self.dropout}")

    @property
    def block_widths(self) -> list[int]:
        return list(self.widths) if self.widths is not None else [self.width] * self.blocks


@dataclass
class TrainConfig:
    epochs: int = _help("maximum epochs", default=40)
    batch_size: int = _help("clips per step", default=64)
    lr: float = _help("peak learning rate of AdamW", default=3e-3)
    weight_decay: float = _help("AdamW weight decay", default=1e-2)
    schedule: Literal["cosine", "step", "constant"] = _help("learning-rate schedule", default="cosine")
    warmup_epochs: float = _help("linear warm-up (cosine schedule)", default=1.0)
    step_epochs: int = _help("step schedule: decay every this many epochs", default=15)
    step_gamma: float = _help("step schedule: decay factor", default=0.3)
    patience: int = _help("early stopping: epochs without a better validation score", default=10)
    grad_clip: float = _help("gradient norm clip (0: off)", default=5.0)
    selection: Literal["half", "all", "last"] = _help(
        "validation clips that pick a training's best epoch: half of them (the other half then "
        "measures every drop without that selection's bias), all (the same clips pick the "
        "epoch and measure it), or last (no epoch is picked: every training runs train.epochs "
        "epochs, no early stopping, and keeps the last; all validation clips measure it)",
        default="half")
    device: str = _help("cpu, cuda, cuda:N or auto (a GPU when there is one, else the CPU); "
                        "where a training runs, not part of its identity", default="auto")
    precision: Literal["fp32", "bf16"] = _help("bf16 autocast on CUDA (fp32 elsewhere)",
                                               default="fp32")
    compile: bool = _help(
        "torch.compile (inductor) the model of each training in the plain loop (LT4REC's "
        "own loop stays eager); off by default: on 2 CPU cores "
        "compiling took 53 s for a 1.3x faster step, which pays only for long trainings. Where "
        "torch cannot compile (no dynamo on this Python, no C++ compiler) the training runs "
        "eagerly with a warning. Compiled trainings are not packed, and the switch is part of a "
        "training's identity: fused kernels round differently", default=False)
    cuda_graphs: bool = _help("packed training on CUDA replays each step from a CUDA graph "
                              "(false: eager steps, e.g. to rule graphs out)", default=True)
    logger: Literal["none", "csv", "tensorboard"] = _help(
        "per-epoch loss and validation score of every training, written when it finishes: csv "
        "(RUN/logs/*.csv) or tensorboard (RUN/logs/tensorboard, needs the tensorboard package); "
        "not part of a training's identity", default="none")

    def validate(self, where: str) -> None:
        for key in ("epochs", "batch_size"):
            if getattr(self, key) < 1:
                raise HmtlError(f"{where}.{key}: must be >= 1, got {getattr(self, key)}")
        if self.lr <= 0:
            raise HmtlError(f"{where}.lr: must be > 0, got {self.lr}")
        for key in ("weight_decay", "warmup_epochs", "grad_clip"):
            if getattr(self, key) < 0:
                raise HmtlError(f"{where}.{key}: must be >= 0, got {getattr(self, key)}")
        if self.patience < 1:
            raise HmtlError(f"{where}.patience: must be >= 1, got {self.patience}")
        if self.step_epochs < 1 or not 0 < self.step_gamma <= 1:
            raise HmtlError(f"{where}.step_epochs/step_gamma: need step_epochs >= 1 and 0 < gamma <= 1")
        if not (self.device in ("cpu", "cuda", "auto") or self.device.startswith("cuda:")):
            raise HmtlError(f"{where}.device: cpu, cuda, cuda:N or auto, got '{self.device}'")


@dataclass
class SearchConfig:
    seeds: int = _help("seeds r per model (stage 1, sweep, final)", default=3)
    tolerance: float = _help("compatibility tolerance τ on the validation metric (0.01 = 1 point)",
                             default=0.01)
    noise_z: float = _help(
        "noise-aware rule: a task is incompatible only when its drop exceeds τ + z·SE, SE the "
        "standard error of its seed-paired drop over seeds and decision clips (0: τ alone)",
        default=1.0)
    sweep: Literal["upward", "binary", "exhaustive"] = _help(
        "order of a pair's depths: upward with early exit at the first incompatible depth, "
        "binary search for the compatibility depth (both exact if compatibility is a prefix "
        "property), or every depth", default="upward")
    warm_start: bool = _help("pair models start from the stage-1 weights (shared blocks from "
                             "the pair's first task) and train for warm_epochs", default=False)
    warm_epochs: int | None = _help("epochs of a warm-started pair model (default: a quarter "
                                    "of train.epochs)", default=None)
    prescreen: float | None = _help(
        "RSA pre-screening: at each depth, train only this fraction of the pairs, those whose "
        "stage-1 representations after that block are most alike (Spearman affinity of their "
        "dissimilarity matrices over baselines.rsa_clips validation clips); the others are taken "
        "as incompatible there without training (null: off)", default=None)
    budget_params: int | None = _help(
        "instead of the tolerance's tree, train the tree of lowest predicted drop with at most "
        "this many params (predicted from stage 2's per-depth pair drops)", default=None)
    budgets: list[float] = _help(
        "also train, for each budget, the tree of lowest predicted drop within it: a value <= 1 "
        "is a fraction of the independent set's params (0.44: 56 % fewer), above 1 a number of "
        "params; one sweep serves them all", default_factory=list)
    budget_candidates: int = _help(
        "choose each budget's tree (search.budgets, search.budget_params) on validation instead "
        "of by prediction alone: the predicted tree and this many - 1 others of exactly its size, "
        "drawn at random, are trained on seeds no compared model uses and the lowest mean "
        "validation drop wins (1: the predicted tree)", default=1)
    candidate_seeds: int = _help("seeds each budget candidate is trained with", default=1)
    stability: int = _help(
        "repeat stages 1-2 this many times with fresh seeds and report how often the same "
        "compatibility depths and the same tree come back (each repeat costs a whole search)",
        default=0)
    repair_rounds: int = _help("times a task that drops too much is detached one depth earlier",
                               default=0)
    final_tolerance: float | None = _help("drop allowed in the final tree before repair "
                                          "(default: tolerance)", default=None)

    def validate(self, where: str) -> None:
        if self.seeds < 1:
            raise HmtlError(f"{where}.seeds: must be >= 1, got {self.seeds}")
        if self.tolerance < 0 or self.noise_z < 0:
            raise HmtlError(f"{where}.tolerance/noise_z: must be >= 0")
        if self.stability < 0:
            raise HmtlError(f"{where}.stability: must be >= 0, got {self.stability}")
        if self.repair_rounds < 0:
            raise HmtlError(f"{where}.repair_rounds: must be >= 0, got {self.repair_rounds}")
        if self.final_tolerance is not None and self.final_tolerance < 0:
            raise HmtlError(f"{where}.final_tolerance: must be >= 0, got {self.final_tolerance}")
        if self.budget_params is not None and self.budget_params < 1:
            raise HmtlError(f"{where}.budget_params: must be >= 1, got {self.budget_params}")
        if any(b <= 0 for b in self.budgets):
            raise HmtlError(f"{where}.budgets: every budget must be > 0, got {self.budgets}")
        if self.budget_candidates < 1 or self.candidate_seeds < 1:
            raise HmtlError(f"{where}.budget_candidates/candidate_seeds: must be >= 1, got "
                            f"{self.budget_candidates}/{self.candidate_seeds}")
        if self.warm_epochs is not None and self.warm_epochs < 1:
            raise HmtlError(f"{where}.warm_epochs: must be >= 1, got {self.warm_epochs}")
        if self.prescreen is not None and not 0 < self.prescreen <= 1:
            raise HmtlError(f"{where}.prescreen: a fraction in (0, 1], got {self.prescreen}")


@dataclass
class BaselinesConfig:
    pruning_rate: float = _help("LTH/LT4REC: fraction of the remaining prunable weights removed per "
                                "pruning round", default=0.2)
    rewind_epoch: int = _help("LTH/LT4REC: rewind pruned models to the weights after this epoch of "
                              "dense training (0: to the initial weights)", default=0)
    prune_heads: bool = _help("LTH/LT4REC: prune the task heads too (default: only the blocks' "
                              "convolutions)", default=False)
    target_params: int | None = _help("non-zero (LTH, LT4REC) or trainable (branched, random_tree, "
                                      "flat_matched) parameters to match (default: the "
                                      "hierarchical model's)", default=None)
    lt4rec_base_params: int | None = _help(
        "LT4REC: dense params of the shared network the task masks are pruned from: the flat "
        "network widened to this size (default: the independent set's size, so pruning to the "
        "target has something to remove)", default=None)
    rsa_clips: int = _help("branched: validation clips whose representations give the task "
                           "affinities", default=100)
    at_budgets: list[str] = _help(
        "size-matched baselines retrained at each search.budgets tree's size (those the run's "
        "methods list)", default_factory=lambda: ["random_tree", "flat_matched", "branched", "lth"])
    random_draws: int = _help(
        "random_tree: trees of the searched tree's exact size trained as its null distribution "
        "(all of them when there are fewer)", default=20)

    def validate(self, where: str) -> None:
        if not 0 < self.pruning_rate < 1:
            raise HmtlError(f"{where}.pruning_rate: must be in (0, 1), got {self.pruning_rate}")
        if self.rewind_epoch < 0:
            raise HmtlError(f"{where}.rewind_epoch: must be >= 0, got {self.rewind_epoch}")
        if self.target_params is not None and self.target_params < 1:
            raise HmtlError(f"{where}.target_params: must be >= 1, got {self.target_params}")
        if self.lt4rec_base_params is not None and self.lt4rec_base_params < 1:
            raise HmtlError(f"{where}.lt4rec_base_params: must be >= 1, got {self.lt4rec_base_params}")
        if self.rsa_clips < 3:
            raise HmtlError(f"{where}.rsa_clips: must be >= 3, got {self.rsa_clips}")
        if self.random_draws < 1:
            raise HmtlError(f"{where}.random_draws: must be >= 1, got {self.random_draws}")


DEFAULT_METHODS = ("independent", "flat", "hierarchical")


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    baselines: BaselinesConfig = field(default_factory=BaselinesConfig)
    methods: list[str] = _help("methods compared in results (registered methods; hmtl.pipeline "
                               "checks the names)",
                               default_factory=lambda: list(DEFAULT_METHODS))

    def validate(self, where: str = "config") -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if hasattr(value, "validate"):
                value.validate(f"{where}.{f.name}" if where else f.name)

    @property
    def task_names(self) -> list[str]:
        return [t.name for t in self.data.tasks]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
