#!/usr/bin/env python3
"""Every code point's class in tok/unicode_tab.h (the tables of the
hand-written pre-tokenizers) agrees with tiktoken's regex engine: \\p{Lu},
\\p{Ll}, \\p{Lt}, \\p{Lm}, \\p{Lo}, \\p{M}, \\p{N} and \\s, read off
tiktoken one class at a time (run by tests/tiktoken-unicode.sh)."""
import os
import re
import sys

import tiktoken

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
src = open(os.path.join(TOP, "tok", "unicode_tab.h")).read()
names = dict((m.group(1), int(m.group(2))) for m in re.finditer(r"#define UNI_(\w+) (\d+)", src))
s1 = [int(x) for x in re.search(r"uni_stage1\[\d+\] = \{(.*?)\};", src, re.S).group(1).replace("\n", "").split(",") if x.strip()]
s2 = [[int(x) for x in blk.split(",")] for blk in re.findall(r"\{([\d,]+)\}", re.search(r"uni_stage2\[\d+\]\[256\] = \{(.*)\};", src, re.S).group(1))]
ours = [s2[s1[c >> 8]][c & 255] for c in range(0x110000)]

chars = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
ranks = {bytes([i]): i for i in range(256)}
fails = 0
for cls, pat in [("LU", r"\p{Lu}"), ("LL", r"\p{Ll}"), ("LT", r"\p{Lt}"), ("LM", r"\p{Lm}"), ("LO", r"\p{Lo}"),
                 ("MARK", r"\p{M}"), ("NUM", r"\p{N}"), ("SPACE", r"\s")]:
    enc = tiktoken.Encoding("probe", pat_str=pat, mergeable_ranks=ranks, special_tokens={})
    theirs = set(ord(c) for c in bytes(enc.encode_ordinary(chars)).decode("utf-8"))
    mine = set(c for c in range(0x110000) if ours[c] == names[cls] and not 0xD800 <= c < 0xE000)
    diff = sorted(theirs ^ mine)
    if diff:
        fails += 1
        print("not ok unicode-%s: %d code points differ from tiktoken, first U+%04X" % (cls.lower(), len(diff), diff[0]))
    else:
        print("ok unicode-%s (%d code points)" % (cls.lower(), len(mine)))
sys.exit(1 if fails else 0)
