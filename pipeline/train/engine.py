"""The population training engine: many same-architecture networks trained in one process.

The members' parameters are stacked along a leading member axis and one forward pass over a
shared minibatch computes every member (:func:`.forward.population_forward`). Each member has its
own learning rate, momentum, weight decay, initialization and label noise; the optimizers are per
member (:mod:`.optim`).

Few ops per step (each costs ~10-25 us of host time on a GPU, whatever its size): every
parameter, gradient and optimizer slot is a view into one flat member-major buffer
``[member, numel]`` per population, so the divergence check and the optimizer update are a
handful of ops whatever the number of parameter tensors; a step never waits for the device (no
``bool(tensor)``/``.item()``: which members diverged is computed on the device and read at the
epoch's end); BatchNorm buffers (two flat buffers too) are saved and restored only where there
are any; augmentation offsets are drawn on the device.

This module does no file I/O: a trainer reports snapshots, epoch metrics and its resumable state
through callbacks, and ``pipeline.zoo`` connects those to the store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..data import Dataset
from .forward import evaluate_members, matmul_precision, member_losses, population_forward
from .optim import flat_update, optimizer_slots
from .settings import Member, TrainingSettings

log = logging.getLogger(__name__)


def select_device(name: str) -> torch.device:
    """``auto`` gives CUDA when present, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "the device is 'cuda' (the sweep's device, or compute.device) but this host has no CUDA device: "
            "the job did not get the GPU it asked for; it stops rather than train on the CPU"
        )
    return torch.device(name)


def _seed_of(*parts: int) -> int:
    # Derive independent streams from (seed, purpose, index) so that resuming at any step, or
    # changing who else is in the population, never shifts a random draw.
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0] >> 1)


def _seeded(*parts: int) -> torch.Generator:
    return torch.Generator().manual_seed(_seed_of(*parts))


_PURPOSE_ORDER, _PURPOSE_AUGMENT, _PURPOSE_LABELS = 1, 2, 3


def member_targets(data: Dataset, members: Sequence[Member], seed: int) -> torch.Tensor:
    """Training targets per member ``[member, n]``, with each member's label noise applied.

    The noisy labels depend on the population's ``seed`` and the member's ``init_seed`` and
    ``label_noise`` only, so a network retrained or evaluated later sees the labels it was
    trained on (the memorization networks' random labels)."""
    y = data.y_train
    rows = []
    for mb in members:
        row = y.clone()
        if mb.label_noise > 0:
            if data.task != "classification":
                raise ValueError("label_noise applies to classification datasets only")
            gen = _seeded(seed, _PURPOSE_LABELS, mb.init_seed, round(mb.label_noise * 1e6))
            n_noisy = int(round(mb.label_noise * len(y)))
            chosen = torch.randperm(len(y), generator=gen)[:n_noisy]
            row[chosen] = torch.randint(0, data.num_classes, (n_noisy,), generator=gen)
        rows.append(row)
    return torch.stack(rows)


@dataclass
class EpochAccumulator:
    loss_sum: torch.Tensor
    correct: torch.Tensor
    count: int = 0


class PopulationTrainer:
    """Trains a stacked population; see the module docstring.

    Parameters
    ----------
    base, params, buffers
        From :mod:`pipeline.train.init` (a template network and stacked ``[member, *shape]`` tensors).
    members : sequence of Member
    data : Dataset
    settings : TrainingSettings
    device : torch.device
    """

    def __init__(
        self,
        base: torch.nn.Module,
        params: Mapping[str, torch.Tensor],
        buffers: Mapping[str, torch.Tensor],
        members: Sequence[Member],
        data: Dataset,
        settings: TrainingSettings,
        device: torch.device | str = "cpu",
    ):
        self.device = torch.device(device)
        self.base = base
        self.members = list(members)
        self.settings = settings
        self.data = data
        self.classification = data.task == "classification"
        # channels-last image batches suit CUDA's convolution kernels (layout only, not arithmetic)
        self.channels_last = self.device.type == "cuda"
        m = len(self.members)
        to = dict(device=self.device)
        self._init_storage(params, buffers, m)
        self.x_train = data.x_train.to(**to)
        self.x_test = data.x_test.to(**to)
        self.y_test = data.y_test.to(**to)
        self.y_train = self._member_labels().to(**to)
        self.lr = torch.tensor([mb.lr for mb in self.members], dtype=torch.float32, **to)
        self.momentum = torch.tensor([mb.momentum for mb in self.members], dtype=torch.float32, **to)
        self.weight_decay = torch.tensor([mb.weight_decay for mb in self.members], dtype=torch.float32, **to)
        self._flat_opt = {slot: torch.zeros_like(self._flat) for slot in optimizer_slots(settings.optimizer)}
        # {slot: {name: view}}: the names a resumable state records
        self.opt = {slot: self._views(flat) for slot, flat in self._flat_opt.items()}
        self.active = torch.ones(m, dtype=torch.bool, **to)
        self.diverged_at = torch.full((m,), -1, dtype=torch.int64, **to)
        self._logged_divergence: set[int] = set()
        self._step_tensor = torch.zeros((), dtype=torch.int64, **to)
        self._lr_factor = torch.ones((), dtype=torch.float32, **to)
        self._generators: dict[torch.device, torch.Generator] = {}
        # the step at which each member first reached each training-accuracy threshold (-1: not yet)
        self.threshold_step = np.full((m, len(settings.thresholds)), -1, dtype=np.int64)
        self.threshold_accuracy = np.full((m, len(settings.thresholds)), np.nan)
        self.step = 0
        self.acc = self._new_accumulator()
        self.n_train = len(self.x_train)
        self.steps_per_epoch = settings.steps_per_epoch(self.n_train)
        self.total_steps = settings.epochs * self.steps_per_epoch
        self.snapshot_steps = settings.snapshot_steps(self.n_train)
        self._forward_all = population_forward(base, self.device, precision=settings.precision)

    # --------------------------------------------------------------- storage
    def _init_storage(self, params: Mapping[str, torch.Tensor], buffers: Mapping[str, torch.Tensor], m: int) -> None:
        """Parameters as views ``[member, *shape]`` into one flat member-major buffer ``[member, numel]``
        (their gradients likewise), and buffers as contiguous blocks of one flat buffer per dtype.

        Member-major: each member's hyperparameters broadcast as ``[member, 1]`` over the flat
        buffers. The parameters are leaves of their own (views of a buffer that does not require
        grad); a step concatenates their gradients into the flat gradient. A BatchNorm's running
        statistics must be contiguous ``[member, C]`` (the folded forward updates them as one
        ``[member * C]`` vector), hence the parameter-major blocks there.
        """
        to = dict(device=self.device)
        self._layout = {k: tuple(v.shape[1:]) for k, v in params.items()}
        self._flat = torch.cat([v.detach().to(**to).reshape(m, -1) for v in params.values()], 1) if params else torch.zeros(m, 0, **to)
        self._flat_grad = torch.zeros_like(self._flat)
        self.params = {k: v.requires_grad_(True) for k, v in self._views(self._flat).items()}
        self._param_list = list(self.params.values())
        # buffers: one flat buffer per dtype (BatchNorm: float32 statistics, int64 batch counts)
        self._flat_buffers: dict[torch.dtype, torch.Tensor] = {}
        self._buffer_members: dict[torch.dtype, torch.Tensor] = {}
        self.buffers = {}
        for dtype in dict.fromkeys(v.dtype for v in buffers.values()):
            names = [k for k, v in buffers.items() if v.dtype == dtype]
            flat = torch.cat([buffers[k].detach().to(**to).reshape(-1) for k in names])
            offset = 0
            for k in names:
                n = buffers[k].numel()
                self.buffers[k] = flat[offset : offset + n].view(buffers[k].shape)
                offset += n
            self._flat_buffers[dtype] = flat
            # each element's member: to restore frozen members' statistics with one torch.where
            self._buffer_members[dtype] = torch.cat(
                [torch.arange(m, **to).repeat_interleave(buffers[k][0].numel()) for k in names]
            )
        self.buffers = {k: self.buffers[k] for k in buffers}

    def _views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{name: [member, *shape]}`` views into a flat ``[member, numel]`` buffer."""
        views, offset = {}, 0
        for k, shape in self._layout.items():
            n = int(np.prod(shape, dtype=np.int64))
            views[k] = flat[:, offset : offset + n].view(flat.shape[0], *shape)
            offset += n
        return views

    # ------------------------------------------------------------------ data
    def _member_labels(self) -> torch.Tensor:
        return member_targets(self.data, self.members, self.settings.seed)

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        return torch.randperm(self.n_train, generator=_seeded(self.settings.seed, _PURPOSE_ORDER, epoch))

    def _augment(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """Random crop (zero padding H/8) and horizontal flip, drawn from a per-step stream.

        The draws come from a generator on ``x``'s device seeded with ``(seed, step)``: nothing
        crosses from the host but the seed, and a resumed run draws what an uninterrupted one
        did. (On CPU the same draws as before; a CUDA generator draws other numbers from the
        same seed, deterministically.)
        """
        if x.dim() != 4:
            return x
        gen = self._generators.get(x.device)
        if gen is None:
            gen = self._generators[x.device] = torch.Generator(device=x.device)
        gen.manual_seed(_seed_of(self.settings.seed, _PURPOSE_AUGMENT, step))
        b, _, h, w = x.shape
        pad = max(1, h // 8)
        to = dict(device=x.device)
        dy = torch.randint(0, 2 * pad + 1, (b, 1), generator=gen, **to)
        dx = torch.randint(0, 2 * pad + 1, (b, 1), generator=gen, **to)
        flip = torch.rand(b, 1, generator=gen, **to) < 0.5
        padded = F.pad(x, (pad, pad, pad, pad))
        rows = dy + torch.arange(h, **to)
        # a flipped crop reads its columns right to left
        cols = dx + torch.where(flip, torch.arange(w - 1, -1, -1, **to), torch.arange(w, **to))
        batch = torch.arange(b, **to)[:, None, None]
        return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()

    def _new_accumulator(self) -> EpochAccumulator:
        m = len(self.members)
        return EpochAccumulator(
            torch.zeros(m, dtype=torch.float64, device=self.device),
            torch.zeros(m, dtype=torch.int64, device=self.device),
        )

    # ------------------------------------------------------------------ step
    def _train_step(self, x: torch.Tensor, y: torch.Tensor, lr_factor: float) -> None:
        """One optimizer step of every member, without waiting for the device.

        A member whose loss or gradient is not finite is frozen at this step (``diverged_at``),
        on the device: its gradient is zeroed, its learning rate is 0 from now on and its
        BatchNorm statistics are put back; :meth:`_log_divergence` reports it later.

        The step's number and learning-rate factor reach the device as tensors filled here, so
        that :meth:`_device_step` reads no Python number that changes between steps: the same
        ops on the same tensors every step (for a given batch shape), as a CUDA graph or
        ``torch.compile`` wants them.
        """
        self._step_tensor.fill_(self.step)
        self._lr_factor.fill_(lr_factor)
        self._device_step(x, y)
        self.acc.count += len(x)

    def _device_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """:meth:`_train_step`'s work on the device: every tensor it writes keeps its address."""
        self.base.train()
        # BatchNorm statistics of a frozen (or newly diverging) member must not move either.
        saved_buffers = [flat.clone() for flat in self._flat_buffers.values()]
        # the backward's matmuls in the forward's float32 mode (TF32 or not); autocast, which
        # the forward sets itself, must not cover the backward
        with matmul_precision(self.settings.precision, self.device):
            losses, correct = member_losses(self._forward_all(self.params, self.buffers, x), y, self.classification)
            grads = torch.autograd.grad(losses.sum(), self._param_list)
        with torch.no_grad():
            # into the flat gradient in one pass (letting autograd accumulate into views of it
            # would take a zeroing pass and a read-add-write pass)
            torch.cat([g.reshape(g.shape[0], -1) for g in grads], 1, out=self._flat_grad)
            grads = self._flat_grad
            # a sum is non-finite when any term is (or when it overflows, i.e. diverges anyway)
            finite = torch.isfinite(losses) & torch.isfinite(grads.sum(1))
            torch.where(self.active & ~finite, self._step_tensor, self.diverged_at, out=self.diverged_at)
            self.active &= finite
            # (a masked fill: on CPU torch.where with a broadcast mask takes ~1.5x as long)
            grads.masked_fill_(~self.active[:, None], 0.0)
            for (dtype, flat), saved in zip(self._flat_buffers.items(), saved_buffers):
                torch.where(self.active[self._buffer_members[dtype]], flat, saved, out=flat)
            flat_update(
                self.settings.optimizer, self._flat, grads, self._flat_opt,
                self.lr * (self._lr_factor * self.active), self.momentum, self.weight_decay, self._step_tensor,
            )
            self.acc.loss_sum += torch.where(self.active, losses.detach().double(), 0.0) * len(x)
            self.acc.correct += torch.where(self.active, correct, 0)

    def _log_divergence(self) -> None:
        """Log each member that diverged since the last call, with its step (one host sync)."""
        for index, step in enumerate(self.diverged_at.tolist()):
            if step >= 0 and index not in self._logged_divergence:
                log.warning("member %d diverged at step %d: frozen", index, step)
                self._logged_divergence.add(index)

    def lr_factor(self, step: int) -> float:
        passed = sum(step >= round(f * self.total_steps) for f in self.settings.milestones)
        return self.settings.gamma**passed

    # ------------------------------------------------------------ evaluation
    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Mean loss and accuracy of every member on ``(x, y)`` (eval mode); ``y`` is ``[n]`` or
        ``[member, n]``."""
        return evaluate_members(
            self._forward_all, self.base, self.params, self.buffers, x, y, self.classification, self.settings.eval_batch_size
        )

    def snapshot_metrics(self) -> dict[str, np.ndarray]:
        """Loss and accuracy of every member's current parameters on the whole training set (with
        its own labels, label noise included) and test set, in eval mode: what the parameters of a
        snapshot score, unlike the epoch metrics' running average over the epoch's minibatches."""
        train_loss, train_acc = self.evaluate(self.x_train, self.y_train)
        test_loss, test_acc = self.evaluate(self.x_test, self.y_test)
        return {"train_loss": train_loss, "train_accuracy": train_acc, "test_loss": test_loss, "test_accuracy": test_acc}

    def epoch_metrics(self) -> dict[str, np.ndarray]:
        test_loss, test_acc = self.evaluate(self.x_test, self.y_test)
        count = max(self.acc.count, 1)
        train_acc = (self.acc.correct.double() / count).cpu().numpy()
        return {
            "train_loss": (self.acc.loss_sum / count).cpu().numpy(),
            "train_accuracy": train_acc if self.classification else np.full(len(self.members), np.nan),
            "test_loss": test_loss,
            "test_accuracy": test_acc,
        }

    # ------------------------------------------------------------- state I/O
    # Copies: on CPU .numpy() shares memory with tensors that the next step updates in place.
    def numpy_params(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy().copy() for k, v in self.params.items()}

    def numpy_buffers(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy().copy() for k, v in self.buffers.items()}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to continue bit-identically from ``self.step``."""
        state = {f"params/{k}": v for k, v in self.numpy_params().items()}
        state.update({f"buffers/{k}": v for k, v in self.numpy_buffers().items()})
        for slot, tensors in self.opt.items():
            state.update({f"opt_{slot}/{k}": v.cpu().numpy().copy() for k, v in tensors.items()})
        state.update(
            {
                "active": self.active.cpu().numpy().copy(),
                "diverged_at": self.diverged_at.cpu().numpy().copy(),
                "step": np.array([self.step], dtype=np.int64),
                "acc_loss_sum": self.acc.loss_sum.cpu().numpy().copy(),
                "acc_correct": self.acc.correct.cpu().numpy().copy(),
                "acc_count": np.array([self.acc.count], dtype=np.int64),
                "threshold_step": self.threshold_step.copy(),
                "threshold_accuracy": self.threshold_accuracy.copy(),
            }
        )
        return {k.replace("/", "__"): v for k, v in state.items()}

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        state = {k.replace("__", "/"): v for k, v in state.items()}
        to = dict(device=self.device)
        with torch.no_grad():
            for k, v in self.params.items():
                v.copy_(torch.as_tensor(state[f"params/{k}"], **to))
            for k, v in self.buffers.items():
                v.copy_(torch.as_tensor(state[f"buffers/{k}"], **to))
            for slot, tensors in self.opt.items():
                for k, v in tensors.items():
                    v.copy_(torch.as_tensor(state[f"opt_{slot}/{k}"], **to))
            # in place: the step's tensors keep their addresses (a captured CUDA graph's inputs)
            self.active.copy_(torch.as_tensor(state["active"], **to))
            self.diverged_at.copy_(torch.as_tensor(state["diverged_at"], **to))
        # the state was saved after its divergences were logged (run() logs before each checkpoint)
        self._logged_divergence = set(np.flatnonzero(state["diverged_at"] >= 0).tolist())
        self.step = int(state["step"][0])
        self.threshold_step = np.array(state["threshold_step"], dtype=np.int64)
        self.threshold_accuracy = np.array(state["threshold_accuracy"], dtype=np.float64)
        self.acc = EpochAccumulator(
            torch.as_tensor(state["acc_loss_sum"], **to).clone(),
            torch.as_tensor(state["acc_correct"], **to).clone(),
            int(state["acc_count"][0]),
        )

    # ------------------------------------------------------------------ loop
    def _check_thresholds(self, on_threshold) -> None:
        """Record the members that first reach a threshold of training accuracy at this step (every
        ``settings.threshold_every`` steps), and hand each threshold's new members to ``on_threshold``."""
        if not self.settings.thresholds or self.step % self.settings.threshold_every:
            return
        _, accuracy = self.evaluate(self.x_train, self.y_train)
        newly = (self.threshold_step < 0) & (accuracy[:, None] >= np.asarray(self.settings.thresholds)[None, :])
        if not newly.any():
            return
        self.threshold_step[newly] = self.step
        self.threshold_accuracy[newly] = np.broadcast_to(accuracy[:, None], newly.shape)[newly]
        if on_threshold:
            params, buffers = self.numpy_params(), self.numpy_buffers()
            for t in np.flatnonzero(newly.any(axis=0)):
                members = np.flatnonzero(newly[:, t])
                on_threshold(int(t), members, self.step, accuracy[members],
                             {k: v[members] for k, v in params.items()}, {k: v[members] for k, v in buffers.items()})

    def _take_snapshot(self, index: int, on_snapshot, on_snapshot_metrics) -> None:
        """Hand snapshot ``index`` (parameters, buffers, and with ``settings.snapshot_metrics`` its metrics) to the callbacks."""
        if on_snapshot:
            on_snapshot(index, self.step, self.numpy_params(), self.numpy_buffers())
        if self.settings.snapshot_metrics and on_snapshot_metrics:
            on_snapshot_metrics(index, self.snapshot_metrics())

    def _training_batch(self, order: torch.Tensor, within: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The inputs (augmented, laid out for the device) and the index of the ``within``-th batch
        of the epoch's ``order``."""
        idx = order[within * self.settings.batch_size : (within + 1) * self.settings.batch_size]
        x = self.x_train[idx]
        if self.settings.augment:
            x = self._augment(x, self.step)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, idx

    def _end_epoch(self, on_epoch_end, bar) -> None:
        """Close the epoch that this step ends: its metrics to ``on_epoch_end`` and the progress bar."""
        self._log_divergence()
        metrics = self.epoch_metrics()
        self.acc = self._new_accumulator()
        if on_epoch_end:
            on_epoch_end(self.step // self.steps_per_epoch - 1, metrics)
        if bar is not None:
            bar.set_postfix(test_acc=f"{np.nanmax(metrics['test_accuracy']):.3f}", refresh=False)

    def run(
        self,
        on_snapshot: Callable[[int, int, dict, dict], None] | None = None,
        on_epoch_end: Callable[[int, dict], None] | None = None,
        on_checkpoint: Callable[[int, dict], None] | None = None,
        progress: bool = True,
        on_snapshot_metrics: Callable[[int, dict], None] | None = None,
        on_threshold: Callable[[int, np.ndarray, int, np.ndarray, dict, dict], None] | None = None,
    ) -> None:
        """Train from ``self.step`` to the end.

        Parameters
        ----------
        on_snapshot : callable(index, step, params, buffers), optional
            Called at each snapshot step with numpy arrays ``[member, *shape]``.
        on_epoch_end : callable(epoch, metrics), optional
            Called after each epoch (0-based) with per-member metric arrays.
        on_checkpoint : callable(step, state), optional
            Called after each snapshot with the resumable state (see :meth:`state_dict`).
        on_snapshot_metrics : callable(index, metrics), optional
            With ``settings.snapshot_metrics``, called at each snapshot with
            :meth:`snapshot_metrics` (before the resumable state is saved).
        on_threshold : callable(threshold index, members, step, accuracy, params, buffers), optional
            With ``settings.thresholds``, called when members first reach a threshold of training
            accuracy (on the whole training set, their own labels, eval mode; checked every
            ``settings.threshold_every`` steps and at step 0), with those members' indices,
            accuracies and parameters and buffers ``[those members, *shape]``.
        """
        snapshot_index = {s: i for i, s in enumerate(self.snapshot_steps)}
        if self.step == 0:
            self._take_snapshot(0, on_snapshot, on_snapshot_metrics)
            self._check_thresholds(on_threshold)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=self.total_steps, initial=self.step, mininterval=5, unit="step", ascii=True)
        order_epoch, order = None, None
        while self.step < self.total_steps:
            epoch, within = divmod(self.step, self.steps_per_epoch)
            if order_epoch != epoch:
                order, order_epoch = self._epoch_order(epoch).to(self.device), epoch
            x, idx = self._training_batch(order, within)
            self._train_step(x, self.y_train[:, idx], self.lr_factor(self.step))
            self.step += 1
            self._check_thresholds(on_threshold)
            if bar is not None:
                bar.update(1)
            if self.step % self.steps_per_epoch == 0:
                self._end_epoch(on_epoch_end, bar)
            if self.step in snapshot_index:
                self._take_snapshot(snapshot_index[self.step], on_snapshot, on_snapshot_metrics)
                if on_checkpoint and self.step < self.total_steps:
                    self._log_divergence()
                    on_checkpoint(self.step, self.state_dict())
        self._log_divergence()
        if bar is not None:
            bar.close()
