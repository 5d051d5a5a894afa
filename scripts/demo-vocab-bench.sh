#!/bin/sh
# The comparison behind the demo's choice of vocabulary (BENCHMARKS.md,
# "Vocabulary for the demo model"): the demo's model (4 layers, 4 heads,
# 192 channels, context 128, batch 8x128 tokens) trained on Tiny Shakespeare
# as bytes, with tok-train vocabularies of 512, 1024 and 2048 tokens, and with
# GPT-2's, at an equal CPU budget, scored in bits per byte on the same held-out
# bytes (the last 10% of the text, split at a line boundary before encoding).
#   sh scripts/demo-vocab-bench.sh time [DIR]   CPU s/step of each, one thread
#   sh scripts/demo-vocab-bench.sh train [DIR]  train (all five at once, one
#       thread each) and score each, then print the table; steps from
#       STEPS_bytes STEPS_v512 STEPS_v1024 STEPS_v2048 STEPS_gpt2 (the budget:
#       N byte steps, each vocabulary's steps = N * cpu(bytes) / cpu(it))
#   sh scripts/demo-vocab-bench.sh table [DIR]  the table of the runs in DIR
#       (CPU and wall seconds summed over run-C.time* when a run was resumed)
set -e
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}; BIN=$(cd "$BIN" && pwd); PATH="$BIN:$PATH"
mode=${1:-time}
D=${2:-build/vocab}
mkdir -p "$D"
cd "$D"
T=$OLDPWD/data/tinyshakespeare.txt
configs="bytes v512 v1024 v2048 gpt2"
if [ "$mode" != table ]; then
cut=$(awk '{ n += length($0) + 1; if (n >= 1003856) { print n; exit } }' "$T")
head -c "$cut" "$T" >train.txt
tail -c +"$((cut + 1))" "$T" >val.txt
for c in $configs; do
	case $c in
	v*) tok-train -q -v "${c#v}" -s '<|endoftext|>' -o "$c.tokenizer" train.txt; opt="-t $c.tokenizer" ;;
	*) opt="-e $c" ;;
	esac
	tok-encode $opt train.txt -o "train.$c.tok"
	tok-encode $opt val.txt -o "val.$c.tok"
done
fi
shape="--layers 4 --heads 4 --channels 192 --context 128 -b 8 -t 128 --lr 2e-3 --warmup 50 --final-lr-frac 0.1"
case $mode in
time)
	# CPU seconds per step on one thread: (cpu(25 steps) - cpu(5 steps)) / 20.
	for c in $configs; do
		for n in 5 25; do
			rm -rf "tm-$c-$n"
			/usr/bin/time -f "%U %S" -o "tm-$c-$n.time" gpt-train -q -j 1 -o "tm-$c-$n" $shape \
				--steps $n "train.$c.tok"
		done
		awk -v c="$c" 'FNR == 1 { t[++i] = $1 + $2 } END { printf "%s %.4f\n", c, (t[2] - t[1]) / 20 }' \
			"tm-$c-5.time" "tm-$c-25.time"
	done ;;
train)
	for c in $configs; do
		eval "n=\${STEPS_$c:-1200}"
		(
			rm -rf "run-$c"
			/usr/bin/time -f "%e %U %S" -o "run-$c.time" gpt-train -q -j 1 -o "run-$c" $shape \
				--steps "$n" "train.$c.tok"
			# gpt-eval knows only built-in encodings' byte counts, so it is given
			# -e gpt2 (its loss does not depend on it) and bits per byte is
			# computed here: loss * scored tokens / ln 2 / bytes of those tokens
			# (all of val.txt but its first token).
			gpt-eval -j 1 -e gpt2 "run-$c/model_$(printf %08d "$n").bin" "val.$c.tok" --json >"eval-$c.json"
		) &
	done
	wait
	sh "$OLDPWD/scripts/demo-vocab-bench.sh" table "$PWD" ;;
table)
	echo "vocab params steps cpu_s wall_s val_loss val_bpb"
	for c in $configs; do
		case $c in v*) opt="-t $c.tokenizer" ;; *) opt="-e $c" ;; esac
		first=$(tok-encode $opt val.txt --format text | head -1 | awk '{ print $1 }')
		fb=$(echo "$first" | tok-decode $opt --format text 2>/dev/null | wc -c)
		vb=$(wc -c <val.txt)
		steps=$(awk '$2 == "train" { s = $1 } END { print s }' "run-$c/log.txt")
		params=$(od -An -w32 -t d4 -N 32 "run-$c/model_$(printf %08d "$steps").bin" |
			awk '{ V = $4; L = $5; C = $7; Vp = $8 } END { printf "%.2fM", (Vp * C + 128 * C + L * 12 * C * C + L * 13 * C + 2 * C) / 1e6 }')
		cat run-$c.time* | grep -v '^Command' >"sum-$c.times"
		python3 - "$c" "$params" "$steps" "sum-$c.times" "eval-$c.json" "$vb" "$fb" <<'PY'
import json, math, sys
c, params, steps, tf, ef, vb, fb = sys.argv[1:]
wall, user, sys_ = (sum(x) for x in zip(*(map(float, l.split()) for l in open(tf))))
e = json.load(open(ef))
bpb = e["loss"] * e["tokens"] / math.log(2) / (int(vb) - int(fb))
print(f"{c} {params} {steps} {user + sys_:.0f} {wall:.0f} {e['loss']:.4f} {bpb:.4f}")
PY
	done ;;
esac
