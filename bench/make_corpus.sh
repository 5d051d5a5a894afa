#!/bin/sh
# Build the tokenizer-training corpus from text already on this machine:
# Python's standard library sources, then the documentation under
# /usr/share/doc (plain and gzipped: changelogs, READMEs, manuals), then
# man pages and C headers if more is needed.  Files are taken in sorted
# order; only valid UTF-8 without NUL bytes is kept; files are separated by
# a blank line.  The result is deterministic on a given machine.
#
#   sh bench/make_corpus.sh [MB]      (default 120)
#
# Writes, under bench/corpus/ (gitignored):
#   corpus.txt    at least MB megabytes (10^6 bytes); fails below 100 MB
#   heldout.txt   2 MB from sources not in corpus.txt (for compression)
#   1mb.txt       the first 1,000,000 bytes of corpus.txt (cut at a line end)
cd "$(dirname "$0")/.." || exit 1
MB=${1:-120}
mkdir -p bench/corpus
exec python3 - "$MB" <<'EOF'
import gzip, os, sys, sysconfig

target = int(sys.argv[1]) * 10**6
held_target = 2 * 10**6
out_dir = "bench/corpus"

stdlib = sysconfig.get_paths()["stdlib"]
def walk(root, keep):
    for d, subdirs, files in os.walk(root):
        subdirs.sort()
        subdirs[:] = [s for s in subdirs if s not in ("site-packages", "dist-packages", "__pycache__")]
        for f in sorted(files):
            if keep(f):
                yield os.path.join(d, f)

def py(f): return f.endswith(".py")
def doc(f): return not f.endswith((".pdf", ".ps.gz", ".tar.gz", ".png", ".jpg", ".gif", ".svg", ".jar", ".zip"))
def man(f): return f.endswith(".gz")
def hdr(f): return f.endswith(".h")

def read(path):
    try:
        with open(path, "rb") as fp:
            data = fp.read()
        if path.endswith(".gz"):
            data = gzip.decompress(data)
        if b"\0" in data:
            return None
        data.decode("utf-8")
        return data
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile, ValueError):
        return None

sources = [walk(stdlib, py), walk("/usr/share/doc", doc), walk("/usr/share/man", man), walk("/usr/include", hdr)]

def fill(fp, limit, gens, used, skip=()):
    n = 0
    for g in gens:
        for path in g:
            if n >= limit:
                return n
            if path in skip:
                continue
            data = read(path)
            if not data or not data.strip():
                continue
            if not data.endswith(b"\n"):
                data += b"\n"
            fp.write(data + b"\n")
            n += len(data) + 1
            used.add(path)
    return n

# The held-out text comes from the far end of the C headers and man pages,
# and the corpus skips the files it took.
held_sources = [reversed(list(walk("/usr/include", hdr))), reversed(list(walk("/usr/share/man", man)))]
with open(os.path.join(out_dir, "heldout.txt.tmp"), "wb") as fp:
    held_paths = set()
    held = fill(fp, held_target, held_sources, held_paths)
with open(os.path.join(out_dir, "corpus.txt.tmp"), "wb") as fp:
    n = fill(fp, target, sources, set(), held_paths)
if n < 100 * 10**6:
    sys.exit(f"make_corpus: only {n} bytes of text found (need 100 MB)")
os.replace(os.path.join(out_dir, "corpus.txt.tmp"), os.path.join(out_dir, "corpus.txt"))
os.replace(os.path.join(out_dir, "heldout.txt.tmp"), os.path.join(out_dir, "heldout.txt"))
with open(os.path.join(out_dir, "corpus.txt"), "rb") as fp:
    head = fp.read(10**6)
head = head[: head.rindex(b"\n") + 1]
with open(os.path.join(out_dir, "1mb.txt"), "wb") as fp:
    fp.write(head)
print(f"make_corpus: corpus.txt {n} bytes, heldout.txt {held} bytes, 1mb.txt {len(head)} bytes")
EOF
