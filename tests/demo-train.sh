#!/bin/sh
# The demo's training step (scripts/demo-train.sh) for 2 steps, in the learned
# 1024-token vocabulary and in bytes: the model's validation text is exactly
# the last 10% of Tiny Shakespeare in both (the same bytes for the
# comparison), DIR/encoding names the vocabulary for the sampling step, and
# the bits per byte it prints agree with gpt-eval's own count for bytes.
. "$(dirname "$0")/lib.sh"
export BIN
text=$TOP/data/tinyshakespeare.txt
cut=$(awk -v b="$(wc -c <"$text")" '{ n += length($0) + 1; if (n >= 0.9 * b) { print n; exit } }' "$text")
tail -c +"$((cut + 1))" "$text" >"$T/held.txt"
for v in 1024 bytes; do
	d=$T/demo-$v
	if ! DEMO_VOCAB=$v DEMO_STEPS=2 OMP_NUM_THREADS=2 sh "$TOP/scripts/demo-train.sh" "$d" >"$T/out-$v" 2>&1; then
		fail "demo-train-$v" "$(tail -3 "$T/out-$v" | tr '\n' ' ')"; continue
	fi
	ok "demo-train-$v"
	enc=$(cat "$d/encoding")
	case $v in bytes) want="-e bytes" ;; *) want="-t $(cd "$d" && pwd)/shakespeare-v$v.tokenizer" ;; esac
	if [ "$enc" = "$want" ] && cmp -s "$d/encoding" "$d/train/encoding"; then ok "demo-train-encoding-$v"
	else fail "demo-train-encoding-$v" "encoding '$enc', wanted '$want'"; fi
	tok-decode $enc "$d/val.tok" >"$T/val-$v.txt"
	same_file "demo-train-val-bytes-$v" "$T/val-$v.txt" "$T/held.txt"
	{ tok-decode $enc "$d/train.tok"; cat "$T/val-$v.txt"; } >"$T/all-$v.txt"
	same_file "demo-train-split-$v" "$T/all-$v.txt" "$text"
	bpb=$(sed -n 's/^final validation loss .*: \([0-9.]*\) bits per byte$/\1/p' "$T/out-$v")
	if [ -n "$bpb" ] && grep -q '^ROMEO:' "$T/out-$v"; then ok "demo-train-prints-$v"
	else fail "demo-train-prints-$v" "no bits-per-byte line or sample"; fi
	if [ $v = bytes ]; then
		ref=$(gpt-eval -e bytes --json "$(find "$d/train" -name 'model_*.bin' | tail -1)" "$d/val.tok" |
			python3 -c 'import json, sys; print(json.load(sys.stdin)["bits_per_byte"])')
		if awk -v a="$bpb" -v b="$ref" 'BEGIN { exit !(a - b < 0.0015 && b - a < 0.0015) }'; then
			ok "demo-train-bpb-matches-gpt-eval"
		else fail "demo-train-bpb-matches-gpt-eval" "demo $bpb, gpt-eval $ref"; fi
	fi
done
finish
