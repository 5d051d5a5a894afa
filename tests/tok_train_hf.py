#!/usr/bin/env python3
"""Hugging Face tokenizers beside tok-train (tests/tok-train-hf.sh, bench/toktrain.sh).

  tok_train_hf.py train -v N [-p gpt2|cl100k|o200k|none] [-m MINFREQ] [-s SPECIAL]...
                        [--chunk BYTES] -o OUT.json FILE...
      Train tokenizers' BpeTrainer with the same pre-tokenization as tok-train
      (the same regex, then ByteLevel without its own regex) and min frequency.
      Files are fed in parts of about 1 MiB, cut only between a newline
      that follows a non-space and an ASCII letter or digit: no pattern lets
      a piece run across that newline, and the end of a part does not change
      how the white space before it splits.
  tok_train_hf.py overlap OURS.json THEIRS.json
      Compare two tokenizer.json vocabularies (as byte strings): the share of
      ours found in theirs, and the first merges where the two differ.
  tok_train_hf.py encode TOKENIZER.json FILE
      Print the ids of FILE's text, one per line (decoding checked too).
"""
import argparse
import re
import sys
import time

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


def byte_decoder():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def chunks(files, size=1 << 20):
    cut = re.compile(r"(?<=\S\n)(?=[A-Za-z0-9])")
    for f in files:
        with open(f, encoding="utf-8", newline="") as fp:
            text = fp.read()
        start = 0
        while start < len(text):
            end = start + size
            if end >= len(text):
                yield text[start:]
                break
            m = cut.search(text, end)
            if not m:
                yield text[start:]
                break
            yield text[start:m.end()]
            start = m.end()


def train(args):
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    if args.p == "none":
        split = pre_tokenizers.Split("\n", behavior="merged_with_previous")
    else:
        split = pre_tokenizers.Split(Regex(PATTERNS[args.p]), behavior="isolated")
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [split, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    trainer = trainers.BpeTrainer(vocab_size=args.v, min_frequency=args.m, show_progress=False,
                                  special_tokens=args.s or [],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    t0 = time.time()
    tok.train_from_iterator(chunks(args.files, args.chunk), trainer=trainer)
    print(f"hf-train: {tok.get_vocab_size()} tokens in {time.time() - t0:.2f}s", file=sys.stderr)
    tok.save(args.o)


def vocab_bytes(path):
    import json
    dec = byte_decoder()
    with open(path, encoding="utf-8") as fp:
        j = json.load(fp)
    m = j["model"]
    toks = {bytes(dec[c] for c in s): i for s, i in m["vocab"].items()}
    merges = [tuple(x.split(" ")) if isinstance(x, str) else tuple(x) for x in m["merges"]]
    return toks, merges


def overlap(args):
    ours, _ = vocab_bytes(args.ours)
    theirs, _ = vocab_bytes(args.theirs)
    common = set(ours) & set(theirs)
    # Order both by id: where do the learned sequences first part?
    o = sorted(ours, key=ours.get)
    t = sorted(theirs, key=theirs.get)
    o = [x for x in o if len(x) > 1]
    t = [x for x in t if len(x) > 1]
    first = next((i for i, (a, b) in enumerate(zip(o, t)) if a != b), min(len(o), len(t)))
    print(f"ours {len(ours)} theirs {len(theirs)} common {len(common)} "
          f"overlap {100.0 * len(common) / len(ours):.2f}% same-order-prefix {first}")
    if first < min(len(o), len(t)):
        print(f"first difference at new token {first}: ours {o[first]!r} theirs {t[first]!r}")


def encode(args):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(args.tokenizer)
    with open(args.file, encoding="utf-8", newline="") as fp:
        text = fp.read()
    ids = tok.encode(text, add_special_tokens=False).ids
    if tok.decode(ids, skip_special_tokens=False) != text:
        sys.exit("tok_train_hf: decode(encode(text)) != text")
    sys.stdout.write("".join(f"{i}\n" for i in ids))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("-v", type=int, required=True)
    t.add_argument("-p", default="gpt2", choices=list(PATTERNS) + ["none"])
    t.add_argument("-m", type=int, default=2)
    t.add_argument("-s", action="append")
    t.add_argument("-o", required=True)
    t.add_argument("--chunk", type=int, default=1 << 20, help="bytes per part fed")
    t.add_argument("files", nargs="+")
    o = sub.add_parser("overlap")
    o.add_argument("ours")
    o.add_argument("theirs")
    e = sub.add_parser("encode")
    e.add_argument("tokenizer")
    e.add_argument("file")
    args = ap.parse_args()
    {"train": train, "overlap": overlap, "encode": encode}[args.cmd](args)


if __name__ == "__main__":
    main()
