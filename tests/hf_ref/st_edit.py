#!/usr/bin/env python3
"""Edit a safetensors file for gpt-convert's tests (plain Python 3, no torch).

  st_edit.py IN OUT OP [ARGS...]
    strip-prefix              drop "transformer." from every name
    drop NAME                 remove a tensor
    reshape NAME D0,D1        give a tensor another shape of the same size
    offsets NAME BEGIN END    set a tensor's data_offsets as given
    buffers                   add each layer's attn.bias (BOOL causal mask)
                              and attn.masked_bias (F32 scalar) buffers
    lm-head [PERTURB]         add lm_head.weight = wte (+ PERTURB on one value)
    dtype F16|BF16            store every tensor in that dtype
    extra NAME                add an unknown 1-element F32 tensor
    header-len N              write N as the header length
    bad-json                  break the header JSON
"""
import json
import struct
import sys


def load(path):
    b = open(path, "rb").read()
    n = struct.unpack_from("<Q", b, 0)[0]
    hdr = json.loads(b[8:8 + n])
    return hdr, b[8 + n:]


def tensors(hdr, data):
    meta = hdr.pop("__metadata__", None)
    out = []
    for k, v in sorted(hdr.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, e = v["data_offsets"]
        out.append([k, v["dtype"], v["shape"], data[b:e]])
    return out, meta


def save(path, ts, meta, raw_header=None):
    hdr, data, off = {}, b"", 0
    if meta is not None:
        hdr["__metadata__"] = meta
    for name, dt, shape, buf in ts:
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(buf)]}
        data += buf
        off += len(buf)
    h = raw_header if raw_header is not None else json.dumps(hdr).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def f32s(buf):
    return struct.unpack(f"<{len(buf) // 4}f", buf)


def main():
    src, dst, op, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    hdr, data = load(src)
    if op in ("offsets", "header-len", "bad-json"):
        if op == "offsets":
            hdr[args[0]]["data_offsets"] = [int(args[1]), int(args[2])]
            h = json.dumps(hdr).encode()
        elif op == "bad-json":
            h = json.dumps(hdr).encode()[:-5] + b"]]]]]"
        else:
            h = json.dumps(hdr).encode()
        with open(dst, "wb") as f:
            n = int(args[0]) if op == "header-len" else len(h)
            f.write(struct.pack("<Q", n) + h + data)
        return
    ts, meta = tensors(hdr, data)
    if op == "strip-prefix":
        for t in ts:
            t[0] = t[0].replace("transformer.", "", 1)
    elif op == "drop":
        ts = [t for t in ts if t[0] != args[0]]
    elif op == "reshape":
        for t in ts:
            if t[0] == args[0]:
                t[2] = [int(x) for x in args[1].split(",")]
    elif op == "buffers":
        cfg_T = 128
        layers = sorted({int(t[0].split(".h.")[1].split(".")[0]) for t in ts if ".h." in t[0]})
        for l in layers:
            mask = bytes(1 if j <= i else 0 for i in range(cfg_T) for j in range(cfg_T))
            ts.append([f"transformer.h.{l}.attn.bias", "BOOL", [1, 1, cfg_T, cfg_T], mask])
            ts.append([f"transformer.h.{l}.attn.masked_bias", "F32", [], struct.pack("<f", -1e4)])
    elif op == "lm-head":
        wte = [t for t in ts if t[0].endswith("wte.weight")][0]
        buf = bytearray(wte[3])
        if args:
            v = struct.unpack_from("<f", buf, 40)[0] + float(args[0])
            struct.pack_into("<f", buf, 40, v)
        ts.append(["lm_head.weight", wte[1], wte[2], bytes(buf)])
    elif op == "dtype":
        for t in ts:
            if t[1] != "F32":
                continue
            vals = f32s(t[3])
            if args[0] == "F16":
                t[3] = struct.pack(f"<{len(vals)}e", *vals)
            else:  # BF16, round to nearest even
                out = bytearray()
                for u in struct.unpack(f"<{len(vals)}I", t[3]):
                    out += struct.pack("<H", ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF)
                t[3] = bytes(out)
            t[1] = args[0]
    elif op == "extra":
        ts.append([args[0], "F32", [1], struct.pack("<f", 1.0)])
    else:
        print(__doc__)
        sys.exit(2)
    save(dst, ts, meta)


if __name__ == "__main__":
    main()
