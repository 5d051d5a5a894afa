#!/bin/sh
# make demo, part 3: train a small character-level GPT-2 on Tiny Shakespeare on
# the CPU (about 2 minutes on 2 idle cores), then print the final validation
# loss and a sample.  A safety net stops training with SIGINT at 4.5 minutes
# (gpt-train checkpoints and exits; a busy machine) and the run is finished
# from that checkpoint with --resume.
#   sh scripts/demo-train.sh [DIR]
set -e
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}; BIN=$(cd "$BIN" && pwd); PATH="$BIN:$PATH"
DEMO=${1:-build/demo}
mkdir -p "$DEMO"
RUN=$DEMO/train
rm -rf "$RUN"
STEPS=${DEMO_STEPS:-1200}
LIMIT=${DEMO_LIMIT:-270}
SAMPLE=600

echo "== 3. gpt-train: a character-level GPT-2 (4 layers, 4 heads, 192 channels) on Tiny Shakespeare, CPU, $STEPS steps"
tok-encode -e bytes data/tinyshakespeare.txt >"$DEMO/shakespeare.bytes.tok"
t0=$(date +%s)
set +e
timeout -s INT "$LIMIT" gpt-train -o "$RUN" --layers 4 --heads 4 --channels 192 --context 128 \
	-b 8 -t 128 --steps "$STEPS" --lr 2e-3 --warmup 50 --final-lr-frac 0.1 \
	--val-fraction 0.1 --eval-every 200 --eval-batches 20 --checkpoint-every 200 \
	--sample-every "$STEPS" --sample-tokens $SAMPLE "$DEMO/shakespeare.bytes.tok" 2>"$DEMO/train.err"
rc=$?
set -e
if [ $rc -eq 124 ] || [ $rc -eq 130 ]; then
	done_steps=$(awk '$2 == "train" { s = $1 } END { print s }' "$RUN/log.txt")
	echo "(stopped by the time limit after $done_steps steps; finishing with --resume)"
	next=$((done_steps + 1))
	gpt-train -o "$RUN" --resume --steps $next --sample-every $next --sample-tokens $SAMPLE \
		--val-fraction 0.1 --eval-batches 20 "$DEMO/shakespeare.bytes.tok" 2>>"$DEMO/train.err"
elif [ $rc -ne 0 ]; then
	cat "$DEMO/train.err" >&2
	exit $rc
fi
t1=$(date +%s)
grep '^step ' "$DEMO/train.err" || true
awk -v s=$((t1 - t0)) '$2 == "train" { n = $1; tl = $3; ms += $6 } $2 == "val" { vl = $3 }
	END { printf "trained %d steps in %d s (%.0f ms/step); final train loss %.3f; final validation loss %.3f\n", n, s, ms / n, tl, vl }' "$RUN/log.txt"
echo "sample:"
sed -n '/^--- sample at step/,/^---$/p' "$DEMO/train.err" | sed '1d;$d'
