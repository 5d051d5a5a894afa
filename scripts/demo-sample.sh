#!/bin/sh
# The demo's last step: sample from the model the training step produced, then
# export it to Hugging Face's format, import it back, and sample again from the
# HF directory and from the re-imported checkpoint (the same tokens: the round
# trip is exact), and measure it with gpt-eval.
#   sh scripts/demo-sample.sh DEMO_DIR|CHECKPOINT
set -e
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}; BIN=$(cd "$BIN" && pwd); PATH="$BIN:$PATH"
arg=${1:-build/demo}
if [ -f "$arg" ]; then
	ckpt=$arg; out=$(dirname "$arg")
else
	out=$arg
	# the training step's run directory first (demo-train.sh writes DEMO/train)
	dir=$arg; [ -d "$arg/train" ] && dir=$arg/train
	ckpt=$(find "$dir" -name 'model_*.bin' 2>/dev/null | sort | tail -1)
fi
if [ -z "$ckpt" ] || [ ! -f "$ckpt" ]; then
	echo "demo-sample: no checkpoint (model_*.bin) under $arg; skipped"
	exit 0
fi
echo "== Sampling from $ckpt"
# the encoding the model was trained with: demo-train.sh names it in
# DIR/encoding (`-t TOKENIZER` or `-e NAME`); else guess from the vocabulary
enc_opt=
for f in "$(dirname "$ckpt")/encoding" "$out/encoding"; do
	[ -f "$f" ] && { enc_opt=$(cat "$f"); break; }
done
if [ -z "$enc_opt" ]; then
	V=$(od -An -t d4 -j 12 -N 4 "$ckpt" | tr -d ' ')
	case $V in
	256) enc_opt="-e bytes" ;;
	50257) enc_opt="-e gpt2" ;;
	*) echo "demo-sample: a model of $V tokens and no DIR/encoding: which encoding? skipped"; exit 0 ;;
	esac
fi
prompt="ROMEO:"
show() { tok-decode $enc_opt | sed 's/^/    /'; echo; }
printf '%s' "$prompt" | tok-encode $enc_opt >"$out/prompt.tok"
echo "-- gpt-sample, greedy, 48 tokens after '$prompt':"
gpt-sample -t 0 -n 48 --echo --ignore-eot "$ckpt" "$out/prompt.tok" >"$out/sample-a.tok"
show <"$out/sample-a.tok"
echo "-- temperature 0.8, top-k 40, seed 1:"
gpt-sample -t 0.8 -k 40 -s 1 -n 48 --echo --stats "$ckpt" "$out/prompt.tok" 2>"$out/stats.txt" | show
sed 's/^/    /' "$out/stats.txt"

echo "== Export to Hugging Face and back"
rm -rf "$out/hf"
gpt-convert "$ckpt" "$out/hf"
ls -l "$out/hf" | sed 's/^/    /'
gpt-convert "$out/hf" "$out/reimported.bin"
if cmp -s "$ckpt" "$out/reimported.bin"; then echo "    the re-imported checkpoint is byte-identical"; else
	echo "    the re-imported checkpoint differs (expected only for a bf16 checkpoint)"; fi
echo "-- gpt-sample on the Hugging Face directory (greedy):"
gpt-sample -t 0 -n 48 --echo --ignore-eot "$out/hf" "$out/prompt.tok" >"$out/sample-b.tok"
show <"$out/sample-b.tok"
echo "-- gpt-sample on the re-imported checkpoint (greedy):"
gpt-sample -t 0 -n 48 --echo --ignore-eot "$out/reimported.bin" "$out/prompt.tok" >"$out/sample-c.tok"
show <"$out/sample-c.tok"
if cmp -s "$out/sample-a.tok" "$out/sample-b.tok" && cmp -s "$out/sample-a.tok" "$out/sample-c.tok"; then
	echo "    all three greedy samples are the same tokens"
else
	echo "    THE GREEDY SAMPLES DIFFER"; exit 1
fi
if [ -f "$out/val.txt" ]; then
	echo "== gpt-eval on the held-out text (which the training did not see), before and after the round trip"
	tok-encode $enc_opt "$out/val.txt" >"$out/eval.tok"
	gpt-eval $enc_opt "$ckpt" "$out/eval.tok" | sed 's/^/    /'
	gpt-eval $enc_opt "$out/hf" "$out/eval.tok" | sed 's/^/    /'
fi
