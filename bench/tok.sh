#!/bin/sh
# Tokenizer benchmark: tok-encode (1 thread and -j 2) and tok-decode against
# tiktoken's single-thread encode_ordinary, same text, same run, medians of
# $RUNS runs, wall clock and CPU time; then the start-up times of
# `echo hi | tok-encode` and of tok-decode on a one-token stream.
# The text is Tiny Shakespeare repeated 8 times (8.9 MB of English).
. "$TOP/tests/lib.sh"
RUNS=${RUNS:-5}
if ! venv tiktoken; then echo "bench tok: cannot install tiktoken"; exit 1; fi
mkdir -p "$TOP/bench/corpus"
TEXT=$TOP/bench/corpus/shakespeare8.txt
[ -s "$TEXT" ] || for i in 1 2 3 4 5 6 7 8; do cat "$TOP/data/tinyshakespeare.txt"; done >"$TEXT"
"$PY" - "$BIN" "$TEXT" "$RUNS" "$T" <<'PY'
import base64, os, statistics, subprocess, sys, time
import tiktoken
BIN, TEXT, RUNS, TMP = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
TOP = os.environ["TOP"]
P_GPT2 = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
P_CL100K = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
P_O200K = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""", r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""", r"""\s*[\r\n]+""", r"""\s+(?!\S)""", r"""\s+"""])
PATS = {"gpt2": P_GPT2, "p50k_base": P_GPT2, "cl100k_base": P_CL100K, "o200k_base": P_O200K}
data = open(TEXT, "rb").read()
text = data.decode("utf-8")
mb = len(data) / 1e6

import resource

def wall(cmd, stdin=None):
    """(wall seconds, CPU seconds) of a program run"""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdin=stdin, stdout=subprocess.DEVNULL, check=True)
    t = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return t, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)

print("text: %s, %.1f MB; medians of %d runs; MB/s of text, wall clock (CPU time in brackets:" % (os.path.basename(TEXT), mb, RUNS))
print("what the figure would be with a core to itself; -j 2 adds its threads' CPU)")
print("%-12s %15s %15s %17s %15s %13s" % ("encoding", "encode", "-j 2", "decode", "tiktoken", "ratio"))
for name, pat in PATS.items():
    ranks = {}
    with open(os.path.join(TOP, "tok", "encodings", name + ".tiktoken"), "rb") as f:
        for line in f:
            a, b = line.split()
            ranks[base64.b64decode(a)] = int(b)
    enc = tiktoken.Encoding(name, pat_str=pat, mergeable_ranks=ranks, special_tokens={})
    tokfile = os.path.join(TMP, name + ".tok")
    subprocess.run([os.path.join(BIN, "tok-encode"), "-e", name, "-o", tokfile, TEXT], check=True)
    e1, e2, d, tt = [], [], [], []
    for _ in range(RUNS):  # interleaved, so that load on the machine hits all alike
        e1.append(wall([os.path.join(BIN, "tok-encode"), "-e", name, "-j", "1", "-f", TEXT]))
        e2.append(wall([os.path.join(BIN, "tok-encode"), "-e", name, "-j", "2", "-f", TEXT]))
        d.append(wall([os.path.join(BIN, "tok-decode"), tokfile]))
        t0, c0 = time.perf_counter(), time.process_time()
        enc.encode_ordinary(text)
        tt.append((time.perf_counter() - t0, time.process_time() - c0))
    r = lambda xs, k=0: mb / statistics.median(x[k] for x in xs)
    f = lambda xs: "%6.1f (%6.1f)" % (r(xs), r(xs, 1))
    print("%-12s %15s %15s %17s %15s %5.1fx (%4.1fx)" % (name, f(e1), f(e2), f(d), f(tt), r(e1) / r(tt),
                                                        r(e1, 1) / r(tt, 1)))
# start-up: `echo hi | tok-encode` (the shell pipeline, wall time)
ts = []
for _ in range(21):
    t0 = time.perf_counter()
    subprocess.run("echo hi | %s -f >/dev/null" % os.path.join(BIN, "tok-encode"), shell=True, check=True)
    ts.append(time.perf_counter() - t0)
print("startup: echo hi | tok-encode: median %.1f ms, best %.1f ms (21 runs, wall clock)" % (statistics.median(ts) * 1e3, min(ts) * 1e3))
# start-up: tok-decode of a one-token stream (the program alone, wall time)
hi = os.path.join(TMP, "hi.tok")
subprocess.run([os.path.join(BIN, "tok-encode"), "-o", hi], input=b"hi", check=True)
ts = [wall([os.path.join(BIN, "tok-decode"), hi])[0] for _ in range(21)]
print("startup: tok-decode of one token: median %.1f ms, best %.1f ms (21 runs, wall clock)" % (statistics.median(ts) * 1e3, min(ts) * 1e3))
PY
