#!/bin/sh
# make bench B=toktrain: tok-train beside Hugging Face tokenizers' BpeTrainer
# on the >= 100 MB corpus of bench/make_corpus.sh (built when missing):
#   - wall time and peak memory (/usr/bin/time) for 8k and 32k vocabularies,
#     both with 2 threads (tok-train -j 2, RAYON_NUM_THREADS=2), same
#     pre-tokenization (gpt2 regex) and min frequency (2); medians of RUNS;
#   - the vocabularies' overlap;
#   - the naive reference (tests/tok_train_ref.py) on 1 MB, 1024 tokens;
#   - compression (bytes per token) on held-out text, beside gpt2/cl100k.
#   RUNS=3 (tok-train), HF_RUNS=3, SIZES="8192 32768"
cd "$(dirname "$0")/.." || exit 1
BIN=${BIN:-bin}
RUNS=${RUNS:-3}
HF_RUNS=${HF_RUNS:-3}
SIZES=${SIZES:-"8192 32768"}
C=bench/corpus
[ -s $C/corpus.txt ] && [ -s $C/heldout.txt ] && [ -s $C/1mb.txt ] || sh bench/make_corpus.sh || exit 1
TOP=$(pwd)
. tests/lib.sh
venv tokenizers regex || { echo "toktrain: no python venv with tokenizers"; exit 1; }
W=$T

# median of the numbers on stdin
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# timed OUT CMD...: runs CMD, appends "seconds peak_kb" to OUT
timed() { out=$1; shift; /usr/bin/time -f "%e %M" -o "$W/t" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; return 1; }; cat "$W/t" >>"$out"; }

bytes=$(wc -c <$C/corpus.txt)
echo "corpus: $C/corpus.txt $bytes bytes; $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "tokenizers $("$PY" -c 'import tokenizers; print(tokenizers.__version__)')"
for v in $SIZES; do
	: >"$W/ours"; : >"$W/hf"
	i=0; while [ $i -lt "$RUNS" ]; do
		timed "$W/ours" "$BIN/tok-train" -q -j 2 -v "$v" -f hf -o "$W/ours.tok" $C/corpus.txt || exit 1
		i=$((i + 1))
	done
	i=0; while [ $i -lt "$HF_RUNS" ]; do
		timed "$W/hf" env RAYON_NUM_THREADS=2 "$PY" tests/tok_train_hf.py train -v "$v" -o "$W/hf.json" $C/corpus.txt || exit 1
		i=$((i + 1))
	done
	ts=$(cut -d' ' -f1 "$W/ours" | median); tm=$(cut -d' ' -f2 "$W/ours" | median)
	hs=$(cut -d' ' -f1 "$W/hf" | median); hm=$(cut -d' ' -f2 "$W/hf" | median)
	echo "vocab $v: tok-train -j 2 ${ts}s $((tm / 1024)) MB peak | HF BpeTrainer ${hs}s $((hm / 1024)) MB peak" \
		"| tok-train $(echo "$hs $ts" | awk '{ printf "%.1f", $1 / $2 }')x faster, $(echo "$hm $tm" | awk '{ printf "%.1f", $1 / $2 }')x less memory" \
		"| runs: ours $(cut -d' ' -f1 "$W/ours" | tr '\n' ' ')hf $(cut -d' ' -f1 "$W/hf" | tr '\n' ' ')"
	echo "vocab $v overlap: $("$PY" tests/tok_train_hf.py overlap "$W/ours.tok.json" "$W/hf.json" | tr '\n' ' ')"
	"$BIN/tok-train" -q -j 2 -v "$v" --tie-order hf -f hf -o "$W/hft.tok" $C/corpus.txt
	echo "vocab $v overlap with --tie-order hf: $("$PY" tests/tok_train_hf.py overlap "$W/hft.tok.json" "$W/hf.json" | tr '\n' ' ')"
	: >"$W/one"
	timed "$W/one" "$BIN/tok-train" -q -j 1 -v "$v" -o "$W/one.tok" $C/corpus.txt
	echo "vocab $v: tok-train -j 1 $(cut -d' ' -f1 "$W/one")s"
	held=$(wc -c <$C/heldout.txt)
	nt=$("$BIN/tok-encode" -t "$W/ours.tok" -c $C/heldout.txt | awk 'END { print $1 }')
	echo "vocab $v held-out compression: $held bytes -> $nt tokens = $(echo "$held $nt" | awk '{ printf "%.3f", $1 / $2 }') bytes/token"
done
for e in gpt2 cl100k_base; do
	nt=$("$BIN/tok-encode" -e $e -c $C/heldout.txt | awk 'END { print $1 }')
	echo "$e held-out compression: $nt tokens = $(echo "$(wc -c <$C/heldout.txt) $nt" | awk '{ printf "%.3f", $1 / $2 }') bytes/token"
done

# The naive reference on 1 MB.
: >"$W/ours"
for i in 1 2 3; do timed "$W/ours" "$BIN/tok-train" -q -j 2 -v 1024 -o "$W/n.tok" --dump-merges "$W/c.m" $C/1mb.txt; done
: >"$W/ref"
timed "$W/ref" "$PY" tests/tok_train_ref.py -v 1024 $C/1mb.txt
"$PY" tests/tok_train_ref.py -v 1024 $C/1mb.txt >"$W/r.m"
same=different; cmp -s "$W/c.m" "$W/r.m" && same=identical
ts=$(cut -d' ' -f1 "$W/ours" | median); rs=$(cut -d' ' -f1 "$W/ref")
echo "naive reference, 1 MB, 1024 tokens: tok-train ${ts}s, tests/tok_train_ref.py ${rs}s:" \
	"$(echo "$rs $ts" | awk '{ printf "%.0f", $1 / ($2 > 0.001 ? $2 : 0.001) }')x faster; merges $same"
