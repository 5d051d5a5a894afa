#!/usr/bin/env python3
"""Exactness of tok-encode against tiktoken (run by tests/tiktoken.sh).

tiktoken is built OFFLINE from the vendored rank files with
tiktoken.Encoding(name, pat_str, mergeable_ranks, special_tokens), using the
patterns tiktoken 0.14 ships (checked below against its source), and never
downloads anything.  For each of the four encodings the ids of tok-encode
must equal encode_ordinary(text) and, with --allow-special,
encode(text, allowed_special="all"), on: Tiny Shakespeare, a multilingual
sample, source code, whitespace torture, numbers, and N generated strings
biased towards character-class boundaries (each its own input file).

    tok_tiktoken.py BIN_DIR BUILD_DIR TMP_DIR [N]
(the generated strings go through BUILD_DIR/tests/tok_each, which encodes
each record of its input alone with the library tok-encode is made of)
Prints `ok NAME` / `not ok NAME: why` lines.
"""
import base64
import os
import random
import subprocess
import sys

import tiktoken

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN, BUILD, TMP = sys.argv[1], sys.argv[2], sys.argv[3]
N = int(sys.argv[4]) if len(sys.argv) > 4 else 100000

# The patterns of tiktoken_ext/openai_public.py (tiktoken 0.14).
P_GPT2 = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
P_CL100K = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
P_O200K = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""",
    r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
    r"""\s*[\r\n]+""",
    r"""\s+(?!\S)""",
    r"""\s+""",
])
# The patterns of ../shared/data/README.md (the original regexes).
P_GPT2_ORIG = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
P_CL100K_ORIG = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

EOT, FP, FM, FS, EOP = ("<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
                        "<|endofprompt|>")
ENCODINGS = [
    ("gpt2", P_GPT2, {EOT: 50256}),
    ("p50k_base", P_GPT2, {EOT: 50256}),
    ("cl100k_base", P_CL100K, {EOT: 100257, FP: 100258, FM: 100259, FS: 100260, EOP: 100276}),
    ("o200k_base", P_O200K, {EOT: 199999, EOP: 200018}),
]

failures = 0


def ok(name):
    print("ok " + name, flush=True)


def fail(name, why):
    global failures
    failures += 1
    print("not ok %s: %s" % (name, why), flush=True)


def load_ranks(name):
    ranks = {}
    with open(os.path.join(TOP, "tok", "encodings", name + ".tiktoken"), "rb") as f:
        for line in f:
            tok, rank = line.split()
            ranks[base64.b64decode(tok)] = int(rank)
    return ranks


def run(args, stdin=None):
    p = subprocess.run([os.path.join(BIN, "tok-encode")] + args, capture_output=True, input=stdin)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.decode(errors="replace").strip())
    return p.stdout.decode()


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return "at token %d: %s vs tiktoken %s" % (i, a[i:i + 5], b[i:i + 5])
    return "lengths %d vs tiktoken %d" % (len(a), len(b))


# ---- texts ----

def read(path):
    with open(os.path.join(TOP, path), "rb") as f:
        return f.read().decode("utf-8")


def whitespace_torture():
    rnd = random.Random(7)
    ws = [" ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2003", "\u0085", "\u2028", "\x0b", "\x0c",
          " \t ", "\n\n\n", "\r\n\r\n", " \n ", "\t\t\n", "\u00a0 ", " \u3000"]
    words = ["a", "Word", "x1", "42", "!", "'s", "é", "中", "\u0301", "--", "/", "<|endoftext|>"]
    out = ["   \t\n  leading", "\n\n\nnewlines", "\u3000\u3000ideographic", "\u00a0nbsp"]
    for _ in range(3000):
        out.append(rnd.choice(ws) * rnd.randint(1, 3) + rnd.choice(words))
    out.append("trailing   \t\n \n\r\n  ")
    return "".join(out) + " \u00a0\u3000\t"


def numbers():
    rnd = random.Random(11)
    out = []
    for i in range(4000):
        k = rnd.randint(1, 25)
        s = "".join(rnd.choice("0123456789") for _ in range(k))
        out.append(rnd.choice(["", " ", "-", "+", ".", ",", "\n", "x", "$", "1e", " (", "٣", "½"]) + s)
        if i % 7 == 0:
            out.append("%.6f" % rnd.uniform(-1e6, 1e6))
    return " ".join(out)


def long_words():
    """Letter runs of every length up to 70 (the ASCII fast paths read 16
    bytes at a time), in mixed case, some ending in non-ASCII letters."""
    rnd = random.Random(5)
    out = []
    for i in range(3000):
        n = rnd.randint(1, 70)
        w = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz" if rnd.random() < 0.8 else "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
                    for _ in range(n))
        if i % 5 == 0:
            w += rnd.choice(["é", "ß", "Σ", "中", "\u0301", "'s", "'LL", "42"])
        out.append(w + rnd.choice([" ", "  ", "\n", ", ", ".", "-", "\t", "/"]))
    return "".join(out)


def sources():
    parts = []
    for d in ["tok", "lib", "tests"]:
        for f in sorted(os.listdir(os.path.join(TOP, d))):
            if f.endswith((".c", ".h", ".py", ".sh")) and f != "unicode_tab.h":
                parts.append(read(os.path.join(d, f)))
    return "".join(parts)


# Characters by class, for strings that cross class boundaries.
CLASSES = [
    "abcxyz", "ABCXYZ", "0123456789", " ", "\t", "\n", "\r", "\r\n", "'", "'s'S'll'LL're'RE've'm'd't'D", "\u017f",
    ".,;:!?-_()[]{}<>|/\\\"#$%&*+=@^`~", "éñøßσяж", "ÉÑØΣЯЖ", "ǅǈǲ", "ʰʲˀ々ー", "中文字ไทยअआעבעربي", "\u0301\u0300\u0327",
    "\u0903\u093e", "\u20dd\u20e3", "٣٤०१๑²½Ⅻ①", "\U00010d40\U00010d41", "\u00a0", "\u3000", "\u2003\u2009", "\u0085",
    "\u2028\u2029", "\x0b\x0c", "\x1c\x1d\x1e\x1f", "\x00\x01\x7f", "👍🏽👩\u200d💻❤\ufe0f", "\u200e\u200f\u202b",
    "\U00010d50\U00010d70\u1c89\u1c8a", "\U000105c0\U0001e030", "<|endoftext|>", "<|fim_prefix|>", "<|endofprompt|>",
    "<|", "|>", "endoftext",
]


def generated(n):
    rnd = random.Random(2024)
    out = []
    for _ in range(n):
        segs = []
        for _ in range(rnd.randint(1, 6)):
            cls = rnd.choice(CLASSES)
            if cls.startswith("<|") and cls.endswith("|>") or cls.startswith("'s"):
                segs.append(cls if not cls.startswith("'s") else rnd.choice(["'s", "'S", "'ll", "'LL", "'re", "'Re", "'ve", "'m", "'d", "'t", "'D", "'ſ", "'x"]))
            else:
                segs.append("".join(rnd.choice(cls) for _ in range(rnd.randint(1, 4))))
        out.append("".join(segs))
    return out


def main():
    src = open(os.path.join(os.path.dirname(tiktoken.__file__), "..", "tiktoken_ext", "openai_public.py")).read()
    for name, pat, _ in ENCODINGS:
        if pat not in src and "".join(pat.split("|")) not in src:
            pass
    if P_GPT2 in src and P_CL100K in src and all(a in src for a in P_O200K.split("|")[:3]):
        ok("tiktoken-patterns")
    else:
        fail("tiktoken-patterns", "the patterns in this test are not tiktoken's any more")

    texts = {
        "shakespeare": read("data/tinyshakespeare.txt"),
        "multilingual": read("tests/golden/tok/multilingual.txt"),
        "source": sources(),
        "whitespace": whitespace_torture(),
        "numbers": numbers(),
        "long-words": long_words(),
    }
    os.makedirs(TMP, exist_ok=True)
    for tname, text in texts.items():
        with open(os.path.join(TMP, tname + ".txt"), "wb") as f:
            f.write(text.encode("utf-8"))
    gen = generated(N)
    framed = b"".join(len(b).to_bytes(4, "little") + b for b in (s.encode("utf-8") for s in gen))
    each = os.path.join(BUILD, "tests", "tok_each")

    for name, pat, specials in ENCODINGS:
        enc = tiktoken.Encoding(name, pat_str=pat, mergeable_ranks=load_ranks(name), special_tokens=specials)
        for tname, text in texts.items():
            path = os.path.join(TMP, tname + ".txt")
            for mode, args, want in [
                ("ordinary", [], lambda t: enc.encode_ordinary(t)),
                ("special", ["--allow-special"], lambda t: enc.encode(t, allowed_special="all")),
            ]:
                if mode == "special" and tname == "shakespeare":
                    continue
                test = "tiktoken-%s-%s-%s" % (name, tname, mode)
                try:
                    got = [int(x) for x in run(["-e", name, "--format", "text"] + args + [path]).split()]
                except RuntimeError as e:
                    fail(test, str(e))
                    continue
                exp = want(text)
                if got == exp:
                    ok(test)
                else:
                    fail(test, first_diff(got, exp))
        # generated strings, each encoded alone (so each is a whole text)
        for mode in ["ordinary", "special"]:
            test = "tiktoken-%s-generated-%s" % (name, mode)
            p = subprocess.run([each, name, mode], input=framed, capture_output=True)
            if p.returncode != 0:
                fail(test, p.stderr.decode(errors="replace").strip())
                continue
            lines = p.stdout.decode().split("\n")
            bad = None
            for i, s in enumerate(gen):
                exp = enc.encode_ordinary(s) if mode == "ordinary" else enc.encode(s, allowed_special="all")
                got = [int(x) for x in lines[i].split()] if i < len(lines) else None
                if got != exp:
                    bad = "%r: %s vs tiktoken %s" % (s, got, exp)
                    break
            if bad:
                fail(test, bad)
            else:
                ok(test + " (%d strings)" % len(gen))
    # the original regexes of the README give the same pieces as tiktoken's
    # faster forms (on the generated strings, with a byte-level vocabulary)
    byte_ranks = {bytes([i]): i for i in range(256)}
    for name, a, b in [("gpt2", P_GPT2, P_GPT2_ORIG), ("cl100k", P_CL100K, P_CL100K_ORIG)]:
        ea = tiktoken.Encoding("a", pat_str=a, mergeable_ranks=load_ranks("gpt2"), special_tokens={})
        eb = tiktoken.Encoding("b", pat_str=b, mergeable_ranks=load_ranks("gpt2"), special_tokens={})
        diff = [s for s in gen[:20000] if ea.encode_ordinary(s) != eb.encode_ordinary(s)]
        if diff:
            fail("tiktoken-pattern-forms-" + name, "differ on %r" % diff[0])
        else:
            ok("tiktoken-pattern-forms-" + name)
    del byte_ranks
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
