"""Network architectures whose populations are trained together with ``torch.func``.

Every model built here can be stacked with ``torch.func.stack_module_state`` and evaluated
member by member with ``torch.vmap`` + ``torch.func.functional_call``, in train and eval mode,
BatchNorm included. To keep that possible the forward passes use no ``.item()``, no in-place
operations on inputs or parameters, no data-dependent Python control flow (every shape decision,
such as whether to pool, is taken once in ``__init__`` from ``input_shape``) and no dropout
(random draws under ``vmap`` would need ``randomness="different"``; the trainer uses "error").

Every model has

``forward(x, return_activations=False)``
    The logits ``[B, num_outputs]``, or ``(logits, acts)`` where ``acts`` maps each layer name
    to that layer's activation ``[B, ...]`` in forward order, ending with ``"output"``.
``layer_names``
    The keys of ``acts``, in order (``"output"`` last).
``penultimate``
    The layer that feeds the output layer (the features used for representation analyses).
``weight_names``
    Parameter names of the convolution / linear weights, in forward order.

:func:`build_model` draws initial weights from the global torch RNG and does not seed it:
callers run ``torch.manual_seed(seed)`` first, and the same seed gives the same weights.
"""

from __future__ import annotations

import math
from typing import Mapping

import torch
from torch import nn

ARCHITECTURES = ("mlp", "cnn", "resnet9", "wide_resnet")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "gelu")
INITS = ("default", "zero", "normal", "kaiming")

# Keys each architecture reads; the schema accepts every key for every architecture (its
# definitions.architecture) and fills in the defaults of the reader's keys only.
_KEYS = {
    "mlp": {"hidden", "activation", "bias", "init", "init_std"},
    "cnn": {"channels", "hidden"},
    "resnet9": {"width"},
    "wide_resnet": {"depth", "width"},
}


# ---------------------------------------------------------------------------------- validation
def _bad(key: str, message: str) -> ValueError:
    return ValueError(f"architecture spec key {key!r}: {message}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_keys(spec: Mapping, name: str) -> None:
    for key in spec:
        if key != "name" and key not in _KEYS[name]:
            # it would be silently ignored
            raise _bad(key, f"does not apply to architecture {name!r} (it reads {sorted(_KEYS[name])})")


def _image_shape(input_shape: tuple[int, ...], name: str) -> tuple[int, int, int]:
    # (H, W) images are treated as one channel; forward reshapes [B, H, W] (or flat) inputs.
    if len(input_shape) == 2:
        input_shape = (1, *input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            f"input_shape: architecture {name!r} needs image inputs (C, H, W) or (H, W), got {input_shape}"
        )
    return input_shape  # type: ignore[return-value]


def _pool_kernel(h: int, w: int) -> tuple[int, int] | None:
    """Kernel of a 2x2 max pool that never shrinks a spatial side below 1 (None: skip pooling)."""
    kernel = (2 if h >= 2 else 1, 2 if w >= 2 else 1)
    return None if kernel == (1, 1) else kernel


def _maybe_pool(h: int, w: int) -> tuple[nn.Module, int, int]:
    kernel = _pool_kernel(h, w)
    if kernel is None:
        return nn.Identity(), h, w
    return nn.MaxPool2d(kernel), h // kernel[0], w // kernel[1]


def _activation(name: str) -> nn.Module:
    # inplace=False everywhere: in-place ops on vmapped tensors and on autograd inputs break.
    return {
        "relu": lambda: nn.ReLU(inplace=False),
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "leaky_relu": lambda: nn.LeakyReLU(inplace=False),
        "gelu": nn.GELU,
    }[name]()


class _Base(nn.Module):
    """Shared bookkeeping: the layer names and the ``(logits, acts)`` return convention."""

    layer_names: tuple[str, ...]
    penultimate: str
    weight_names: tuple[str, ...]
    flattens_input = False  # whether forward() flattens each input first (the MLP)

    def _finish(self) -> None:
        # weight_names is derived from the real parameter names so it can never go stale.
        self.weight_names = tuple(
            f"{prefix}.weight"
            for prefix, module in self.named_modules()
            if isinstance(module, (nn.Linear, nn.Conv2d))
        )
        assert self.penultimate in self.layer_names and self.layer_names[-1] == "output"

    @staticmethod
    def _result(acts: dict[str, torch.Tensor], return_activations: bool):
        return (acts["output"], acts) if return_activations else acts["output"]


# ----------------------------------------------------------------------------------------- MLP
class MLP(_Base):
    """Fully connected network on flattened inputs.

    Parameters
    ----------
    in_features : int
        Size of one flattened input.
    hidden : list of int
        Hidden widths; layer ``i`` (1-based) is reported as ``"hidden{i}"``.
    num_outputs : int
    activation : str
        One of :data:`ACTIVATIONS`.
    bias : bool
        Whether the linear layers have biases (Gabella's learning graphs turn them off).
    init : {"default", "zero", "normal", "kaiming"}
        PyTorch's default; every weight and bias exactly 0; weights N(0, ``init_std``) and
        biases 0 (Gabella's "tiny random" initialization uses ``init_std=1e-6``); or He's
        N(0, 2 / fan_in) and biases 0 (deep ReLU stacks, where the default's variance decays by
        about 6x per layer).
    init_std : float

    Notes
    -----
    The linear layers are ``layers.0`` ... ``layers.{len(hidden)}`` (the last is the output
    layer), so ``layers.{i}.weight`` of shape ``[out, in]`` holds one row of incoming weights per
    neuron; ``weight_names[i]`` belongs to ``layer_names[i]``.
    """

    flattens_input = True

    def __init__(self, in_features, hidden, num_outputs, activation="relu", bias=True, init="default", init_std=0.01):
        super().__init__()
        widths = [in_features, *hidden, num_outputs]
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in zip(widths[:-1], widths[1:]))
        self.activation = _activation(activation)
        self.layer_names = tuple(f"hidden{i + 1}" for i in range(len(hidden))) + ("output",)
        self.penultimate = f"hidden{len(hidden)}"
        if init != "default":
            with torch.no_grad():
                for layer in self.layers:
                    if init == "zero":
                        layer.weight.zero_()
                    elif init == "kaiming":
                        # He et al.: N(0, 2 / fan_in) keeps the signal's scale through deep ReLU stacks
                        torch.nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                    else:
                        layer.weight.normal_(0.0, init_std)
                    if layer.bias is not None:
                        layer.bias.zero_()
        self._finish()

    def forward(self, x: torch.Tensor, return_activations: bool = False):
        h = x.flatten(1)
        acts = {}
        for name, layer in zip(self.layer_names[:-1], self.layers[:-1]):
            h = self.activation(layer(h))
            acts[name] = h
        acts["output"] = self.layers[-1](h)
        return self._result(acts, return_activations)


# ----------------------------------------------------------------------------------------- CNN
class CNN(_Base):
    """Simple CNN: blocks of conv3x3 + ReLU + 2x2 max pool, one hidden FC layer, output.

    Layer names ``"conv1"`` ... ``"conv{len(channels)}"`` (after pooling), ``"fc"`` (the hidden
    FC layer, :attr:`penultimate`), ``"output"``. A pool is skipped along a side that has
    already reached 1, so 8x8 inputs work with any number of blocks.
    """

    def __init__(self, image_shape, channels, hidden, num_outputs):
        super().__init__()
        self.image_shape = tuple(image_shape)
        c, h, w = image_shape
        convs, pools = [], []
        for out in channels:
            convs.append(nn.Conv2d(c, out, 3, padding=1))
            pool, h, w = _maybe_pool(h, w)
            pools.append(pool)
            c = out
        self.convs = nn.ModuleList(convs)
        self.pools = nn.ModuleList(pools)
        self.relu = nn.ReLU(inplace=False)
        self.fc = nn.Linear(c * h * w, hidden)
        self.head = nn.Linear(hidden, num_outputs)
        self.layer_names = tuple(f"conv{i + 1}" for i in range(len(channels))) + ("fc", "output")
        self.penultimate = "fc"
        self._finish()

    def forward(self, x: torch.Tensor, return_activations: bool = False):
        h = x.reshape(x.shape[0], *self.image_shape)
        acts = {}
        for name, conv, pool in zip(self.layer_names, self.convs, self.pools):
            h = pool(self.relu(conv(h)))
            acts[name] = h
        h = self.relu(self.fc(h.flatten(1)))
        acts["fc"] = h
        acts["output"] = self.head(h)
        return self._result(acts, return_activations)


# ------------------------------------------------------------------------------------ ResNet-9
class _ConvBN(nn.Module):
    """conv3x3 (no bias: BatchNorm follows) + BatchNorm + ReLU."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class _ResNet9Layer(nn.Module):
    """ConvBN, 2x2 max pool (when the side allows), optionally ``x + ConvBN(ConvBN(x))``."""

    def __init__(self, c_in: int, c_out: int, h: int, w: int, residual: bool):
        super().__init__()
        self.conv = _ConvBN(c_in, c_out)
        self.pool, self.h, self.w = _maybe_pool(h, w)
        self.residual = residual
        if residual:
            self.res1 = _ConvBN(c_out, c_out)
            self.res2 = _ConvBN(c_out, c_out)

    def forward(self, x):
        x = self.pool(self.conv(x))
        return x + self.res2(self.res1(x)) if self.residual else x


class ResNet9(_Base):
    """The CIFAR ResNet-9 (Myrtle.ai / D. Page's DAWNBench network) with base width ``width``.

    prep ConvBN(w) -> layer1 ConvBN(2w)+pool+residual -> layer2 ConvBN(4w)+pool ->
    layer3 ConvBN(8w)+pool+residual -> adaptive max pool -> linear. The original's final
    ``MaxPool2d(4)`` on 4x4 maps is the adaptive max pool here, so 32x32 inputs give the standard
    network and smaller inputs (8x8) still work; the original's 0.125 logit scaling is left out.

    Layer names ``"prep"``, ``"layer1"``, ``"layer2"``, ``"layer3"``, ``"pool"`` (the pooled
    ``[B, 8w]`` features, :attr:`penultimate`), ``"output"``.
    """

    def __init__(self, image_shape, width, num_outputs):
        super().__init__()
        self.image_shape = tuple(image_shape)
        c, h, w = image_shape
        self.prep = _ConvBN(c, width)
        self.layer1 = _ResNet9Layer(width, 2 * width, h, w, residual=True)
        self.layer2 = _ResNet9Layer(2 * width, 4 * width, self.layer1.h, self.layer1.w, residual=False)
        self.layer3 = _ResNet9Layer(4 * width, 8 * width, self.layer2.h, self.layer2.w, residual=True)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(8 * width, num_outputs)
        self.layer_names = ("prep", "layer1", "layer2", "layer3", "pool", "output")
        self.penultimate = "pool"
        self._finish()

    def forward(self, x: torch.Tensor, return_activations: bool = False):
        h = x.reshape(x.shape[0], *self.image_shape)
        acts = {}
        for name in ("prep", "layer1", "layer2", "layer3"):
            h = getattr(self, name)(h)
            acts[name] = h
        h = self.pool(h).flatten(1)
        acts["pool"] = h
        acts["output"] = self.head(h)
        return self._result(acts, return_activations)


# --------------------------------------------------------------------------------- Wide ResNet
class _WideBlock(nn.Module):
    """Pre-activation basic block: BN-ReLU-conv3x3(stride)-BN-ReLU-conv3x3, plus the shortcut.

    As in the reference implementation, a projection shortcut (1x1 conv) is applied to the
    pre-activated input; an identity shortcut adds the raw input.
    """

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.relu = nn.ReLU(inplace=False)
        self.projection = c_in != c_out or stride != 1
        if self.projection:
            self.shortcut = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)

    def forward(self, x):
        pre = self.relu(self.bn1(x))
        out = self.conv2(self.relu(self.bn2(self.conv1(pre))))
        return out + (self.shortcut(pre) if self.projection else x)


class WideResNet(_Base):
    """CIFAR Wide ResNet WRN-depth-k (Zagoruyko & Komodakis 2016), without dropout.

    conv3x3(16) -> group1 (16k, stride 1) -> group2 (32k, stride 2) -> group3 (64k, stride 2),
    each of ``(depth - 4) / 6`` blocks -> BN-ReLU -> adaptive average pool -> linear.
    A 3x3 stride-2 convolution with padding 1 never shrinks a side below 1, so 8x8 inputs work.
    Convolutions use the reference He (fan-out) normal initialization and the linear bias is 0.

    Layer names ``"conv1"``, ``"group1"``, ``"group2"``, ``"group3"`` (block outputs, i.e. the
    residual sums), ``"pool"`` (after the final BN-ReLU and pooling: ``[B, 64k]`` features,
    :attr:`penultimate`), ``"output"``.
    """

    def __init__(self, image_shape, depth, width, num_outputs):
        super().__init__()
        self.image_shape = tuple(image_shape)
        n = (depth - 4) // 6
        widths = [16, 16 * width, 32 * width, 64 * width]
        self.conv1 = nn.Conv2d(image_shape[0], widths[0], 3, padding=1, bias=False)
        for g, stride in enumerate((1, 2, 2), start=1):
            blocks = [_WideBlock(widths[g - 1] if i == 0 else widths[g], widths[g], stride if i == 0 else 1) for i in range(n)]
            setattr(self, f"group{g}", nn.Sequential(*blocks))
        self.bn = nn.BatchNorm2d(widths[3])
        self.relu = nn.ReLU(inplace=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[3], num_outputs)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.fc.bias)
        self.layer_names = ("conv1", "group1", "group2", "group3", "pool", "output")
        self.penultimate = "pool"
        self._finish()

    def forward(self, x: torch.Tensor, return_activations: bool = False):
        h = self.conv1(x.reshape(x.shape[0], *self.image_shape))
        acts = {"conv1": h}
        for name in ("group1", "group2", "group3"):
            h = getattr(self, name)(h)
            acts[name] = h
        h = self.pool(self.relu(self.bn(h))).flatten(1)
        acts["pool"] = h
        acts["output"] = self.fc(h)
        return self._result(acts, return_activations)


# ------------------------------------------------------------------------------------- builder
def build_model(spec: Mapping, input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    """Build one network from an architecture spec.

    Parameters
    ----------
    spec : mapping
        ``spec["name"]`` is one of :data:`ARCHITECTURES`; the other keys are those the
        architecture reads, each defaulting to the schema's value (``config/schema/pipeline.yaml``,
        ``definitions.architecture``):

        - ``mlp``: ``hidden`` (list of widths; an integer means one hidden layer),
          ``activation`` (one of :data:`ACTIVATIONS`), ``bias``, ``init`` (one of :data:`INITS`:
          ``"default"``, ``"zero"``, ``"normal"`` or ``"kaiming"``), ``init_std`` (used by ``"normal"``).
        - ``cnn``: ``channels``, ``hidden`` (FC width).
        - ``resnet9``: ``width`` (base width).
        - ``wide_resnet``: ``depth`` (``(depth - 4) % 6 == 0``), ``width`` (widening factor k).
    input_shape : tuple of int
        Shape of one input without the batch axis: ``(D,)`` or anything for the MLP (it
        flattens), ``(C, H, W)`` or ``(H, W)`` for the convolutional networks.
    num_outputs : int
        Size of the output layer (classes, or 1 for regression).

    Returns
    -------
    nn.Module
        With ``forward(x, return_activations=False)``, ``layer_names``, ``penultimate`` and
        ``weight_names`` (see the module docstring).

    Raises
    ------
    ValueError
        Naming the offending key, for an unknown architecture, key or value, or a key that the
        architecture does not read.

    Notes
    -----
    Initial weights come from the global torch RNG, which is not seeded here.
    """
    from .schema import complete_architecture

    input_shape = tuple(input_shape)
    if not input_shape or not all(_is_int(s) and s >= 1 for s in input_shape):
        raise ValueError(f"input_shape must be a non-empty tuple of integers >= 1, got {input_shape}")
    if not _is_int(num_outputs) or num_outputs < 1:
        raise ValueError(f"num_outputs must be an integer >= 1, got {num_outputs!r}")
    spec = complete_architecture(spec)
    name = spec["name"]
    _check_keys(spec, name)

    if name == "mlp":
        hidden = [spec["hidden"]] if _is_int(spec["hidden"]) else list(spec["hidden"])
        return MLP(math.prod(input_shape), hidden, num_outputs, spec["activation"], spec["bias"], spec["init"], float(spec["init_std"]))
    if name == "cnn":
        return CNN(_image_shape(input_shape, name), list(spec["channels"]), spec["hidden"], num_outputs)
    if name == "resnet9":
        return ResNet9(_image_shape(input_shape, name), spec["width"], num_outputs)
    if (spec["depth"] - 4) % 6 != 0:
        raise _bad("depth", f"must be an integer 6n + 4 >= 10 (10, 16, 22, 28, ...), got {spec['depth']!r}")
    return WideResNet(_image_shape(input_shape, name), spec["depth"], spec["width"], num_outputs)
