#!/bin/sh
# gpt-eval's scoring speed (tokens/s) on GPT-2 124M (random weights) over
# windows of 1024 tokens of Tiny Shakespeare, fp32, 2 threads, beside
# transformers scoring the same windows with the same weights in the same
# run (bench/eval_torch.py), and the two mean losses, which must agree.
# gpt-eval's time is the whole command (loading the model included);
# transformers' excludes its loading.  Runs alternate; medians of $REPS.
#   REPS=3 WINDOWS=4 sh bench/eval.sh
cd "$(dirname "$0")/.." || exit 1
TOP=$(pwd)
BIN=${BIN:-$TOP/bin}
REPS=${REPS:-3}
WINDOWS=${WINDOWS:-4}
J=2
. "$TOP/tests/lib.sh"
venv torch transformers safetensors numpy || { echo "eval: skipped: cannot install torch into .venv"; exit 0; }
. "$TOP/bench/gpt2_model.sh"
W=$TOP/build/bench-sample
gpt2_model "$W" || exit 1

# exactly WINDOWS x 1024 + 1 tokens
tok-encode -e gpt2 data/tinyshakespeare.txt >"$T/all.tok" || exit 1
python3 - "$T/all.tok" "$T/ev.tok" $((WINDOWS * 1024 + 1)) <<'PYEOF' || exit 1
import struct, sys
b = open(sys.argv[1], "rb").read(); n = int(sys.argv[3])
h = list(struct.unpack("<256i", b[:1024])); h[2] = n
open(sys.argv[2], "wb").write(struct.pack("<256i", *h) + b[1024:1024 + 2 * n])
PYEOF

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
: >"$T/g"; : >"$T/h"
for r in $(seq "$REPS"); do
	/usr/bin/time -f %e -o "$T/time" gpt-eval -j $J --json "$W/m.bin" "$T/ev.tok" >"$T/json" || exit 1
	gl=$(sed 's/.*"loss": \([0-9.]*\).*/\1/' "$T/json")
	awk -v n=$((WINDOWS * 1024)) '{ printf "%.1f\n", n / $1 }' "$T/time" >>"$T/g"
	OMP_NUM_THREADS=$J OMP_WAIT_POLICY=${TORCH_WAIT:-passive} $PY bench/eval_torch.py "$W/hf" "$T/ev.tok" $J 1024 \
		2>/dev/null >"$T/hout" || exit 1
	awk '{ print $1 }' "$T/hout" >>"$T/h"
	hl=$(awk '{ print $2 }' "$T/hout")
done
g=$(median <"$T/g") h=$(median <"$T/h")
echo "runs: gpt-eval $(tr '\n' ' ' <"$T/g")| transformers $(tr '\n' ' ' <"$T/h")tokens/s"
awk -v g="$g" -v h="$h" -v gl="$gl" -v hl="$hl" -v w="$WINDOWS" -v reps="$REPS" 'BEGIN {
	printf "medians of %d runs, %d windows of 1024 tokens, GPT-2 124M fp32, 2 threads\n", reps, w
	printf "gpt-eval                 %8.1f tokens/s (mean loss %s)\n", g, gl
	printf "transformers forward     %8.1f tokens/s (mean loss %s)\n", h, hl
	printf "gpt-eval / transformers  %8.2fx\n", g / h
	d = gl - hl; if (d < 0) d = -d
	if (d > 1e-4 * hl) { printf "losses differ by %g\n", d; exit 1 }
}'
