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
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError
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
        named = any("[" in part.name and part.exists() for part in (path, *path.parents))  # scans [2024]/*.png
        brackets = " ([ ] in a glob are a set of characters: [[] matches a [ of a name)" if named else ""
        raise UserError(f"--data.predict_path {spec}: no such file, folder or matching files: check the path{brackets}")
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
    frame found in them without that. A desk deeper on some sides than others is no frame (``_sheet``):
    cut off all round as deep as its deepest side, the sheet lost the digit's edge.
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
        if abs(paper - shade) > 0.2 * contrast and np.mean(np.abs(ring - shade) < 0.02 * contrast) >= 0.1:
            return 0  # the edge's flat shade on some sides only, deeper in: a desk beside the sheet, not all round
    return 0


def _shrink(mask: np.ndarray, pixels: int) -> np.ndarray:
    """``mask`` less what lies within ``pixels`` of its edge or the picture's."""
    if min(mask.shape) <= 2 * pixels:
        return np.zeros_like(mask)
    shrunk = -torch.nn.functional.max_pool2d(-torch.tensor(mask, dtype=torch.float32)[None], 2 * pixels + 1, 1)
    return np.pad(shrunk[0].numpy() > 0, pixels)


def _hull(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The convex hull of (x, y) points, by Andrew's monotone chain."""

    def half(ordered: list[tuple[int, int]]) -> list[tuple[int, int]]:
        chain: list[tuple[int, int]] = []
        for x, y in ordered:
            while len(chain) >= 2 and (
                (chain[-1][0] - chain[-2][0]) * (y - chain[-2][1]) - (chain[-1][1] - chain[-2][1]) * (x - chain[-2][0])
                <= 0
            ):
                chain.pop()
            chain.append((x, y))
        return chain[:-1]

    points = sorted(set(points))
    return half(points) + half(points[::-1])


def _sheet(grey: np.ndarray, paper: float) -> np.ndarray | None:
    """Where the sheet of shade ``paper`` is, when a desk shows beside it (a sheet photographed off
    centre or crooked); ``None`` when nothing lies off it.

    The sheet is the convex hull of the paper's pixels. It counts only where a tenth of the picture's
    edge lies off it, and where the 3 pixels inside the cut (2 to 5 pixels in from the hull's edge)
    are paper: a tight crop's strokes cross the cut (on the first 300 test digits cropped to their
    ink, thin or bold, at most 79% paper there; beside a desk, 94-100% for all but 2 or 3 of 300).
    """
    on = np.abs(grey - paper) < 0.2 * np.abs(grey - paper).max()
    rows = np.nonzero(on.any(axis=1))[0]
    if rows.size == 0 or min(grey.shape) < 3:
        return None
    left, right = on[rows].argmax(axis=1), grey.shape[1] - 1 - on[rows, ::-1].argmax(axis=1)
    ends = [*zip(left.tolist(), rows.tolist(), strict=True), *zip(right.tolist(), rows.tolist(), strict=True)]
    hull = _hull(ends)
    if len(hull) < 3:
        return None
    drawn = Image.new("1", grey.shape[::-1])
    ImageDraw.Draw(drawn).polygon(hull, fill=1)
    inside = np.asarray(drawn)
    if np.mean(~_ring(inside, 0)) < 0.1:
        return None
    cut = _shrink(inside, 2) & ~_shrink(inside, 5)
    return inside if cut.any() and on[cut].mean() >= 0.9 else None


def paper_and_sheet(grey: np.ndarray) -> tuple[float, np.ndarray | None]:
    """The paper's shade: the median of the picture's edge, unless that shade fills no patch in the
    middle of the picture (a desk showing on every side, one deeper than another, or round a crooked
    sheet): then the shade that the sides meet first going in, where the middle half of a line is of
    one shade, if that shade is a sheet (``_sheet``) with none of the edge's shade inside.

    The desk was taken for the paper, the sheet read as a lit block. A digit leaves the paper between
    its strokes in 5x5 patches: the middle (the central quarter) of bold ones too. With the paper, the
    sheet off which a desk lies (``_sheet``; None where none does), found once.
    """
    edge = _ring(grey, 0)
    shade = float(np.median(edge))
    contrast = np.abs(grey - shade).max()
    height, width = grey.shape
    middle = grey[height // 4 : height - height // 4, width // 4 : width - width // 4]
    if _shrink(np.abs(middle - shade) < 0.1 * contrast, 2).mean() > 0.01:
        return shade, _sheet(grey, shade)
    found = []
    for side in (grey, grey[::-1], grey.T, grey.T[::-1]):  # top, bottom, left, right: lines from the edge in
        lines = side[: side.shape[0] // 2, side.shape[1] // 4 : side.shape[1] - side.shape[1] // 4]
        medians = np.median(lines, axis=1)
        one_shade = np.mean(np.abs(lines - medians[:, None]) < 0.15 * contrast, axis=1) >= 0.9
        first = np.nonzero(one_shade & (np.abs(medians - shade) > 0.2 * contrast))[0]
        if first.size:
            found.append(medians[first[0]])
    if not found:
        return shade, _sheet(grey, shade)
    paper = float(np.median(found))
    sheet = _sheet(grey, paper)
    if (
        sheet is None
        # The edge's shade in patches inside the "sheet": it is the paper, the "sheet" a blot of ink.
        or _shrink(np.abs(grey - shade) < 0.1 * contrast, 2)[sheet].mean() > 0.01
        or np.mean(np.abs(grey[~sheet] - shade) < 0.1 * contrast) < 0.8  # a page lit unevenly all round
        or np.abs(grey[sheet] - paper).max() < 1.1 * abs(shade - paper)  # the paper inside a blot of ink
    ):
        return shade, _sheet(grey, shade)
    return paper, sheet


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
    # Ink is whatever differs from the paper: its shade is the median of the border, inside a frame if
    # there is one, or the sheet's beside a desk, which is made paper.
    framed = False
    while depth := frame_depth(grey):  # a frame in a frame too: a box drawn a few pixels in from the edge
        grey, framed = grey[depth : grey.shape[0] - depth, depth : grey.shape[1] - depth], True
    paper, sheet = (np.median(_ring(grey, 0)), None) if framed else paper_and_sheet(grey)
    if sheet is not None:  # the desk beside the sheet is no ink, nor the sheet's edge, 2 pixels of blend
        grey = np.where(_shrink(sheet, 2), grey, paper)
    ink = np.abs(grey - paper)
    # A blank page: nothing differs from the paper by more than noise (a photo of an empty page,
    # 240 +- 2 in JPEG, had its noise stretched into a digit). Pencil on paper differs by 30 or more.
    if ink.max() < 16:
        return torch.zeros(28, 28, dtype=torch.uint8)
    # A speck of dust, 2 pixels across at most, where the ink is: drawn as a white square, it was named an "8".
    # Left out, what remains is read: a faint digit beside it had fallen below a fifth of the speck's ink.
    rows, cols = np.nonzero(ink >= 0.2 * ink.max())
    if np.ptp(rows) < 2 and np.ptp(cols) < 2:
        ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] = 0
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


class UnreadableImageError(ValueError):
    """A file ``load_digit`` cannot read as a digit: ``str()`` names the file, ``reason`` is why alone."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.reason = reason


def _pages(image: Image.Image) -> int:
    """The digits a file may hold: a scanner's TIFF of one a page, or an animation's frames, were read as their
    first alone, without a word. Not a TIFF's reduced-resolution pages (a thumbnail: its tag 254's bit 0), an APNG's
    default image shown where animations are not, a camera's MPO (a photo and its preview) or an icon's sizes."""
    if image.format == "TIFF":
        pages = 0
        for index in range(image.n_frames):
            image.seek(index)
            pages += not image.tag_v2.get(254, 0) & 1
        image.seek(0)
        return pages
    if image.format in ("GIF", "PNG", "WEBP"):
        return getattr(image, "n_frames", 1) - bool(image.info.get("default_image"))
    return 1


def load_digit(path: str | os.PathLike) -> Tensor:
    """``to_mnist`` of the image file at ``path``; a file that is not a readable image, or a blank one,
    raises ``UnreadableImageError``, a ``ValueError``.

    Pillow refuses images over twice ``Image.MAX_IMAGE_PIXELS`` (about 179 million pixels) as
    possible decompression bombs; that limit is kept. Past the limit itself it warned, in two lines
    naming no file: not here. A picture larger than 2,048 pixels is halved until it is not (a 100
    M-pixel one took 3.2 GB as floats): the digit ends up 20 pixels high.
    """
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise UnreadableImageError(path, f"a link to {os.readlink(path)}, which does not exist or loops")
    if not path.exists():  # was "not a regular file (a FIFO, socket or device)" (an audit)
        raise UnreadableImageError(path, "no such file: give the path of an image file")
    if not path.is_file():  # reading a FIFO waited for a writer forever, deaf to SIGTERM
        raise UnreadableImageError(path, "not a regular file (a FIFO, socket or device): give an image file")
    if path.stat().st_size == 0:  # was Pillow's "cannot identify image file", naming the file again
        raise UnreadableImageError(path, "not a readable image (an empty file, 0 bytes)")
    _heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
        with image:
            image.load()
            digit = to_mnist(_at_most_2048(image))
            frames = _pages(image)
    except UnidentifiedImageError as err:  # its message names the file, which the line names already
        raise UnreadableImageError(path, "not a readable image (no image format Pillow reads)") from err
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise UnreadableImageError(path, f"not a readable image ({type(err).__name__}: {err})") from err
    if frames > 1:
        raise UnreadableImageError(
            path, f"{frames} pages or frames, and a file here is one digit: save each as an image of its own"
        )
    if not digit.any():  # the network would still name a digit, with 10-20% confidence
        raise UnreadableImageError(path, "a blank image: nothing on it differs from the paper but noise or a speck")
    return digit
