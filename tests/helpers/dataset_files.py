"""Datasets for the tests: gratings of known orientation, scikit-image's photographs, and the
hostile archives a dataset upload must refuse."""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skimage_data

GRATING_ANGLES = (0, 45, 90, 135)
"""Stripe orientations, degrees: 0 vertical, 90 horizontal (as featviz_engine.toy_network)."""
PHOTOS = ("astronaut", "coffee", "chelsea", "camera", "brick", "grass")


def encoded(pixels: np.ndarray, kind: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, kind)
    return buffer.getvalue()


def grating(angle: float, size: int, period: float, phase: float, colour: np.ndarray) -> np.ndarray:
    """Stripes at ``angle`` (0: vertical) in a colour on grey, uint8 RGB."""
    coordinates = np.arange(size) - (size - 1) / 2
    x, y = np.meshgrid(coordinates, coordinates)
    theta = math.radians(angle)
    wave = np.sin(2 * math.pi * (x * math.cos(theta) + y * math.sin(theta)) / period + phase)
    pixels = 127.5 + 120 * wave[..., None] * colour
    return np.clip(pixels, 0, 255).astype(np.uint8)


def gratings(per_angle: int, size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``grating_{angle}_{n}.png`` -> pixels: random period, phase and colour."""
    rng = np.random.default_rng(seed)
    images = {}
    for angle in GRATING_ANGLES:
        for n in range(per_angle):
            colour = rng.uniform(0.5, 1.0, 3) * rng.choice([-1.0, 1.0])
            pixels = grating(angle, size, rng.uniform(5, 9), rng.uniform(0, 2 * math.pi), colour)
            images[f"grating_{angle:03d}_{n}.png"] = pixels
    return images


def photos(size: int) -> dict[str, np.ndarray]:
    """scikit-image's photographs, RGB, centre-cropped and resized to ``size``."""
    images = {}
    for name in PHOTOS:
        picture = Image.fromarray(getattr(skimage_data, name)()).convert("RGB")
        side = min(picture.size)
        picture = picture.crop((0, 0, side, side)).resize((size, size))
        images[f"photos/{name}.jpg"] = np.asarray(picture)
    return images


def operator_images() -> dict[str, np.ndarray]:
    """The images of the S3 stack's ``textures`` operator dataset."""
    return gratings(per_angle=1, size=40, seed=3)


def operator_objects(max_pixels: int) -> dict[str, bytes]:
    """Key -> bytes in the operator's bucket: ``textures/`` (the images, and a file a Mac's
    Finder adds) and ``too-big/``, one image over ``max_pixels``."""
    textures = {f"textures/{name}": encoded(pixels) for name, pixels in operator_images().items()}
    side = math.isqrt(max_pixels) + 1
    huge = encoded(np.zeros((side, side, 3), np.uint8))
    return textures | {"textures/.DS_Store": b"\0\0\0\1Bud1", "too-big/huge.png": huge}


def write_zip(
    path: Path, members: Mapping[str, bytes], compression: int = zipfile.ZIP_STORED
) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return path


def image_zip(path: Path, images: Mapping[str, np.ndarray]) -> Path:
    """A zip of the images, PNG or JPEG as their names say."""
    members = {
        name: encoded(pixels, "JPEG" if name.endswith(".jpg") else "PNG")
        for name, pixels in images.items()
    }
    return write_zip(path, members)


def _written(path: Path, payload: bytes) -> Path:
    path.write_bytes(payload)
    return path


def symlink_zip(path: Path) -> Path:
    """A zip whose one member is a symbolic link to /etc/passwd."""
    link = zipfile.ZipInfo("link.png")
    link.external_attr = (0o120777 << 16) | 0x20
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(link, "/etc/passwd")
    return path


def hostile_zips(folder: Path, max_images: int, max_pixels: int) -> dict[str, tuple[Path, str]]:
    """Archives to refuse, each with a phrase the reason must contain."""
    small = encoded(np.zeros((8, 8, 3), np.uint8))
    side = math.isqrt(max_pixels) + 16
    return {
        "zip bomb": (
            write_zip(folder / "bomb.zip", {"a.png": b"\0" * 20_000_000}, zipfile.ZIP_DEFLATED),
            "compression ratio",
        ),
        "path traversal": (write_zip(folder / "up.zip", {"../../etc/x.png": small}), "'..'"),
        "absolute path": (write_zip(folder / "abs.zip", {"/tmp/x.png": small}), "absolute"),
        "too many files": (
            write_zip(folder / "many.zip", {f"{n}.png": small for n in range(max_images + 1)}),
            f"image count {max_images + 1} exceeds FEATVIZ_DATASET_MAX_IMAGES ({max_images})",
        ),
        "pixel bomb": (
            write_zip(
                folder / "pixels.zip", {"huge.png": encoded(np.zeros((side, side, 3), np.uint8))}
            ),
            f"'huge.png': pixels {side * side} exceeds FEATVIZ_DATASET_MAX_IMAGE_PIXELS "
            f"({max_pixels}): {side}x{side} px",
        ),
        "not an image": (write_zip(folder / "text.zip", {"notes.txt": b"hello"}), "not a .png"),
        "truncated image": (
            write_zip(
                folder / "cut.zip", {"cut.png": encoded(np.zeros((64, 64, 3), np.uint8))[:60]}
            ),
            "not a whole PNG or JPEG",
        ),
        "not a zip": (_written(folder / "fake.zip", b"PK not really a zip"), "not a zip archive"),
        "symbolic link": (symlink_zip(folder / "link.zip"), "symbolic link"),
        "empty": (write_zip(folder / "empty.zip", {"__MACOSX/._a.png": b"x"}), "no images"),
    }
