#!/bin/sh
# Training on the CPU: gpt-train's step beside PyTorch's same step, on the
# same machine in the same run, with 2 threads: GPT-2 124M (-m d12) and
# L=6 H=6 C=384, both at B=4 T=64, and GPT-2 124M at B=1 T=1024 (a full
# context, where attention weighs), on Tiny Shakespeare (GPT-2 tokens).
# Each figure is the median step time (first step dropped) of a run; runs
# alternate between the two programs, and the medians of $RUNS runs are
# reported with their range, to show how noisy the machine was.
# PyTorch runs with OMP_WAIT_POLICY=passive, as gpt-train does (its threads
# would otherwise spin at every barrier: on a shared 2-core machine that
# makes it several times slower; TORCH_WAIT=active gives its default).
#   sh bench/train.sh        RUNS=3 STEPS=6 by default
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
RUNS=${RUNS:-3}
STEPS=${STEPS:-6}
J=2
venv torch numpy || { echo "train: skipped: cannot install torch into .venv"; exit 0; }
tok-encode -e gpt2 data/tinyshakespeare.txt >"$T/shak.tok" || exit 1
TV=$($PY -c 'import torch; print(torch.__version__)')

# median of the numbers on stdin
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

for cfg in "d12 (124M)|-m d12|12 12 768|4 64" "L6 H6 C384 (30M)|--layers 6 --heads 6 --channels 384|6 6 384|4 64" \
	"d12 (124M)|-m d12|12 12 768|1 1024"; do
	name=${cfg%%|*}; rest=${cfg#*|}; opts=${rest%%|*}; rest=${rest#*|}; shape=${rest%%|*}; bt=${rest#*|}
	bb=${bt% *} tt=${bt#* }
	: >"$T/g"; : >"$T/t"; : >"$T/gm"; : >"$T/tm"; : >"$T/tc"
	# CPU time per step (user + system, all threads), less sensitive to other
	# work on the machine than wall time: a run of STEPS steps minus a run of 1
	for n in 1 "$STEPS"; do
		rm -rf "$T/run"
		/usr/bin/time -f "%U %S" -o "$T/cpu$n" gpt-train -o "$T/run" -q -j $J $opts -b $bb -t $tt \
			--steps "$n" "$T/shak.tok" || exit 1
	done
	gc=$(awk -v s="$STEPS" 'NR == FNR { a = $1 + $2; next } { printf "%.0f", ($1 + $2 - a) * 1000 / (s - 1) }' "$T/cpu1" "$T/cpu$STEPS")
	for r in $(seq "$RUNS"); do
		rm -rf "$T/run"
		/usr/bin/time -f %M -o "$T/rss" gpt-train -o "$T/run" -q -j $J $opts -b $bb -t $tt \
			--steps "$STEPS" "$T/shak.tok" || exit 1
		awk '$2 == "train" && $1 > 1 { print $6 }' "$T/run/log.txt" | median >>"$T/g"
		echo $(( $(cat "$T/rss") / 1024 )) >>"$T/gm"
		OMP_NUM_THREADS=$J OMP_WAIT_POLICY=${TORCH_WAIT:-passive} $PY bench/train_torch.py "$T/shak.tok" $shape $bb $tt "$STEPS" $J >"$T/tl" || exit 1
		awk 'NF == 4 && $1 > 1 { print $2 }' "$T/tl" | median >>"$T/t"
		awk 'NF == 4 && $1 > 1 { print $4 }' "$T/tl" | median >>"$T/tc"
		awk '/^peak_rss_mb/ { print $2 }' "$T/tl" >>"$T/tm"
	done
	g=$(median <"$T/g"); t=$(median <"$T/t"); gm=$(median <"$T/gm"); tm=$(median <"$T/tm"); tc=$(median <"$T/tc")
	grange=$(sort -n "$T/g" | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.0f-%.0f", a, b }')
	trange=$(sort -n "$T/t" | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.0f-%.0f", a, b }')
	awk -v n="$name" -v g="$g" -v t="$t" -v gm="$gm" -v tm="$tm" -v gr="$grange" -v tr="$trange" \
		-v tv="$TV" -v runs="$RUNS" -v bb="$bb" -v tt="$tt" -v gc="$gc" -v tc="$tc" 'BEGIN {
		printf "%s B=%d T=%d, 2 threads: gpt-train %.0f ms/step (%.0f tok/s, peak %d MB) | PyTorch %s %.0f ms/step (%.0f tok/s, peak %d MB) | PyTorch/gpt-train %.2fx | %d runs, ranges %s and %s ms\n",
			n, bb, tt, g, bb * tt * 1000 / g, gm, tv, t, bb * tt * 1000 / t, tm, t / g, runs, gr, tr
		printf "    CPU time per step (all threads): gpt-train %.0f ms, PyTorch %.0f ms (ratio %.2fx); with 2 idle cores a step would take about half of it\n", gc, tc, tc / gc }'
done
echo "load average (1, 5, 15 min) at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
