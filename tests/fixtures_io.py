"""tests/fixtures_io.py - the fixture file format, shared by the generators
(tests/gen_fixtures.py, tests/gen_conv_fixtures.py).

A fixture file is a list of named float32 arrays, little-endian:
  u32 name_len, name bytes, u32 ndim, u32 dims[ndim], f32 data[prod(dims)]
repeated to the end of the file; tests/test.h's t_fixture_load reads it
(names under 64 bytes, at most 256 arrays per file).
"""
import os
import struct

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


class Writer:
    """Collects arrays, then writes OUT/name in one go."""

    def __init__(self, name):
        self.path = os.path.join(OUT, name)
        self.parts = []

    def add(self, name, t):
        t = torch.as_tensor(t).detach().to(torch.float32).contiguous()
        nb = name.encode()
        assert len(nb) < 64, name
        assert len(self.parts) < 256, "t_fixture_load reads at most 256 arrays per file"
        head = struct.pack("<I", len(nb)) + nb + struct.pack("<I", t.dim())
        head += b"".join(struct.pack("<I", d) for d in t.shape)
        self.parts.append(head + t.numpy().astype("<f4").tobytes())

    def close(self):
        os.makedirs(OUT, exist_ok=True)
        with open(self.path, "wb") as f:
            f.write(b"".join(self.parts))
        print("wrote %s (%d arrays)" % (self.path, len(self.parts)))
