#!/usr/bin/env python3
"""Helpers for the shell tests that read the committed golden files; plain
Python 3, no torch (make test must not need it).

  golden_tool.py stream WHAT OUT      token stream of the golden file's WHAT:
                                      eval (the "bytes" text), prompt, gen, seq
  golden_tool.py tokens FILE          the tokens of a token stream, one per line
  golden_tool.py fold IN V OUT REST   tokens of IN modulo V (same header) into OUT,
                                      and all but the first into REST
  golden_tool.py evalbin JSONL OUT    llm.c's HellaSwag .bin eval file, "bytes" encoding
  golden_tool.py hellaswag GOT GOLDEN [harness]   compare gpt-eval --json -v output
  golden_tool.py evalloss GOT T STRIDE            compare gpt-eval --json output
  golden_tool.py close A B TOL        |A - B| <= TOL * max(|B|, 1)
"""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def golden():
    with open(os.path.join(HERE, "golden.bin"), "rb") as f:
        b = f.read()
    h = struct.unpack_from("<8i", b, 0)
    assert h[0] == 20241127
    V, _, nseq, npr, ngen, nev = h[1:7]
    at = 32
    out = {}
    out["seq"] = list(struct.unpack_from(f"<{nseq}i", b, at)); at += 4 * nseq
    at += 4 * nseq * V
    out["prompt"] = list(struct.unpack_from(f"<{npr}i", b, at)); at += 4 * npr
    out["gen"] = list(struct.unpack_from(f"<{ngen}i", b, at)); at += 4 * ngen
    out["eval"] = list(struct.unpack_from(f"<{nev}i", b, at)); at += 4 * nev
    out["eval_loss"] = struct.unpack_from("<d", b, at)[0]
    out["V"] = V
    return out


def write_stream(path, toks, n_vocab, eot, enc):
    h = [0] * 256
    h[0], h[1], h[2], h[3], h[4] = 20240520, 1, len(toks), n_vocab, eot
    name = enc.encode().ljust(32, b"\0")
    h[5:13] = struct.unpack("<8i", name)
    with open(path, "wb") as f:
        f.write(struct.pack("<256i", *h))
        f.write(struct.pack(f"<{len(toks)}H", *toks))


def read_stream(path):
    b = open(path, "rb").read()
    h = struct.unpack_from("<256i", b, 0)
    w = 2 if h[0] == 20240520 else 4
    n = (len(b) - 1024) // w
    return list(struct.unpack_from(f"<{n}{'H' if w == 2 else 'I'}", b, 1024))


def evalbin(jsonl, out):
    exs = [json.loads(l) for l in open(jsonl, encoding="utf-8") if l.strip()]
    stream = []
    for i, ex in enumerate(exs):
        ctx = list(ex["ctx"].encode())
        ends = [list((" " + e).encode()) for e in ex["endings"]]
        s = [65535, 0, i, ex["label"], len(ends), len(ctx)] + ctx
        for e in ends:
            s += [len(e)] + e
        s[1] = 2 * len(s)
        stream += s
    h = [0] * 256
    h[0], h[1], h[2] = 20240522, 1, len(exs)
    with open(out, "wb") as f:
        f.write(struct.pack("<256i", *h))
        f.write(struct.pack(f"<{len(stream)}H", *stream))


def close(a, b, tol):
    return abs(a - b) <= tol * max(abs(b), 1.0)


def main():
    cmd = sys.argv[1]
    if cmd == "stream":
        g = golden()
        what = sys.argv[2]
        if what == "eval":
            write_stream(sys.argv[3], g["eval"], 256, -1, "bytes")
        else:
            write_stream(sys.argv[3], g[what], g["V"], g["V"] - 1, "")
    elif cmd == "tokens":
        print("\n".join(map(str, read_stream(sys.argv[2]))))
    elif cmd == "fold":
        b = open(sys.argv[2], "rb").read()
        h = struct.unpack_from("<256i", b, 0)
        enc = struct.pack("<8i", *h[5:13]).rstrip(b"\0").decode()
        t = [x % int(sys.argv[3]) for x in read_stream(sys.argv[2])]
        write_stream(sys.argv[4], t, h[3], h[4], enc)
        write_stream(sys.argv[5], t[1:], h[3], h[4], enc)
    elif cmd == "evalbin":
        evalbin(sys.argv[2], sys.argv[3])
    elif cmd == "hellaswag":
        got, want = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
        harness = len(sys.argv) > 4
        bad = []
        for i, (x, y) in enumerate(zip(got["examples"], want["examples"])):
            for k in range(len(y["sum"])):
                if not close(x["sum"][k], y["sum"][k], 1e-4) or not close(x["mean"][k], y["mean"][k], 1e-4):
                    bad.append(f"example {i} ending {k}: {x['sum'][k]} vs {y['sum'][k]}")
            pn = y["pred_norm_harness"] if harness else y["pred_norm"]
            if x["pred"] != y["pred"] or x["pred_norm"] != pn:
                bad.append(f"example {i}: predictions {x['pred']},{x['pred_norm']} vs {y['pred']},{pn}")
        an = want["acc_norm_harness"] if harness else want["acc_norm"]
        if len(got["examples"]) != want["n"] or not close(got["acc"], want["acc"], 1e-9) or not close(got["acc_norm"], an, 1e-9):
            bad.append(f"acc {got['acc']} acc_norm {got['acc_norm']} vs {want['acc']} {an}")
        if bad:
            print("; ".join(bad[:3]))
            sys.exit(1)
    elif cmd == "evalloss":
        got = json.load(open(sys.argv[2]))
        T, stride = int(sys.argv[3]), int(sys.argv[4])
        want = [w for w in json.load(open(os.path.join(HERE, "eval_golden.json")))
                if w["T"] == T and w["stride"] == stride][0]
        if got["tokens"] != want["tokens"] or not close(got["loss"], want["loss"], 1e-5):
            print(f"loss {got['loss']} over {got['tokens']} vs {want['loss']} over {want['tokens']}")
            sys.exit(1)
    elif cmd == "close":
        a, b, tol = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
        if not close(a, b, tol):
            print(f"{a} vs {b}")
            sys.exit(1)
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
