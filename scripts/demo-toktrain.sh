#!/bin/sh
# make demo, the tokenizer-training step: learn a small byte-level BPE
# vocabulary from the first 90% of Tiny Shakespeare (a second or two), compare
# its compression on the held-out last 10% with GPT-2's vocabulary and with
# bytes, and encode the text with it.  scripts/demo-train.sh trains the model in
# this vocabulary (it trains better than bytes or GPT-2's at the demo's budget:
# BENCHMARKS.md, "Vocabulary for the demo model").
#   sh scripts/demo-toktrain.sh [DEMO_DIR]     (DEMO_VOCAB=1024 by default)
# Writes DEMO_DIR/shakespeare-vN.tokenizer (tok-file(5)) and the token
# stream DEMO_DIR/shakespeare.vN.tok of the whole text.
set -e
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}; BIN=$(cd "$BIN" && pwd)
PATH="$BIN:$PATH"
DEMO=${1:-build/demo}
V=${DEMO_VOCAB:-1024}
[ "$V" = bytes ] && V=1024
mkdir -p "$DEMO"
text=data/tinyshakespeare.txt
tokz="$DEMO/shakespeare-v$V.tokenizer"

echo "== The tokenizer trained on Tiny Shakespeare: $V tokens"
# Learn from the first 90% (to a line boundary); the rest is held out, the
# model's validation text.
cut=$(awk -v b="$(wc -c <"$text")" '{ n += length($0) + 1; if (n >= 0.9 * b) { print n; exit } }' "$text")
head -c "$cut" "$text" >"$DEMO/toktrain-train.txt"
tail -c +"$((cut + 1))" "$text" >"$DEMO/toktrain-held.txt"
t0=$(date +%s.%N)
tok-train -q -v "$V" -s '<|endoftext|>' -o "$tokz" --dump-merges "$DEMO/toktrain.merges" \
	"$DEMO/toktrain-train.txt"
t1=$(date +%s.%N)
echo "tok-train -v $V: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s; the first merges:"
for id in $(awk 'NR <= 16 { print $3 }' "$DEMO/toktrain.merges"); do
	echo "$id" | tok-decode -t "$tokz" --format text |
		python3 -c 'import sys; print(repr(sys.stdin.buffer.read().decode("utf-8", "replace")), end=" ")'
done
echo
held=$(wc -c <"$DEMO/toktrain-held.txt")
for t in "$tokz" gpt2 bytes; do
	case $t in gpt2|bytes) opt="-e $t"; name=$t ;; *) opt="-t $t"; name="learned-$V" ;; esac
	n=$(tok-encode $opt -c "$DEMO/toktrain-held.txt" | tail -1 | awk '{ print $1 }')
	awk -v n="$name" -v t="$n" -v b="$held" 'BEGIN {
		printf "%-14s held-out %d bytes -> %6d tokens  %.2f bytes/token\n", n, b, t, b / t }'
done
tok-encode -t "$tokz" "$DEMO/toktrain-held.txt" | tok-decode -t "$tokz" | cmp -s - "$DEMO/toktrain-held.txt"
echo "round trip of the held-out text exact"
tok-encode -t "$tokz" "$text" -o "$DEMO/shakespeare.v$V.tok"
echo "wrote $tokz and $DEMO/shakespeare.v$V.tok"
