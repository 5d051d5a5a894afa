#!/bin/sh
# tok-train beside Hugging Face tokenizers (installed into .venv):
#  - with --tie-order hf, tok-train learns exactly BpeTrainer's vocabulary,
#    in the same order, for every pattern;
#  - with the default tie order, the overlap is reported (ties differ only
#    where a byte's id order differs from its byte-level character order);
#  - the tokenizer.json of -f hf loads in tokenizers.Tokenizer.from_file and
#    encodes held-out text exactly as tok-encode -t does, and decodes back.
. "$(dirname "$0")/lib.sh"
SH=$TOP/data/tinyshakespeare.txt
if ! venv tokenizers; then
	skip "tok-train vs Hugging Face" "no python venv with tokenizers (offline?)"
	finish
fi
HF="$PY $TOP/tests/tok_train_hf.py"

# Tiny Shakespeare with some text in other scripts, all valid UTF-8 (the
# Hugging Face trainer reads str).
python3 - "$T/mix.txt" "$SH" <<'EOF'
import random, sys
random.seed(3)
words = ["naïve", "café", "e\u0301", "日本語の", "中文字", "😀😀", "\u00a0", "Ωμέγα", "привет",
         "\u3000", "12345678", "don't", "IT'S", "//", "a/b", "\r\n", "\n\n  ", "\t\t", "x" * 12]
text = open(sys.argv[2], encoding="utf-8").read()[:300000]
out = []
for line in text.split("\n"):
    out.append(line)
    if random.random() < 0.3:
        out.append(" ".join(random.choice(words) for _ in range(random.randint(1, 6))))
open(sys.argv[1], "w", encoding="utf-8").write("\n".join(out))
EOF
head -c 1000000 "$SH" >"$T/train.txt"
tail -c +1000001 "$SH" >"$T/held.txt"

for p in gpt2 cl100k o200k none; do
	for f in train mix; do
		v=1500; [ $f = train ] && v=3000
		tok-train -q -p $p -v $v --tie-order hf -f hf -o "$T/o.tok" "$T/$f.txt"
		$HF train -p $p -v $v --chunk 30000 -o "$T/h.json" "$T/$f.txt" 2>/dev/null
		$HF overlap "$T/o.tok.json" "$T/h.json" >"$T/ov"
		if grep -q "overlap 100.00%" "$T/ov" && ! grep -q "first difference" "$T/ov"; then
			ok "tok-train --tie-order hf = BpeTrainer, same tokens in the same order ($p, $f, $v)"
		else
			fail "tok-train --tie-order hf = BpeTrainer ($p, $f, $v)" "$(tr '\n' ' ' <"$T/ov")"
		fi
	done
done

# The default tie order: report the overlap.
for v in 3000 8000; do
	tok-train -q -v $v -f hf -o "$T/d.tok" "$T/train.txt"
	$HF train -v $v -o "$T/h.json" "$T/train.txt" 2>/dev/null
	$HF overlap "$T/d.tok.json" "$T/h.json" >"$T/ov"
	echo "# default tie order vs BpeTrainer, Tiny Shakespeare 1 MB, $v: $(head -1 "$T/ov")"
	sed -n 's/^first difference/# first difference/p' "$T/ov"
	pct=$(sed -n 's/.*overlap \([0-9.]*\)%.*/\1/p' "$T/ov")
	if [ -n "$pct" ] && awk -v p="$pct" 'BEGIN { exit !(p >= 98) }'; then
		ok "tok-train default ties: vocabulary overlap with BpeTrainer $pct% ($v)"
	else
		fail "tok-train default ties: vocabulary overlap" "$(head -1 "$T/ov")"
	fi
done

# tokenizer.json encodes as tok-encode does, and decodes back (the helper
# exits non-zero when decode(encode(text)) != text).
for p in gpt2 cl100k o200k none; do
	tok-train -q -p $p -v 4000 -s '<|endoftext|>' -s '<|pad|>' -f hf -o "$T/e.tok" "$T/train.txt"
	for f in held mix; do
		if ! $HF encode "$T/e.tok.json" "$T/$f.txt" >"$T/hf.ids" 2>"$T/err"; then
			fail "tokenizer.json round trip ($p, $f)" "$(tail -1 "$T/err")"
			continue
		fi
		tok-encode -t "$T/e.tok" --format text "$T/$f.txt" | tr ' ' '\n' | grep . >"$T/tok.ids"
		if cmp -s "$T/hf.ids" "$T/tok.ids"; then
			ok "tokenizer.json encodes as tok-encode -t, decodes back ($p, $f: $(wc -l <"$T/hf.ids") tokens)"
		else
			fail "tokenizer.json encodes as tok-encode -t ($p, $f)" \
				"$(diff "$T/hf.ids" "$T/tok.ids" | head -4 | tr '\n' ' ')"
		fi
	done
done
"$PY" - "$T/e.tok.json" <<'EOF' >"$T/sp" 2>&1
import sys
from tokenizers import Tokenizer
t = Tokenizer.from_file(sys.argv[1])
print(t.token_to_id("<|endoftext|>"), t.token_to_id("<|pad|>"), t.get_vocab_size())
EOF
check "tokenizer.json special tokens follow the merges" grep -qx "3998 3999 4000" "$T/sp"
finish
