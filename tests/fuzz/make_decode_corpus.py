#!/usr/bin/python3
"""Makes tests/fuzz/decode_corpus/: small JPEGs of every layout the decoder handles, the seeds
of the decode fuzz target (imgpack_fuzz_decode) and of its replay test. Deterministic; run from
the repository root with Debian's python3-pil: /usr/bin/python3 tests/fuzz/make_decode_corpus.py"""
import io
import os
import random

from PIL import Image, ImageDraw

OUT = "tests/fuzz/decode_corpus"


def picture(w, h, seed):
    rnd = random.Random(seed)
    img = Image.new("RGB", (w, h), (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    d = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = rnd.randrange(w), rnd.randrange(h)
        d.ellipse([x0, y0, x0 + rnd.randrange(1, w + 1), y0 + rnd.randrange(1, h + 1)],
                  fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    for y in range(0, h, 3):
        d.line([0, y, w, (y * 7) % (h + 1)], fill=(rnd.randrange(256),) * 3)
    return img


def save(name, img, **kw):
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(buf.getvalue())


os.makedirs(OUT, exist_ok=True)
save("420.jpg", picture(67, 45, 1), quality=80, subsampling=2)
save("422.jpg", picture(40, 33, 2), quality=80, subsampling=1)
save("444.jpg", picture(31, 29, 3), quality=85, subsampling=0)
save("progressive-420.jpg", picture(48, 40, 4), quality=75, subsampling=2, progressive=True)
save("progressive-444.jpg", picture(23, 30, 5), quality=75, subsampling=0, progressive=True)
save("optimized.jpg", picture(50, 20, 6), quality=70, optimize=True)
save("gray.jpg", picture(33, 35, 7).convert("L"), quality=80)
save("gray-progressive.jpg", picture(20, 41, 8).convert("L"), quality=80, progressive=True)
save("cmyk.jpg", picture(24, 18, 9).convert("CMYK"), quality=80)
save("tiny.jpg", picture(1, 1, 10), quality=90)
save("wide.jpg", picture(300, 2, 11), quality=60)
