"""tools/torch/distill_file.py - read and write distill.h weight files (docs/FORMAT.md)
in plain Python (struct only; no torch needed here).

    arch, tensors, meta = read(path_or_bytes)
    data = write(arch, tensors, meta)

arch: {"input": (c, h, w), "seed": int, "layers": [layer dicts]}; a layer dict
holds "kind" (a name from KINDS) and any of the fields of dst_layer_desc
(units, no_bias, init, param, kernel_h, kernel_w, stride_h, stride_w, pad_h,
pad_w, dilation_h, dilation_w, groups, eps); missing fields are 0.
tensors: {"0.weight": (shape tuple, list-or-bytes of float32), ...} in the
state_dict names of an nn.Sequential; write() lays them out exactly as
distill.h does, so the file can be used in place.
meta: {key: str or float}.
"""
import struct
import zlib

MAGIC = b"\x89DST\r\n\x1a\n"
VERSION = (1, 0)
KINDS = ["dense", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax", "dropout", "conv2d",
         "maxpool2d", "avgpool2d", "global_avgpool", "batchnorm", "flatten", "dropout2d"]
INT_FIELDS = ["units", "no_bias", "init"]
GEOM_FIELDS = ["kernel_h", "kernel_w", "stride_h", "stride_w", "pad_h", "pad_w", "dilation_h", "dilation_w",
               "groups"]
LAYER_RECORD = 64
REQUIRED = 1


class FormatError(ValueError):
    pass


def _chunk(tag, payload, flags=REQUIRED):
    pad = (-len(payload)) % 8
    return tag + struct.pack("<IQ", flags, len(payload)) + payload + b"\0" * pad


def _round(x, a):
    return (x + a - 1) // a * a


def _layer_record(L):
    kind = KINDS.index(L["kind"])
    rec = struct.pack("<IiII", kind, L.get("units", 0), L.get("no_bias", 0), L.get("init", 0))
    rec += struct.pack("<f", L.get("param", 0.0))
    rec += struct.pack("<9i", *[L.get(f, 0) for f in GEOM_FIELDS])
    rec += struct.pack("<f", L.get("eps", 0.0))
    return rec + b"\0" * (LAYER_RECORD - len(rec))


def _f32_bytes(values):
    if isinstance(values, (bytes, bytearray)):
        return bytes(values)
    return struct.pack("<%df" % len(values), *values)


def write(arch, tensors, meta=None):
    """The bytes of a weight file. tensors must hold every parameter and
    running statistic of the layers (weight, bias unless no_bias, running_mean
    and running_var of batchnorm layers)."""
    meta = meta or {}
    layers = arch["layers"]
    # parameters as distill.h lays them out: per layer weight then bias, each layer 16-float aligned
    order, buffers = [], []
    poff = boff = 0
    for i, L in enumerate(layers):
        n = 0
        for slot in ("weight", "bias"):
            name = "%d.%s" % (i, slot)
            if name in tensors:
                order.append((name, poff + n))
                n += _count(tensors[name][0])
        poff += _round(n, 16)
        for slot in ("running_mean", "running_var"):
            name = "%d.%s" % (i, slot)
            if name in tensors:
                buffers.append((name, boff))
                boff += _count(tensors[name][0])
    names = [n for n, _ in order] + [n for n, _ in buffers]
    extra = set(tensors) - set(names)
    if extra:
        raise ValueError("tensors not belonging to a layer: %s" % sorted(extra))
    c, h, w = arch["input"]
    archp = struct.pack("<IIIIQII", c, h, w, len(layers), arch.get("seed", 1), LAYER_RECORD, 0)
    archp += b"".join(_layer_record(L) for L in layers)

    def tens_payload(offsets):
        p = struct.pack("<II", len(names), 0)
        for name in names:
            shape = tensors[name][0]
            nb = name.encode()
            p += struct.pack("<H", len(nb)) + nb + struct.pack("<BB", 1, len(shape))
            p += b"".join(struct.pack("<Q", d) for d in shape) + struct.pack("<Q", offsets[name])
        return p

    metap = struct.pack("<II", len(meta), 0)
    for k, v in meta.items():
        kb = k.encode()
        if not 1 <= len(kb) <= 255:
            raise ValueError("metadata key %r: 1 to 255 bytes" % k)
        if isinstance(v, str):
            vb = v.encode()
            metap += struct.pack("<BB", 1, len(kb)) + kb + struct.pack("<I", len(vb)) + vb
        else:
            metap += struct.pack("<BB", 2, len(kb)) + kb + struct.pack("<d", float(v))
    # the chunks' sizes do not depend on the offsets' values
    chunks_len = 32 + len(_chunk(b"ARCH", archp)) + len(_chunk(b"TENS", tens_payload({n: 0 for n in names})))
    chunks_len += len(_chunk(b"META", metap))
    params_at = _round(chunks_len, 64)
    buffers_at = _round(params_at + 4 * poff, 64)
    offsets = {n: params_at + 4 * o for n, o in order}
    offsets.update({n: buffers_at + 4 * o for n, o in buffers})
    body = _chunk(b"ARCH", archp) + _chunk(b"TENS", tens_payload(offsets)) + _chunk(b"META", metap)
    data = bytearray(buffers_at + 4 * boff - chunks_len)
    for name in names:
        b = _f32_bytes(tensors[name][1])
        if len(b) != 4 * _count(tensors[name][0]):
            raise ValueError("%s: %d bytes of data for shape %s" % (name, len(b), tensors[name][0]))
        o = offsets[name] - chunks_len
        data[o:o + len(b)] = b
    body += bytes(data)
    size = 32 + len(body)
    head = MAGIC + struct.pack("<HHIQI", VERSION[0], VERSION[1], 3, size, zlib.crc32(body) & 0xFFFFFFFF)
    head += struct.pack("<I", zlib.crc32(head) & 0xFFFFFFFF)
    return head + body


def _count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def read(src):
    """(arch, tensors, meta) from a path or bytes; tensors values are (shape, bytes little-endian f32).
    Raises FormatError on anything that is not a valid version 1.x file."""
    if isinstance(src, (bytes, bytearray)):
        b = bytes(src)
    else:
        with open(src, "rb") as f:
            b = f.read()
    if len(b) < 32 or b[:8] != MAGIC:
        raise FormatError("not a distill.h weight file (magic)")
    major, minor, nchunks, size, crc = struct.unpack_from("<HHIQI", b, 8)
    if struct.unpack_from("<I", b, 28)[0] != zlib.crc32(b[:28]) & 0xFFFFFFFF:
        raise FormatError("header CRC mismatch")
    if major != 1:
        raise FormatError("format version %d.%d: this reader knows 1.x" % (major, minor))
    if size != len(b):
        raise FormatError("file is %d bytes, header says %d" % (len(b), size))
    if zlib.crc32(b[32:]) & 0xFFFFFFFF != crc:
        raise FormatError("body CRC mismatch: the file is corrupt")
    pos, chunks = 32, {}
    for _ in range(nchunks):
        if pos + 16 > len(b):
            raise FormatError("chunk header truncated at byte %d" % pos)
        tag = b[pos:pos + 4]
        flags, n = struct.unpack_from("<IQ", b, pos + 4)
        if pos + 16 + _round(n, 8) > len(b):
            raise FormatError("chunk %r at byte %d runs past the end" % (tag, pos))
        if tag in (b"ARCH", b"TENS", b"META", b"TRAI"):
            chunks[tag] = b[pos + 16:pos + 16 + n]
        elif flags & REQUIRED:
            raise FormatError("required chunk %r unknown to this reader" % tag)
        pos += 16 + _round(n, 8)
    if b"ARCH" not in chunks or b"TENS" not in chunks:
        raise FormatError("no ARCH or TENS chunk")
    a = chunks[b"ARCH"]
    c, h, w, count, seed, rec, _ = struct.unpack_from("<IIIIQII", a, 0)
    if rec < LAYER_RECORD or len(a) != 32 + count * rec:
        raise FormatError("ARCH chunk size")
    layers = []
    for i in range(count):
        r = a[32 + i * rec:32 + (i + 1) * rec]
        kind, units, no_bias, init = struct.unpack_from("<IiII", r, 0)
        if kind >= len(KINDS):
            raise FormatError("layer %d: unknown kind %d" % (i, kind))
        if any(r[60:]):
            raise FormatError("layer %d: fields of a newer minor version" % i)
        L = {"kind": KINDS[kind], "units": units, "no_bias": no_bias, "init": init,
             "param": struct.unpack_from("<f", r, 16)[0], "eps": struct.unpack_from("<f", r, 56)[0]}
        L.update(zip(GEOM_FIELDS, struct.unpack_from("<9i", r, 20)))
        layers.append(L)
    arch = {"input": (c, h, w), "seed": seed, "layers": layers}
    t = chunks[b"TENS"]
    (n,) = struct.unpack_from("<I", t, 0)
    p, tensors = 8, {}
    for _ in range(n):
        (ln,) = struct.unpack_from("<H", t, p)
        name = t[p + 2:p + 2 + ln].decode()
        dtype, nd = struct.unpack_from("<BB", t, p + 2 + ln)
        if dtype != 1:
            raise FormatError("tensor %s: dtype %d (float32 only)" % (name, dtype))
        shape = struct.unpack_from("<%dQ" % nd, t, p + 4 + ln)
        (off,) = struct.unpack_from("<Q", t, p + 4 + ln + 8 * nd)
        nbytes = 4 * _count(shape)
        if off + nbytes > len(b) or off % 4:
            raise FormatError("tensor %s: offset %d" % (name, off))
        tensors[name] = (tuple(shape), b[off:off + nbytes])
        p += 4 + ln + 8 * nd + 8
    meta = {}
    m = chunks.get(b"META", b"\0" * 8)
    (n,) = struct.unpack_from("<I", m, 0)
    p = 8
    for _ in range(n):
        typ, kl = struct.unpack_from("<BB", m, p)
        key = m[p + 2:p + 2 + kl].decode()
        p += 2 + kl
        if typ == 1:
            (vl,) = struct.unpack_from("<I", m, p)
            meta[key] = m[p + 4:p + 4 + vl].decode()
            p += 4 + vl
        elif typ == 2:
            meta[key] = struct.unpack_from("<d", m, p)[0]
            p += 8
        else:
            raise FormatError("metadata %r: type %d" % (key, typ))
    return arch, tensors, meta
