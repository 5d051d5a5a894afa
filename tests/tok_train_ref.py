#!/usr/bin/env python3
"""The naive reference for tok-train: byte-level BPE that recounts every pair
before every merge (as minbpe does), with tok-train's rules written plainly:

- pieces: the pre-tokenizer regex over each file's text (invalid UTF-8 bytes
  are one-byte "other" characters), or each line with its newline (`none`);
- the pair chosen is the most frequent; among equals, the smallest
  (left id, right id);
- overlapping occurrences ("aaa") all count; merging goes left to right;
- a merge whose bytes equal an existing token's gives that token;
- stop at VOCAB ordinary tokens, or when the best count is below
  --min-frequency, or when no pair is left.

Prints one line per merge: `left right id count`, as tok-train --dump-merges.
Usage: tok_train_ref.py -v N [-p gpt2|cl100k|o200k|none] [-m MINFREQ] FILE...
"""
import argparse
import collections
import sys

import regex

PATTERNS = {
    "gpt2": r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    "cl100k": r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "o200k": "|".join([
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]),
}


def pieces(data, pattern):
    if pattern == "none":
        return regex.findall(rb"[^\n]*\n|[^\n]+", data)
    text = data.decode("utf-8", "surrogateescape")
    return [p.encode("utf-8", "surrogateescape") for p in regex.findall(PATTERNS[pattern], text)]


def merge(seq, a, b, z):
    out, i = [], 0
    while i < len(seq):
        if i + 1 < len(seq) and seq[i] == a and seq[i + 1] == b:
            out.append(z)
            i += 2
        else:
            out.append(seq[i])
            i += 1
    return out


def train(counts, n_tokens, min_frequency):
    words = [list(w) for w in counts]
    freq = list(counts.values())
    vocab = [bytes([i]) for i in range(256)]
    ids = {t: i for i, t in enumerate(vocab)}
    merges = []
    while len(vocab) < n_tokens:
        stats = collections.Counter()
        for w, c in zip(words, freq):
            for pair in zip(w, w[1:]):
                stats[pair] += c
        if not stats:
            break
        best = min(stats, key=lambda p: (-stats[p], p))
        if stats[best] < min_frequency:
            break
        a, b = best
        new = vocab[a] + vocab[b]
        z = ids.get(new)
        if z is None:
            z = len(vocab)
            vocab.append(new)
            ids[new] = z
        merges.append((a, b, z, stats[best]))
        words = [merge(w, a, b, z) if a in w else w for w in words]
    return merges, vocab


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-v", type=int, required=True, help="ordinary tokens wanted")
    ap.add_argument("-p", default="gpt2", choices=["gpt2", "cl100k", "o200k", "none"])
    ap.add_argument("-m", type=int, default=2, help="min frequency")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    counts = collections.Counter()
    for f in args.files:
        with open(f, "rb") as fp:
            counts.update(pieces(fp.read(), args.p))
    merges, _ = train(counts, args.v, args.m)
    out = sys.stdout
    for a, b, z, c in merges:
        out.write(f"{a} {b} {z} {c}\n")


if __name__ == "__main__":
    main()
