"""Which decoder reads each file, decided from the file's own bytes.

TensorFlow's native decoders (``tf.io.decode_jpeg/png/gif/bmp``) run inside parallel
``tf.data`` map calls without the Python GIL; PIL reads everything else. The choice is made
per file by :func:`sniff`, which reads the header and the last bytes of the file (a JPEG
is read whole: its markers are walked to the end-of-image marker, 70-90 us per
file with the open), cached per ``(path, size, mtime)``. The extension is not trusted: a ``.jpg`` holding
PNG bytes is read as PNG.

TensorFlow decodes (code in brackets):

- JPEG, baseline/extended/progressive Huffman, 8-bit, 1 component [``JPEG_GREY``] or
  3 components [``JPEG_RGB``];
- PNG, 8-bit grey [``PNG_GREY``], RGB or palette without transparency [``PNG_RGB``],
  grey+alpha [``PNG_GREY_ALPHA``], RGBA or palette with a ``tRNS`` chunk [``PNG_RGBA``];
  a ``tRNS`` chunk on grey/RGB is ignored by both decoders;
- GIF whose first frame covers the whole canvas and has no transparent colour [``GIF``];
- BMP, uncompressed 24-bit with a Windows header [``BMP``].

Everything else goes to PIL [``PIL``]: CMYK/YCCK JPEG, 12-bit, lossless or arithmetic-coded
JPEG, 16-bit or sub-8-bit grey PNG, GIF with transparency or a partial first frame,
palette/16/32-bit or compressed BMP, PGM/PPM/PBM, TIFF, WebP, and any file whose header
or trailer does not check out (truncated or not an image): PIL then decodes it or raises
an error that names the file.
"""

from __future__ import annotations

import os
import struct
import threading

__all__ = ["DECODER_NAMES", "sniff", "sniff_paths"]

PIL, JPEG_GREY, JPEG_RGB, PNG_GREY, PNG_RGB, PNG_GREY_ALPHA, PNG_RGBA, GIF, BMP = range(9)
DECODER_NAMES = ("pil", "jpeg_grey", "jpeg_rgb", "png_grey", "png_rgb", "png_grey_alpha",
                 "png_rgba", "gif", "bmp")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
# SOF markers TensorFlow's libjpeg reads: baseline, extended sequential, progressive
# (Huffman). Lossless (C3), hierarchical (C5-C7) and arithmetic (C9-CF) go to PIL.
_JPEG_SOF_NATIVE = {0xC0, 0xC1, 0xC2}
_JPEG_SOF_OTHER = {0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_HEAD = 64

_cache: dict[tuple, int] = {}
_cache_lock = threading.Lock()
_CACHE_LIMIT = 1_000_000


def _jpeg(handle, head: bytes) -> int:
    """Walk the marker segments to the frame header (SOFn)."""
    position = 2
    while True:
        handle.seek(position)
        marker = handle.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return PIL
        code = marker[1]
        while code == 0xFF:  # fill bytes
            byte = handle.read(1)
            if not byte:
                return PIL
            position += 1
            code = byte[0]
        if code == 0x01 or 0xD0 <= code <= 0xD7:  # standalone markers
            position += 2
            continue
        if code in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            return PIL
        length_bytes = handle.read(2)
        if len(length_bytes) < 2:
            return PIL
        (length,) = struct.unpack(">H", length_bytes)
        if code in _JPEG_SOF_NATIVE or code in _JPEG_SOF_OTHER:
            frame = handle.read(6)
            if code in _JPEG_SOF_OTHER or len(frame) < 6 or frame[0] != 8:
                return PIL
            decoder = {1: JPEG_GREY, 3: JPEG_RGB}.get(frame[5], PIL)
            if decoder != PIL:
                handle.seek(position)
                if not _jpeg_markers_ok(handle.read()):
                    return PIL
            return decoder
        if length < 2:
            return PIL
        position += 2 + length


# Markers that may follow the frame header: DHT, DAC, DQT, DRI, SOS, DNL, COM, APPn, and
# the SOF markers of further frames are not allowed in a single-frame file.
_JPEG_SEGMENTS = {0xC4, 0xCC, 0xDB, 0xDD, 0xDA, 0xDC, 0xFE, *range(0xE0, 0xF0)}


def _jpeg_markers_ok(data: bytes) -> bool:
    """Every marker from the frame header on is one libjpeg accepts, and EOI is reached.

    Junk written over a JPEG usually contains 0xFF followed by a byte that is neither
    stuffing (0x00) nor a restart marker; libjpeg then stops with an error inside the
    tf.data graph, where the message cannot name the file. Such files go to PIL, whose
    error names them. Corrupt entropy-coded data without stray markers only draws
    libjpeg warnings (both decoders then decode what they can).
    """
    size, i = len(data), 0
    first = True
    while i < size:
        if data[i] != 0xFF:
            return False
        while i < size and data[i] == 0xFF:
            i += 1
        if i >= size:
            return False
        code = data[i]
        i += 1
        if code == 0xD9:
            return True
        if code == 0x01 or 0xD0 <= code <= 0xD7:
            continue
        if not first and code not in _JPEG_SEGMENTS:
            return False
        first = False
        if i + 2 > size:
            return False
        length = (data[i] << 8) | data[i + 1]
        if length < 2:
            return False
        i += length
        if code == 0xDA:  # entropy-coded data up to the next real marker
            while True:
                i = data.find(b"\xff", i)
                if i < 0 or i + 1 >= size:
                    return False
                following = data[i + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    i += 2
                elif following == 0xFF:
                    i += 1
                else:
                    break
    return False


def _png(handle, head: bytes) -> int:
    if len(head) < 33 or head[12:16] != b"IHDR":
        return PIL
    depth, colour = head[24], head[25]
    position, transparency = 33, False
    while True:  # chunks before the image data: is there a tRNS?
        handle.seek(position)
        header = handle.read(8)
        if len(header) < 8:
            return PIL
        length, kind = struct.unpack(">I", header[:4])[0], header[4:]
        if kind == b"IDAT":
            break
        if kind == b"IEND":
            return PIL
        transparency |= kind == b"tRNS"
        position += 12 + length
    if colour == 3 and depth in (1, 2, 4, 8):
        return PNG_RGBA if transparency else PNG_RGB
    if depth != 8:
        return PIL
    return {0: PNG_GREY, 2: PNG_RGB, 4: PNG_GREY_ALPHA, 6: PNG_RGBA}.get(colour, PIL)


def _skip_sub_blocks(handle) -> bool:
    while True:
        size = handle.read(1)
        if not size:
            return False
        if size[0] == 0:
            return True
        handle.seek(size[0], os.SEEK_CUR)


def _gif(handle, head: bytes) -> int:
    if len(head) < 13:
        return PIL
    width, height, packed = struct.unpack("<HHB", head[6:11])
    position = 13 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0)
    handle.seek(position)
    while True:
        block = handle.read(1)
        if not block or block[0] == 0x3B:
            return PIL
        if block[0] == 0x21:  # extension
            label = handle.read(1)
            if label == b"\xf9":  # graphic control: transparency flag
                body = handle.read(6)
                if len(body) < 6 or body[1] & 1:
                    return PIL
            elif not _skip_sub_blocks(handle):
                return PIL
            continue
        if block[0] == 0x2C:  # image descriptor of the first frame
            descriptor = handle.read(8)
            if len(descriptor) < 8:
                return PIL
            left, top, frame_width, frame_height = struct.unpack("<HHHH", descriptor)
            whole = (left, top, frame_width, frame_height) == (0, 0, width, height)
            return GIF if whole else PIL
        return PIL


def _bmp(handle, head: bytes, size: int) -> int:
    if len(head) < 34:
        return PIL
    offset, header_size, width, height, planes, bits, compression = struct.unpack(
        "<IIiiHHI", head[10:34]
    )
    if header_size not in (40, 52, 56, 108, 124) or bits != 24 or compression != 0:
        return PIL
    if width <= 0 or height == 0 or planes != 1:
        return PIL
    row = (24 * width + 31) // 32 * 4
    return BMP if size >= offset + row * abs(height) else PIL


def _trailer_ok(handle, size: int, kind: str) -> bool:
    if kind == "jpeg":
        return True  # _jpeg_markers_ok walked to the end-of-image marker
    if kind == "png":
        handle.seek(max(size - len(_PNG_IEND), 0))
        return handle.read() == _PNG_IEND
    if kind == "gif":
        handle.seek(size - 1)
        return handle.read(1) == b"\x3b"
    return True


def _sniff_open(path: str, size: int) -> int:
    with open(path, "rb") as handle:
        head = handle.read(_HEAD)
        if head[:3] == b"\xff\xd8\xff":
            kind, code = "jpeg", _jpeg(handle, head)
        elif head[:8] == _PNG_SIGNATURE:
            kind, code = "png", _png(handle, head)
        elif head[:6] in (b"GIF87a", b"GIF89a"):
            kind, code = "gif", _gif(handle, head)
        elif head[:2] == b"BM":
            kind, code = "bmp", _bmp(handle, head, size)
        else:
            return PIL
        if code != PIL and not _trailer_ok(handle, size, kind):
            return PIL
        return code


def sniff(path, stat: os.stat_result | None = None) -> int:
    """The decoder code (index into :data:`DECODER_NAMES`) for one file.

    Raises FileNotFoundError naming the file when it does not exist. Unreadable or
    malformed headers give ``PIL`` (which then raises an error naming the file).
    """
    path = os.fspath(path)
    if stat is None:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            raise FileNotFoundError(f"image file not found: {path}") from None
    key = (path, stat.st_size, stat.st_mtime_ns)
    code = _cache.get(key)
    if code is None:
        try:
            code = _sniff_open(path, stat.st_size)
        except FileNotFoundError:
            raise FileNotFoundError(f"image file not found: {path}") from None
        except (OSError, struct.error, ValueError):
            code = PIL
        with _cache_lock:
            if len(_cache) >= _CACHE_LIMIT:
                _cache.clear()
            _cache[key] = code
    return code


def sniff_paths(paths, stats=None) -> list[int]:
    """:func:`sniff` for every path (``stats``: matching ``os.stat`` results, optional)."""
    if stats is None:
        return [sniff(path) for path in paths]
    return [sniff(path, stat) for path, stat in zip(paths, stats)]
