#!/usr/bin/env python3
"""Draws the Born kernel logo (logo-32x32.png, logo-64x64.png) with the standard library only.

An orange disc (Rust's colour) holding a white orbit and nucleus: run once, commit the PNGs.
"""
import math
import struct
import zlib


def pixel(x, y):
    """RGBA of a point in the unit square (0..1)."""
    cx, cy = x - 0.5, y - 0.5
    r = math.hypot(cx, cy)
    if r > 0.48:
        return (0, 0, 0, 0)
    # Tilted elliptical orbit.
    a = math.radians(-30)
    u = cx * math.cos(a) - cy * math.sin(a)
    v = cx * math.sin(a) + cy * math.cos(a)
    e = math.hypot(u / 0.36, v / 0.15)
    if abs(e - 1.0) < 0.14 or r < 0.09:
        return (255, 255, 255, 255)
    # Electron on the orbit.
    ex, ey = 0.36 * math.cos(1.1), 0.15 * math.sin(1.1)
    if math.hypot(u - ex, v - ey) < 0.06:
        return (255, 255, 255, 255)
    return (206, 66, 43, 255)


def render(size, ss=4):
    rows = []
    for j in range(size):
        row = bytearray([0])
        for i in range(size):
            acc = [0, 0, 0, 0]
            for sj in range(ss):
                for si in range(ss):
                    p = pixel((i + (si + 0.5) / ss) / size, (j + (sj + 0.5) / ss) / size)
                    for k in range(3):
                        acc[k] += p[k] * p[3]
                    acc[3] += p[3]
            alpha = acc[3] / (ss * ss)
            rgb = [round(acc[k] / acc[3]) if acc[3] else 0 for k in range(3)]
            row += bytes(rgb + [round(alpha)])
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(tag, data):
        c = tag + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


if __name__ == "__main__":
    for s in (32, 64):
        with open(f"logo-{s}x{s}.png", "wb") as f:
            f.write(render(s))
