"""An Ultralytics YOLOv8 detection checkpoint (``.pt``) to ONNX, without torch or ultralytics.

A ``.pt`` file is a zip: ``<name>/data.pkl`` (a pickle of the checkpoint dict) and
``<name>/data/<key>`` (one raw little-endian blob per tensor storage). :func:`read_checkpoint`
unpickles it with :class:`RestrictedUnpickler`, which resolves only the globals a detection
checkpoint needs: torch's tensor-rebuild functions and storage types (rebuilt here as numpy
arrays from the blobs, honouring dtype, sizes, strides and storage offsets), ``torch.Size``,
a few plain containers, and the classes of torch.nn / ultralytics / omegaconf modules, each
mapped to :class:`Module`, an attribute holder that runs no code of theirs. Any other global
(``os.system``, ``builtins.eval``, ``subprocess.Popen``, ...) raises :class:`UnsafeCheckpointError`.

:func:`build_onnx` writes the network with ``onnx.helper``: every ``Conv`` (convolution, batch
norm, SiLU) becomes one ONNX ``Conv`` with the batch norm folded into its weights (in float64,
stored as float32) followed by ``x * sigmoid(x)``; ``C2f``, ``Bottleneck``, ``SPPF``, nearest
``Upsample`` (``Resize``), ``Concat`` follow the layer list and its ``f`` (from) indices; the
``Detect`` head decodes in the graph like Ultralytics' own export: DFL (softmax over
``reg_max`` bins, weighted by the checkpoint's DFL weights), ``dist2bbox`` against anchor
points generated in the graph from each feature map's shape (``Shape``/``Range``, so H and W are
dynamic), times the level's stride, and sigmoid class scores. Output ``output0`` is
``[B, 4 + nc, N]``: cx, cy, w, h in input pixels, then one score per class, N anchors ordered
by level (stride 8, 16, 32), row, column.

The input ``images`` is the letterboxed frame itself: uint8 BGR ``[B, H, W, 3]`` (H, W multiples
of 32). The graph casts and transposes it; the colour swap and the ``/ 255`` are folded into
the first convolution's weights (zero padding is unaffected, so this is exact up to float
rounding). The conversion is deterministic: the same checkpoint gives the same bytes.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from streams.anonymize.exceptions import ModelIntegrityError

INPUT_NAME = "images"
OUTPUT_NAME = "output0"
OPSET = 17
IR_VERSION = 8  # the IR of opset 17; fixed so that the bytes do not follow the onnx version
CONVERSION = "yolov8-pt-to-onnx+bgr-uint8-nhwc-input+in-graph-anchors/1"

_MAX_PICKLE_BYTES = 16 * 1024 * 1024
_MAX_STORAGE_BYTES = 256 * 1024 * 1024

Array = NDArray[Any]


class UnsafeCheckpointError(ModelIntegrityError):
    """A checkpoint's pickle references something outside the allowlist, or is malformed."""


# --- restricted unpickling ------------------------------------------------------------------


class Module:
    """Stand-in for a pickled ``torch.nn.Module`` (or other allowed class): its attributes only.

    ``kind`` is the original class name (``Conv``, ``C2f``, ``Conv2d``...); ``origin`` its
    module path. Instances are made by pickle's NEWOBJ/REDUCE and filled by BUILD.
    """

    kind = "Module"
    origin = ""

    def __init__(self, *args: object) -> None:
        self._pickle_args = args  # REDUCE-built stand-ins (NEWOBJ does not call __init__)

    def __setstate__(self, state: object) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            for part in state:
                if isinstance(part, dict):
                    self.__dict__.update(part)
        elif isinstance(state, dict):
            self.__dict__.update(state)
        else:
            raise UnsafeCheckpointError(f"{self.kind}: unexpected pickled state {type(state)}")

    def attr(self, name: str, default: Any = None) -> Any:
        return self.__dict__.get(name, default)

    def child(self, name: str) -> Module:
        modules = self.__dict__.get("_modules") or {}
        found = modules.get(name)
        if not isinstance(found, Module):
            raise UnsafeCheckpointError(f"{self.kind} has no submodule {name!r}")
        return found

    def children(self) -> list[Module]:
        modules = self.__dict__.get("_modules") or {}
        return [m for m in modules.values() if isinstance(m, Module)]

    def tensor(self, name: str) -> Array | None:
        """A parameter, buffer or plain attribute by name, as numbers (None when absent)."""
        for table in ("_parameters", "_buffers"):
            found = (self.__dict__.get(table) or {}).get(name)
            if found is not None:
                break
        else:
            found = self.__dict__.get(name)
        if found is None:
            return None
        array = np.asarray(found)
        if array.dtype.kind not in "biuf":
            raise UnsafeCheckpointError(f"{self.kind}.{name} is not numeric")
        return array

    def __repr__(self) -> str:
        return f"<{self.origin}.{self.kind}>"


class StorageType(NamedTuple):  # immutable: pickle's BUILD cannot rewrite it
    """What ``torch.FloatStorage`` and friends resolve to: the dtype of the storage."""

    name: str
    dtype: str  # numpy dtype name; "bfloat16" is widened to float32


STORAGE_TYPES = {
    "DoubleStorage": "float64",
    "FloatStorage": "float32",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "UntypedStorage": "uint8",
}

# Module paths whose classes become Module stand-ins (never imported, never run).
_STAND_IN_MODULES = ("torch.nn.modules.", "ultralytics.", "omegaconf.")


def _rebuild_tensor_v2(
    storage: Array,
    storage_offset: int,
    size: Sequence[int],
    stride: Sequence[int],
    requires_grad: object = False,
    backward_hooks: object = None,
    metadata: object = None,
) -> Array:
    """``torch._utils._rebuild_tensor_v2``: a strided view of a storage, copied to numpy."""
    if not isinstance(storage, np.ndarray) or storage.ndim != 1:
        raise UnsafeCheckpointError("tensor rebuilt from something that is not a storage")
    shape = tuple(int(s) for s in size)
    strides = tuple(int(s) for s in stride)
    offset = int(storage_offset)
    if len(shape) != len(strides) or any(s < 0 for s in shape + strides) or offset < 0:
        raise UnsafeCheckpointError(f"bad tensor geometry {shape} / {strides} at {offset}")
    if 0 in shape:
        return np.zeros(shape, dtype=storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(shape, strides, strict=True))
    if last >= storage.size:
        raise UnsafeCheckpointError(
            f"tensor {shape} / {strides} at {offset} reads past its storage of {storage.size}"
        )
    view = np.lib.stride_tricks.as_strided(
        storage[offset:],
        shape=shape,
        strides=tuple(s * storage.itemsize for s in strides),
        writeable=False,
    )
    return np.array(view, copy=True)


def _rebuild_parameter(data: Array, requires_grad: object = False, hooks: object = None) -> Array:
    """``torch._utils._rebuild_parameter``: a parameter is its tensor."""
    return data


def _torch_size(dims: Sequence[int] = ()) -> tuple[int, ...]:
    return tuple(int(d) for d in dims)


def _set(items: Sequence[object] = ()) -> set[object]:
    return set(items)


def _any(*args: object) -> None:
    raise UnsafeCheckpointError("typing.Any is a marker, not a callable")


def _stand_in(module: str, name: str) -> type[Module]:
    return type(name, (Module,), {"kind": name, "origin": module})


class _Allowed:
    """An allowed function as the unpickler hands it out: callable, with no attribute that
    pickle's BUILD opcode could set (no ``__dict__``, ``__setattr__`` refuses)."""

    __slots__ = ("_function",)
    _function: Callable[..., Any]

    def __init__(self, function: Callable[..., Any]) -> None:
        object.__setattr__(self, "_function", function)

    def __call__(self, *args: Any) -> Any:
        return self._function(*args)

    def __setattr__(self, name: str, value: object) -> None:
        raise UnsafeCheckpointError(f"checkpoint pickle tries to set {name} on a function")


# Builtin types (immutable) as they are; functions wrapped in _Allowed.
_ALLOWED: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch", "Size"): _torch_size,
    ("collections", "OrderedDict"): OrderedDict,
    ("collections", "defaultdict"): defaultdict,
    ("builtins", "set"): _set,
    ("builtins", "dict"): dict,
    ("typing", "Any"): _any,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles a torch checkpoint's ``data.pkl`` with an allowlist of globals.

    ``storages`` maps a storage key to its raw bytes (read lazily from the zip); persistent
    ids ``('storage', <StorageType>, key, location, numel)`` become 1-D numpy arrays.
    """

    def __init__(
        self, data: bytes, storages: Callable[[str], bytes], byteorder: str = "little"
    ) -> None:
        super().__init__(io.BytesIO(data))
        self._storages = storages
        self._byteorder: Literal["<", ">"] = "<" if byteorder == "little" else ">"
        self._loaded: dict[str, Array] = {}
        self._classes: dict[tuple[str, str], type[Module]] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "__builtin__":  # protocol 2 pickles name Python 2's module
            module = "builtins"
        found = _ALLOWED.get((module, name))
        if found is not None:
            return found if isinstance(found, type) else _Allowed(found)
        if module == "torch" and name in STORAGE_TYPES:
            return StorageType(name, STORAGE_TYPES[name])
        if (
            module.startswith(_STAND_IN_MODULES)
            and name.isidentifier()
            and name[:1].isupper()
            and "." not in name
        ):
            key = (module, name)
            if key not in self._classes:
                self._classes[key] = _stand_in(module, name)
            return self._classes[key]
        raise UnsafeCheckpointError(
            f"checkpoint pickle references {module}.{name}, which is not allowed "
            "(only tensors, plain containers and torch.nn/ultralytics module classes are)"
        )

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise UnsafeCheckpointError(f"unexpected persistent id {pid!r:.80}")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, StorageType) or not isinstance(key, str):
            raise UnsafeCheckpointError(f"unexpected storage reference {pid!r:.80}")
        if key not in self._loaded:
            self._loaded[key] = self._storage(storage_type, key, int(numel))
        loaded = self._loaded[key]
        if storage_type.dtype not in (loaded.dtype.name, "bfloat16"):
            raise UnsafeCheckpointError(f"storage {key} is used with two dtypes")
        return loaded

    def _storage(self, storage_type: StorageType, key: str, numel: int) -> Array:
        raw = self._storages(key)
        if storage_type.dtype == "bfloat16":
            if len(raw) != numel * 2:
                raise UnsafeCheckpointError(f"storage {key}: {len(raw)} bytes for {numel} values")
            halves = np.frombuffer(raw, dtype=f"{self._byteorder}u2").astype(np.uint32)
            return (halves << 16).view(np.float32)
        dtype = np.dtype(storage_type.dtype).newbyteorder(self._byteorder)
        if len(raw) != numel * dtype.itemsize:
            raise UnsafeCheckpointError(f"storage {key}: {len(raw)} bytes for {numel} values")
        return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="))


def read_checkpoint(data: bytes) -> Any:
    """The unpickled checkpoint of a torch zip file (``torch.save`` format), tensors as numpy."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
            if len(pickles) != 1 or pickles[0].count("/") > 1:
                raise UnsafeCheckpointError(f"expected one <name>/data.pkl, found {pickles}")
            prefix = pickles[0][: -len("data.pkl")]
            names = set(archive.namelist())
            byteorder = "little"
            if f"{prefix}byteorder" in names:
                byteorder = archive.read(f"{prefix}byteorder").decode().strip()
            if byteorder not in ("little", "big"):
                raise UnsafeCheckpointError(f"unknown byte order {byteorder!r}")

            def storage(key: str) -> bytes:
                name = f"{prefix}data/{key}"
                if name not in names:
                    raise UnsafeCheckpointError(f"checkpoint has no storage {key!r}")
                if archive.getinfo(name).file_size > _MAX_STORAGE_BYTES:
                    raise UnsafeCheckpointError(f"storage {key} is too large")
                return archive.read(name)

            info = archive.getinfo(pickles[0])
            if info.file_size > _MAX_PICKLE_BYTES:
                raise UnsafeCheckpointError("data.pkl is too large")
            return RestrictedUnpickler(archive.read(info), storage, byteorder).load()
    except zipfile.BadZipFile as exc:
        raise UnsafeCheckpointError(f"not a torch zip checkpoint: {exc}") from exc
    except (pickle.UnpicklingError, EOFError, TypeError, AttributeError, ValueError) as exc:
        raise UnsafeCheckpointError(f"malformed checkpoint pickle: {exc}") from exc


def detection_model(checkpoint: Any) -> Module:
    """The network of a checkpoint: ``ema`` when present, else ``model`` (as Ultralytics)."""
    if not isinstance(checkpoint, dict):
        raise UnsafeCheckpointError("checkpoint is not a dict")
    model = checkpoint.get("ema") or checkpoint.get("model")
    if not isinstance(model, Module):
        raise UnsafeCheckpointError("checkpoint has no model")
    return model


# --- graph building -------------------------------------------------------------------------


def _pair(value: object) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return (int(value[0]), int(value[1]))
    raise UnsafeCheckpointError(f"expected an int pair, got {value!r}")


def _f32(value: Array) -> Array:
    return np.ascontiguousarray(np.asarray(value, dtype=np.float64).astype(np.float32))


@dataclass
class GraphBuilder:
    """Accumulates ONNX nodes and initializers with unique, deterministic names."""

    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    _count: int = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: Array | np.generic, hint: str) -> str:
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def ints(self, values: Sequence[int], hint: str = "shape") -> str:
        return self.const(np.asarray(values, dtype=np.int64), hint)

    def node(self, op: str, inputs: Sequence[str], hint: str, **attrs: Any) -> str:
        out = self.name(hint)
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=out, **attrs))
        return out

    def split(self, x: str, sizes: Sequence[int], axis: int, hint: str) -> list[str]:
        outs = [self.name(f"{hint}_part") for _ in sizes]
        self.nodes.append(
            helper.make_node(
                "Split",
                [x, self.ints(sizes, f"{hint}_sizes")],
                outs,
                name=self.name(hint),
                axis=axis,
            )
        )
        return outs

    def silu(self, x: str, hint: str) -> str:
        return self.node("Mul", [x, self.node("Sigmoid", [x], f"{hint}_sigmoid")], f"{hint}_silu")


def _conv2d_node(
    g: GraphBuilder,
    x: str,
    conv: Module,
    weight: Array,
    bias: Array | None,
    hint: str,
) -> str:
    kh, kw = weight.shape[2:]
    ph, pw = _pair(conv.attr("padding", 0))
    mode = conv.attr("padding_mode", "zeros")
    if mode != "zeros":
        raise UnsafeCheckpointError(f"{hint}: padding mode {mode!r} is not supported")
    inputs = [x, g.const(_f32(weight), f"{hint}_w")]
    if bias is not None:
        inputs.append(g.const(_f32(bias), f"{hint}_b"))
    return g.node(
        "Conv",
        inputs,
        hint,
        kernel_shape=[int(kh), int(kw)],
        strides=list(_pair(conv.attr("stride", 1))),
        pads=[ph, pw, ph, pw],
        dilations=list(_pair(conv.attr("dilation", 1))),
        group=int(conv.attr("groups", 1)),
    )


def _folded(conv: Module, bn: Module | None) -> tuple[Array, Array | None]:
    """Convolution weights with the batch norm folded in (float64 maths)."""
    weight = conv.tensor("weight")
    if weight is None or weight.ndim != 4:
        raise UnsafeCheckpointError("convolution without 4-D weights")
    w = weight.astype(np.float64)
    b = conv.tensor("bias")
    bias = None if b is None else b.astype(np.float64)
    if bn is None:
        return w, bias
    gamma, beta = bn.tensor("weight"), bn.tensor("bias")
    mean, var = bn.tensor("running_mean"), bn.tensor("running_var")
    if mean is None or var is None:
        raise UnsafeCheckpointError("batch norm without running statistics")
    eps = float(bn.attr("eps", 1e-5))
    scale = np.ones(var.shape) if gamma is None else gamma.astype(np.float64)
    scale = scale / np.sqrt(var.astype(np.float64) + eps)
    shift = np.zeros(var.shape) if beta is None else beta.astype(np.float64)
    shift = shift - mean.astype(np.float64) * scale
    if bias is not None:
        shift = shift + bias * scale
    return w * scale[:, None, None, None], shift


@dataclass
class YoloGraph:
    """Builds the ONNX graph of one YOLOv8 DetectionModel stand-in."""

    model: Module
    g: GraphBuilder = field(default_factory=GraphBuilder)
    first_conv: bool = True  # the next convolution reads the image: fold BGR->RGB and /255

    # - layers -

    def conv(self, x: str, module: Module, hint: str) -> str:
        """Ultralytics ``Conv``/``DWConv`` (conv, bn, act) or a plain ``Conv2d``."""
        if module.kind == "Conv2d":
            weight, bias = _folded(module, None)
            return self._conv(x, module, weight, bias, hint)
        conv = module.child("conv")
        bn = module.child("bn") if "bn" in (module.attr("_modules") or {}) else None
        weight, bias = _folded(conv, bn)
        out = self._conv(x, conv, weight, bias, hint)
        act = (module.attr("_modules") or {}).get("act")
        kind = act.kind if isinstance(act, Module) else "Identity"
        if kind == "SiLU":
            return self.g.silu(out, hint)
        if kind != "Identity":
            raise UnsafeCheckpointError(f"{hint}: activation {kind} is not supported")
        return out

    def _conv(self, x: str, conv: Module, weight: Array, bias: Array | None, hint: str) -> str:
        if self.first_conv:
            self.first_conv = False
            if weight.shape[1] != 3:
                raise UnsafeCheckpointError("the first convolution does not read 3 channels")
            weight = weight[:, ::-1] / 255.0  # BGR uint8 input: RGB order and 0-1 scaling
        return _conv2d_node(self.g, x, conv, weight, bias, hint)

    def sequence(self, x: str, module: Module, hint: str) -> str:
        """A Sequential of convolutions (the Detect branches)."""
        if module.kind != "Sequential":
            return self.conv(x, module, hint)
        for index, part in enumerate(module.children()):
            x = self.sequence(x, part, f"{hint}.{index}")
        return x

    def bottleneck(self, x: str, module: Module, hint: str) -> str:
        y = self.conv(self.conv(x, module.child("cv1"), f"{hint}.cv1"), module.child("cv2"), hint)
        return self.g.node("Add", [x, y], f"{hint}_add") if module.attr("add", False) else y

    def c2f(self, x: str, module: Module, hint: str) -> str:
        c = int(module.attr("c"))
        y = self.g.split(self.conv(x, module.child("cv1"), f"{hint}.cv1"), [c, c], 1, hint)
        for index, block in enumerate(module.child("m").children()):
            y.append(self.bottleneck(y[-1], block, f"{hint}.m.{index}"))
        cat = self.g.node("Concat", y, f"{hint}_cat", axis=1)
        return self.conv(cat, module.child("cv2"), f"{hint}.cv2")

    def sppf(self, x: str, module: Module, hint: str) -> str:
        pool = module.child("m")
        k = _pair(pool.attr("kernel_size"))
        s = _pair(pool.attr("stride") or k)
        p = _pair(pool.attr("padding", 0))
        dilation = _pair(pool.attr("dilation", 1))
        if dilation != (1, 1) or pool.attr("ceil_mode", False):
            raise UnsafeCheckpointError(f"{hint}: unsupported max pool")
        ys = [self.conv(x, module.child("cv1"), f"{hint}.cv1")]
        for index in range(3):
            ys.append(
                self.g.node(
                    "MaxPool",
                    [ys[-1]],
                    f"{hint}_pool{index}",
                    kernel_shape=list(k),
                    strides=list(s),
                    pads=[p[0], p[1], p[0], p[1]],
                )
            )
        cat = self.g.node("Concat", ys, f"{hint}_cat", axis=1)
        return self.conv(cat, module.child("cv2"), f"{hint}.cv2")

    def upsample(self, x: str, module: Module, hint: str) -> str:
        mode = module.attr("mode", "nearest")
        factor = module.attr("scale_factor")
        if mode != "nearest" or factor is None:
            raise UnsafeCheckpointError(f"{hint}: only nearest upsampling by a factor is supported")
        fy, fx = np.broadcast_to(np.asarray(factor, dtype=np.float32), (2,))
        scales = self.g.const(np.asarray([1.0, 1.0, fy, fx], dtype=np.float32), f"{hint}_scales")
        return self.g.node(
            "Resize",
            [x, "", scales],
            hint,
            mode="nearest",
            coordinate_transformation_mode="asymmetric",
            nearest_mode="floor",
        )

    # - the head -

    def anchors(self, feature: str, hint: str) -> str:
        """Anchor points ``[1, 2, h*w]`` (x, y of cell centres, in cells) of a feature map,
        from its runtime shape: ``arange(w) + 0.5`` by ``arange(h) + 0.5``, row-major."""
        g = self.g
        hw = g.node("Shape", [feature], f"{hint}_hw", start=2, end=4)  # [h, w]

        def centres(position: int, axis: str) -> str:
            count = g.node("Gather", [hw, g.const(np.int64(position), "index")], f"{hint}_{axis}n")
            start = g.const(np.int64(0), "start")
            index = g.node("Range", [start, count, g.const(np.int64(1), "step")], f"{hint}_{axis}")
            as_float = g.node("Cast", [index], f"{hint}_{axis}f", to=TensorProto.FLOAT)
            return g.node("Add", [as_float, g.const(np.float32(0.5), "half")], f"{hint}_{axis}c")

        row = g.node("Unsqueeze", [centres(1, "x"), g.ints([0], "axis")], f"{hint}_row")  # [1, w]
        col = g.node("Unsqueeze", [centres(0, "y"), g.ints([1], "axis")], f"{hint}_col")  # [h, 1]
        flat = g.ints([1, 1, -1], "flat")
        ax = g.node("Reshape", [g.node("Expand", [row, hw], f"{hint}_gx"), flat], f"{hint}_ax")
        ay = g.node("Reshape", [g.node("Expand", [col, hw], f"{hint}_gy"), flat], f"{hint}_ay")
        return g.node("Concat", [ax, ay], f"{hint}_anchors", axis=1)

    def detect(self, features: Sequence[str], module: Module, hint: str) -> str:
        g = self.g
        nc = int(module.attr("nc"))
        reg_max = int(module.attr("reg_max", 16))
        strides = module.tensor("stride")
        if strides is None or len(strides) != len(features):
            raise UnsafeCheckpointError(f"{hint}: strides do not match the {len(features)} levels")
        if module.attr("end2end", False):
            raise UnsafeCheckpointError(f"{hint}: end-to-end (one-to-one) heads are not supported")
        dfl = module.child("dfl").child("conv").tensor("weight")
        bins = (np.arange(reg_max) if dfl is None else dfl.reshape(-1)).astype(np.float32)
        if bins.shape != (reg_max,):
            raise UnsafeCheckpointError(f"{hint}: DFL weights of shape {bins.shape}")
        bins_name = g.const(bins.reshape(1, 1, reg_max, 1), "dfl_bins")
        cv2, cv3 = module.child("cv2").children(), module.child("cv3").children()
        boxes, scores = [], []
        for level, x in enumerate(features):
            name = f"{hint}.l{level}"
            box = self.sequence(x, cv2[level], f"{hint}.cv2.{level}")  # [B, 4*reg_max, h, w]
            cls = self.sequence(x, cv3[level], f"{hint}.cv3.{level}")  # [B, nc, h, w]
            bins_view = g.node("Reshape", [box, g.ints([0, 4, reg_max, -1])], f"{name}_bins")
            soft = g.node("Softmax", [bins_view], f"{name}_softmax", axis=2)
            weighted = g.node("Mul", [soft, bins_name], f"{name}_weighted")
            dist = g.node("ReduceSum", [weighted, g.ints([2], "axes")], f"{name}_dist", keepdims=0)
            lt, rb = g.split(dist, [2, 2], 1, f"{name}_ltrb")
            anchor = self.anchors(x, name)
            x1y1 = g.node("Sub", [anchor, lt], f"{name}_x1y1")
            x2y2 = g.node("Add", [anchor, rb], f"{name}_x2y2")
            total = g.node("Add", [x1y1, x2y2], f"{name}_sum")
            centre = g.node("Div", [total, g.const(np.float32(2.0), "two")], f"{name}_cxy")
            size = g.node("Sub", [x2y2, x1y1], f"{name}_wh")
            xywh = g.node("Concat", [centre, size], f"{name}_xywh", axis=1)
            stride = g.const(np.float32(strides[level]), f"{name}_stride")
            boxes.append(g.node("Mul", [xywh, stride], f"{name}_pixels"))
            flat_cls = g.node("Reshape", [cls, g.ints([0, nc, -1])], f"{name}_cls")
            scores.append(g.node("Sigmoid", [flat_cls], f"{name}_scores"))
        all_boxes = g.node("Concat", boxes, f"{hint}_boxes", axis=2)
        all_scores = g.node("Concat", scores, f"{hint}_scores", axis=2)
        return g.node("Concat", [all_boxes, all_scores], f"{hint}_out", axis=1)

    # - the network -

    def layers(self) -> Iterator[tuple[int, Module]]:
        sequential = self.model.child("model")
        yield from enumerate(sequential.children())

    def build(self) -> onnx.ModelProto:
        g = self.g
        as_float = g.node("Cast", [INPUT_NAME], "to_float", to=TensorProto.FLOAT)
        x = g.node("Transpose", [as_float], "to_nchw", perm=[0, 3, 1, 2])
        outputs: list[str] = []
        nc = 0
        for index, layer in self.layers():
            source = layer.attr("f", -1)
            hint = f"model.{index}"
            if isinstance(source, int):
                inputs = [x if source == -1 else outputs[source]]
            else:
                inputs = [x if j == -1 else outputs[j] for j in source]
            x = self.layer(layer, inputs, hint)
            if layer.kind == "Detect":
                nc = int(layer.attr("nc"))
            outputs.append(x)
        if nc == 0:
            raise UnsafeCheckpointError("the model has no Detect head")
        self.g.nodes.append(helper.make_node("Identity", [x], [OUTPUT_NAME], name="output"))
        graph = helper.make_graph(
            self.g.nodes,
            "yolov8",
            [
                helper.make_tensor_value_info(
                    INPUT_NAME, TensorProto.UINT8, ["batch", "height", "width", 3]
                )
            ],
            [
                helper.make_tensor_value_info(
                    OUTPUT_NAME, TensorProto.FLOAT, ["batch", 4 + nc, "anchors"]
                )
            ],
            initializer=self.g.initializers,
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="camguard",
            producer_version=CONVERSION,
        )
        model.ir_version = IR_VERSION
        return model

    def layer(self, layer: Module, inputs: list[str], hint: str) -> str:
        kind = layer.kind
        if kind == "Concat":
            return self.g.node("Concat", inputs, hint, axis=int(layer.attr("d", 1)))
        if kind == "Detect":
            return self.detect(inputs, layer, hint)
        (x,) = inputs
        if kind in ("Conv", "DWConv"):
            return self.conv(x, layer, hint)
        if kind == "C2f":
            return self.c2f(x, layer, hint)
        if kind == "SPPF":
            return self.sppf(x, layer, hint)
        if kind == "Upsample":
            return self.upsample(x, layer, hint)
        raise UnsafeCheckpointError(f"{hint}: layer type {kind} is not supported")


def build_onnx(model: Module) -> onnx.ModelProto:
    """The ONNX model of a YOLOv8 DetectionModel stand-in (see the module docstring)."""
    built = YoloGraph(model).build()
    onnx.checker.check_model(built)
    return built


def convert(checkpoint: bytes) -> bytes:
    """A YOLOv8 ``.pt`` checkpoint's bytes to the serialized ONNX model (deterministic).

    Raises :class:`UnsafeCheckpointError` for a refused, malformed or unsupported checkpoint.
    """
    network = detection_model(read_checkpoint(checkpoint))
    try:
        model = build_onnx(network)
    except (TypeError, ValueError, KeyError, IndexError, onnx.checker.ValidationError) as exc:
        raise UnsafeCheckpointError(f"unsupported YOLOv8 checkpoint: {exc}") from exc
    return bytes(model.SerializeToString())
