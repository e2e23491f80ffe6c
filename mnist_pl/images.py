"""Your own pictures of digits, made to look like MNIST before the network sees them.

MNIST's digits are white ink on black, scaled to fit a 20x20 box (aspect kept, anti-aliased) and
placed in a 28x28 image so that their centre of mass is at pixel (14, 14). A photo or a scan is
anything but: dark ink on light paper, colour, any size, off centre. ``to_mnist`` does what
LeCun et al. did to the NIST scans, so a network trained on MNIST sees what it learned from.
"""

import contextlib
import fnmatch
import functools
import glob
import math
import os
import struct
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor

from mnist_pl.errors import UserError

# The pictures a folder or glob yields: every kind Pillow opens, as it registers them, but those that are
# no pictures of digits (videos, data files, drawings and documents: a folder's .mpg or .h5 was read
# and refused); a camera's .mpo (Pillow opens it as a JPEG); phones' HEIC/HEIF, which it reads with the
# pillow-heif plugin (``_heif``). A file named by itself is read whatever its name.
_NOT_PICTURES = {".mpg", ".mpeg", ".h5", ".hdf", ".grib", ".bufr", ".eps", ".ps", ".emf", ".wmf", ".iim"}


@functools.cache
def image_suffixes() -> frozenset[str]:
    """The suffixes above; read once, when predict looks for files: Pillow imports each of its plugins
    to list them, 40 ms that every other command need not wait for."""
    opened = {ext for ext, kind in Image.registered_extensions().items() if kind in Image.OPEN}
    return frozenset(opened - _NOT_PICTURES | {".mpo", ".heic", ".heif"})


def _listed(path: Path) -> bool:
    # A broken link, a FIFO or socket is listed so that predict names it, rather than leaving it out unsaid.
    return not path.is_dir()


def _files(folder: Path) -> list[Path]:
    """Every file in ``folder`` and its subfolders, linked ones too, but not hidden ones
    (``.ipynb_checkpoints``, macOS's ``__MACOSX`` of ``._`` files); a folder reached twice (through a
    link) once. A folder that cannot be read is an OSError: pathlib's rglob left it out without a word."""

    def unreadable(err: OSError) -> None:
        raise err

    files, seen = [], set()
    for top, folders, names in os.walk(folder, onerror=unreadable, followlinks=True):
        if os.path.realpath(top) in seen:  # a link back up the tree
            folders.clear()
            continue
        seen.add(os.path.realpath(top))
        folders[:] = sorted(name for name in folders if not name.startswith(".") and name != "__MACOSX")
        paths = (Path(top, name) for name in names if not name.startswith("."))
        files += [path for path in paths if _listed(path)]
    return sorted(files)


def _glob(pattern: Path) -> list[Path]:
    """The files a glob pattern names: the files it matches, and those of the folders it matches.

    ``**`` (a whole part) matches any depth. Its walk is a folder's (``_files``): links
    followed, each folder once, hidden ones left out. ``glob.glob(recursive=True)`` ran around a
    link back up the tree without end; pathlib's followed no link, and differs between Pythons.
    """
    if "**" not in pattern.parts:
        matches = [Path(match) for match in glob.glob(str(pattern))]
        return [file for match in matches for file in (_files(match) if match.is_dir() else [match])]
    first = next(i for i, part in enumerate(pattern.parts) if any(c in part for c in "*?["))
    base, wanted = Path(*pattern.parts[:first]), pattern.parts[first:]
    if not base.is_dir():
        return []
    files = [(file, file.relative_to(base).parts) for file in _files(base)]
    # The file matches, or a folder it is in does.
    return [file for file, parts in files if any(_matches(parts[:depth], wanted) for depth in range(1, len(parts) + 1))]


def _matches(parts: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_matches(parts[i:], pattern[1:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _matches(parts[1:], pattern[1:])


def find_images(spec: str) -> tuple[list[Path], list[Path]]:
    """The image files that ``spec`` names: one file, every image file in a folder and its subfolders
    (one per class, say), or those a glob pattern matches, the same way; and the other files it found
    there, not images by their names (``image_suffixes``), for the caller to say it left them out."""
    if not spec:  # Path("") is the current folder
        raise UserError("--data.predict_path is empty: give a file, folder or glob of images")
    try:
        path = Path(spec).expanduser()
    except RuntimeError as err:  # ~name of no such user
        raise UserError(f"--data.predict_path {spec}: {err}: check the path") from err
    try:
        if path.is_dir():
            found = _files(path)
        elif path.exists() or path.is_symlink():
            return [path], []
        else:  # A glob: ** for any depth; a folder it matches ("the class folders") read as a folder is.
            found = _glob(path)
    except OSError as err:  # a folder on the way that this user may not read
        raise UserError(f"--data.predict_path {spec}: cannot read it ({err.strerror}): make it readable") from err
    # Each file once, under its first name: a folder and a link to it may both match.
    unique: dict[str, Path] = {}
    for file in sorted(found):
        unique.setdefault(os.path.realpath(file), file)
    files = sorted(unique.values())
    images = [file for file in files if file.suffix.lower() in image_suffixes()]
    others = [file for file in files if file.suffix.lower() not in image_suffixes()]
    if not files and not path.is_dir():
        raise UserError(f"--data.predict_path {spec}: no such file, folder or matching files: check the path")
    if not images:
        others_found = f", {len(others)} other(s) ({suffixes(others)})" if others else ""
        raise UserError(
            f"--data.predict_path {spec}: no image files{others_found}: give PNG or JPEG files, or name each file "
            "itself"
        )
    return images, others


def suffixes(files: list[Path]) -> str:
    """The kinds of ``files`` by their suffixes, as a reader scans them: ".txt, .csv, no suffix"."""
    return ", ".join(dict.fromkeys(file.suffix.lower() or "no suffix" for file in files))


def _ring(grey: np.ndarray, depth: int) -> np.ndarray:
    """The pixels ``depth`` pixels in from the edge, all round."""
    inner = grey[depth : grey.shape[0] - depth, depth : grey.shape[1] - depth]
    return np.concatenate([inner[0], inner[-1], inner[1:-1, 0], inner[1:-1, -1]])


def frame_depth(grey: np.ndarray) -> int:
    """How many pixels deep a frame around the paper is: an edge of one shade (a frame, a form's box
    lines, the desk around a photographed sheet) around a ring of another, the paper's; 0 if none.

    Read from the edge, the sheet inside was taken for ink, a lit block, and named at 44-66%
    confidence. Within 15% of the ink's contrast is one shade; a frame differs from the paper by
    more than 20% of it (a phone's uneven light, 0.1). Looked for in the outer quarter only, and
    only where most of the edge is one shade: of 1,000 test digits cropped to their ink, 2 had a
    frame found in them without that. A desk on one side only, or round a crooked sheet, is not found.
    """
    edge = _ring(grey, 0)
    shade = np.median(edge)
    contrast = np.abs(grey - shade).max()
    if np.mean(np.abs(edge - shade) < 0.15 * contrast) < 0.7:  # mostly not one shade: no frame
        return 0
    for depth in range(1, min(grey.shape) // 4):
        ring = _ring(grey, depth)
        paper = np.median(ring)
        if abs(paper - shade) > 0.2 * contrast and np.mean(np.abs(ring - paper) < 0.15 * contrast) >= 0.9:
            return depth
    return 0


def to_mnist(image: Image.Image) -> Tensor:
    """Any picture of one digit -> uint8 (28, 28), bright ink on black, centred like MNIST."""
    # A phone stores its sensor's pixels and says in EXIF how to turn them: a digit read as stored
    # lay on its side (15% right on 100 test digits, 85% upright).
    with contextlib.suppress(struct.error, TypeError, ValueError, KeyError, OSError):  # a malformed tag: as stored
        image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P", "PA"):  # transparent areas are paper
        rgba = image.convert("RGBA")
        drawn = np.asarray(ImageOps.grayscale(rgba))[np.asarray(rgba.getchannel("A")) > 0]
        # Drawn in one colour, the digit is in the alpha channel (a canvas export): the paper is the
        # other shade, or white ink on white paper left nothing to see.
        light_ink = drawn.size > 0 and int(drawn.max()) - int(drawn.min()) < 32 and drawn.mean() > 127
        image = Image.alpha_composite(Image.new("RGBA", image.size, "black" if light_ink else "white"), rgba)
    if image.mode == "I" or image.mode.startswith("I;16"):  # 16-bit grey: Pillow's grayscale clips it to 255
        grey = np.asarray(image, dtype=np.float32)
        # Levels of as many bits as its brightest pixel needs: a 32-bit TIFF may hold 8-bit levels, a
        # scientific camera's 16-bit file 10 or 12 bits; read as 16-bit levels, those were blank.
        top = float(grey.max())
        grey *= 255 / next((2.0**bits - 1 for bits in (8, 10, 12, 14, 16) if top <= 2**bits - 1), top)
    elif image.mode == "F":  # Pillow's grayscale cut levels in [0, 1], as scientific software writes them, to 0 and 1
        grey = np.nan_to_num(np.asarray(image, dtype=np.float32))
        top = grey.max()  # [0, 1], 8-bit or 16-bit levels; a resize overshoots its range's top (Lanczos: 10%)
        grey *= 255 if top <= 1.25 else 1 / 257 if top > 1.25 * 255 else 1
    else:
        grey = np.asarray(ImageOps.grayscale(image), dtype=np.float32)
    # Ink is whatever differs from the paper; the paper's shade is the median of the border, inside
    # a frame if there is one.
    depth = frame_depth(grey)
    grey = grey[depth : grey.shape[0] - depth, depth : grey.shape[1] - depth]
    ink = np.abs(grey - np.median(_ring(grey, 0)))
    # A blank page: nothing differs from the paper by more than noise (a photo of an empty page,
    # 240 +- 2 in JPEG, had its noise stretched into a digit). Pencil on paper differs by 30 or more.
    if ink.max() < 16:
        return torch.zeros(28, 28, dtype=torch.uint8)
    ink = np.clip(ink / ink.max(), 0, 1)
    ink[ink < 0.2] = 0  # paper texture and JPEG noise are not ink
    rows, cols = np.nonzero(ink)
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = ink.shape
    scale = 20 / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    box = np.asarray(Image.fromarray(ink * 255).resize(size, Image.Resampling.LANCZOS), dtype=np.float32)
    box = np.clip(box, 0, 255)
    # Centre of mass where MNIST has it: (14.0, 14.0) in pixel indices (measured: 13.99 and 14.01 on
    # average, 0.29 apart from digit to digit), not the grid's middle, 13.5, half a pixel off.
    total = box.sum()
    cy = (box.sum(axis=1) * np.arange(box.shape[0])).sum() / total
    cx = (box.sum(axis=0) * np.arange(box.shape[1])).sum() / total
    top = int(np.clip(round(14 - cy), 0, 28 - box.shape[0]))
    left = int(np.clip(round(14 - cx), 0, 28 - box.shape[1]))
    out = np.zeros((28, 28), dtype=np.float32)
    out[top : top + box.shape[0], left : left + box.shape[1]] = box
    return torch.from_numpy(out.round().astype(np.uint8))


@functools.cache
def _heif() -> None:
    """Phones' HEIC/HEIF photos (an iPhone's default) opened by Pillow: pillow-heif's opener, registered
    as the first picture is read (its import takes 25 ms that other commands need not wait for).
    Without it each was "not a readable image (UnidentifiedImageError ...)"."""
    from pillow_heif import register_heif_opener

    register_heif_opener()


def _at_most_2048(image: Image.Image) -> Image.Image:
    """``image`` halved until at most 2,048 pixels wide and high, each pixel the mean of those it stands for."""
    factor = 2 ** max(0, math.ceil(math.log2(max(image.size) / 2048)))
    if factor == 1:
        return image
    # Pillow's reduce takes no 1-bit or 16-bit levels, and would average a palette's indices.
    wider = {"1": "L", "P": "RGBA", "PA": "RGBA"}.get(image.mode, "I" if image.mode.startswith("I;16") else None)
    return (image.convert(wider) if wider else image).reduce(factor)


def load_digit(path: Path) -> Tensor:
    """``to_mnist`` of the image file at ``path``; a file that is not a readable image, or a blank one,
    raises ``ValueError``.

    Pillow refuses images over twice ``Image.MAX_IMAGE_PIXELS`` (about 179 million pixels) as
    possible decompression bombs; that limit is kept. Past the limit itself it warned, in two lines
    naming no file: not here. A picture larger than 2,048 pixels is halved until it is not (a 100
    M-pixel one took 3.2 GB as floats): the digit ends up 20 pixels high.
    """
    if path.is_symlink() and not path.exists():
        raise ValueError(f"a link to {os.readlink(path)}, which does not exist or loops")
    if not path.is_file():  # reading a FIFO waited for a writer forever, deaf to SIGTERM
        raise ValueError("not a regular file (a FIFO, socket or device): give an image file")
    _heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
        with image:
            image.load()
            digit = to_mnist(_at_most_2048(image))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(f"not a readable image ({type(err).__name__}: {err})") from err
    if not digit.any():  # the network would still name a digit, with 10-20% confidence
        raise ValueError("a blank image: nothing on it differs from the paper")
    return digit
