"""Writes a real PNG of random RGB pixels for the browser test's upload: random so that neither
PNG's deflate nor anything on the way can shrink it, so the file is as large as its pixels
(1024 x 700 is 2.05 MiB, over the 2 MiB the test asks for and past the 1 MiB at which pyrite
spools a request body to a temporary file). Only the standard library: the PNG chunks are
written by hand (PNG spec: signature, IHDR, IDAT, IEND; each chunk length, type, data, CRC-32).

Usage: python make_png.py OUT WIDTH HEIGHT"""

import os
import struct
import sys
import zlib


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def main():
    out, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    row = 3 * width
    # Filter type 0 (None) before each row of 8-bit RGB samples.
    raw = b"".join(b"\x00" + os.urandom(row) for _ in range(height))
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 1))
        + chunk(b"IEND", b"")
    )
    with open(out, "wb") as f:
        f.write(png)


if __name__ == "__main__":
    main()
