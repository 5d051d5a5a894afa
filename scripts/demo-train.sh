#!/bin/sh
# make demo, part 3: train a small GPT-2 (4 layers, 4 heads, 192 channels,
# context 128) on Tiny Shakespeare on the CPU (2 to 3 minutes on 2 cores),
# then print the final validation loss and bits per byte on the held-out last
# 10% of the text and a sample.  The model reads the text in the
# vocabulary that scripts/demo-toktrain.sh learned from the first 90%
# (DEMO_VOCAB=1024 tokens; DEMO_VOCAB=bytes for bytes): at the same CPU budget
# it reaches a lower validation bits per byte than bytes or GPT-2's vocabulary
# (BENCHMARKS.md, "Vocabulary for the demo model").  A safety net stops training
# with SIGINT at 4.5 minutes (gpt-train checkpoints and exits; a busy machine)
# and the run is finished from that checkpoint with --resume.
#   sh scripts/demo-train.sh [DIR]
# Writes DIR/train/model_*.bin, and DIR/encoding and DIR/train/encoding: one
# line, the tok-encode/tok-decode option for the model's vocabulary
# ("-t /abs/DIR/shakespeare-v1024.tokenizer", or "-e bytes").
set -e
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}; BIN=$(cd "$BIN" && pwd); PATH="$BIN:$PATH"
DEMO=${1:-build/demo}
mkdir -p "$DEMO"
RUN=$DEMO/train
rm -rf "$RUN"
V=${DEMO_VOCAB:-1024}
LIMIT=${DEMO_LIMIT:-270}
text=data/tinyshakespeare.txt
# The held-out text: the last 10%, from the first line boundary after 90%
# (the same split as demo-toktrain.sh and scripts/demo-vocab-bench.sh).
cut=$(awk -v b="$(wc -c <"$text")" '{ n += length($0) + 1; if (n >= 0.9 * b) { print n; exit } }' "$text")
if [ "$V" = bytes ]; then
	enc="-e bytes"; name="bytes"; STEPS=${DEMO_STEPS:-1200}; SAMPLE=600
else
	tokz=$DEMO/shakespeare-v$V.tokenizer
	[ -f "$tokz" ] || DEMO_VOCAB=$V sh scripts/demo-toktrain.sh "$DEMO" >/dev/null
	enc="-t $(cd "$DEMO" && pwd)/shakespeare-v$V.tokenizer"; name="a $V-token vocabulary learned by tok-train"
	# 1110 steps cost the CPU time of 1200 byte steps (the lm head is larger).
	STEPS=${DEMO_STEPS:-1110}; SAMPLE=256
fi
echo "$enc" >"$DEMO/encoding"
head -c "$cut" "$text" | tok-encode $enc -o "$DEMO/train.tok"
tail -c +"$((cut + 1))" "$text" >"$DEMO/val.txt"
tok-encode $enc "$DEMO/val.txt" -o "$DEMO/val.tok"

echo "== 3. gpt-train: a GPT-2 (4 layers, 4 heads, 192 channels, context 128) on Tiny Shakespeare"
echo "   in $name, CPU, $STEPS steps of 8x128 tokens"
t0=$(date +%s)
set +e
timeout -s INT "$LIMIT" gpt-train -o "$RUN" --layers 4 --heads 4 --channels 192 --context 128 \
	-b 8 -t 128 --steps "$STEPS" --lr 2e-3 --warmup 50 --final-lr-frac 0.1 \
	--val "$DEMO/val.tok" --eval-every 200 --eval-batches 20 --checkpoint-every 200 \
	"$DEMO/train.tok" 2>"$DEMO/train.err"
rc=$?
set -e
if [ $rc -eq 124 ] || [ $rc -eq 130 ]; then
	done_steps=$(awk '$2 == "train" { s = $1 } END { print s }' "$RUN/log.txt")
	echo "(stopped by the time limit after $done_steps steps; finishing with --resume)"
	next=$((done_steps + 1))
	gpt-train -o "$RUN" --resume --steps $next \
		--val "$DEMO/val.tok" --eval-batches 20 "$DEMO/train.tok" 2>>"$DEMO/train.err"
elif [ $rc -ne 0 ]; then
	cat "$DEMO/train.err" >&2
	exit $rc
fi
t1=$(date +%s)
grep '^step ' "$DEMO/train.err" || true
awk -v s=$((t1 - t0)) '$2 == "train" { n = $1; tl = $3; ms += $6 }
	END { printf "trained %d steps in %d s (%.0f ms/step); final train loss %.3f\n", n, s, ms / n, tl }' "$RUN/log.txt"
ckpt=$(find "$RUN" -name 'model_*.bin' | sort | tail -1)
echo "$enc" >"$RUN/encoding"
# The whole held-out text, scored by gpt-eval.  Bits per byte: the summed loss
# in bits over the bytes of the scored tokens (all but the first token).
# gpt-eval counts bytes only for built-in encodings, so it is given -e gpt2
# (the loss does not depend on it) and the bytes are counted here.
gpt-eval -e gpt2 "$ckpt" "$DEMO/val.tok" --json >"$DEMO/val.json"
first=$(tok-encode $enc --format text "$DEMO/val.txt" | awk '{ print $1; exit }')
fb=$(echo "$first" | tok-decode $enc --format text | wc -c)
vb=$(wc -c <"$DEMO/val.txt")
python3 - "$DEMO/val.json" "$vb" "$fb" <<'PY'
import json, math, sys
e = json.load(open(sys.argv[1]))
b = int(sys.argv[2]) - int(sys.argv[3])
print(f"final validation loss {e['loss']:.3f} nats/token over the held-out {sys.argv[2]} bytes "
      f"({e['tokens']} tokens): {e['loss'] * e['tokens'] / math.log(2) / b:.3f} bits per byte")
PY
if [ "$V" = bytes ]; then
	echo "(bytes, not a learned vocabulary: DEMO_VOCAB=bytes)"
fi
echo "sample (gpt-sample -t 0.8 -k 40 -s 1, $SAMPLE tokens after \"ROMEO:\"):"
printf 'ROMEO:' | tok-encode $enc -o "$DEMO/train-prompt.tok"
gpt-sample -t 0.8 -k 40 -s 1 -n $SAMPLE --echo --ignore-eot "$ckpt" "$DEMO/train-prompt.tok" | tok-decode $enc
echo
