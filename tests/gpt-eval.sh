#!/bin/sh
# gpt-eval against transformers' numbers (tests/hf_ref, made by
# make_golden.py on the model in tests/hf_ref/tiny) and against gpt-train.
. "$TOP/tests/lib.sh"
H=$TOP/tests/hf_ref
TOOL="python3 $H/golden_tool.py"
M=$H/tiny

# --- HellaSwag: JSONL and llm.c's .bin eval file, both norms
gpt-eval --json -v -e bytes "$M" --task hellaswag "$H/hellaswag.jsonl" >"$T/hs.json" 2>"$T/err"
check hellaswag-jsonl-vs-transformers $TOOL hellaswag "$T/hs.json" "$H/hellaswag_golden.json"
gpt-eval --json -v -e bytes --harness-norm "$M" --task hellaswag "$H/hellaswag.jsonl" >"$T/hsh.json" 2>"$T/err"
check hellaswag-harness-norm-vs-reference $TOOL hellaswag "$T/hsh.json" "$H/hellaswag_golden.json" harness
$TOOL evalbin "$H/hellaswag.jsonl" "$T/hs.bin"
gpt-eval --json -v -e bytes "$M" --task hellaswag "$T/hs.bin" >"$T/hsb.json" 2>"$T/err"
check hellaswag-llmc-bin-vs-transformers $TOOL hellaswag "$T/hsb.json" "$H/hellaswag_golden.json"
gpt-eval --json -v -e bytes --harness-norm "$M" --task hellaswag "$T/hs.bin" >"$T/hsbh.json" 2>"$T/err"
check hellaswag-llmc-bin-harness-norm $TOOL hellaswag "$T/hsbh.json" "$H/hellaswag_golden.json" harness
out=$(gpt-eval -e bytes -n 2 "$M" --task hellaswag "$H/hellaswag.jsonl")
case $out in "hellaswag: 2 examples  acc "*) ok hellaswag-text-report ;; *) fail hellaswag-text-report "got '$out'" ;; esac

# --- loss, perplexity, bits per byte on a stream, against transformers
$TOOL stream eval "$T/eval.tok"
for ts in "128 128" "64 64" "64 16" "100 37"; do
	set -- $ts
	gpt-eval --json -T "$1" --stride "$2" "$M" "$T/eval.tok" >"$T/ev.json" 2>"$T/err"
	check "stream-loss-T$1-stride$2-vs-transformers" $TOOL evalloss "$T/ev.json" "$1" "$2"
done
gpt-eval --json "$M" "$T/eval.tok" >"$T/ev.json"
# the "bytes" encoding has one byte per token: bits per byte = loss / ln 2
bpb=$(python3 -c "import json,math; j=json.load(open('$T/ev.json')); print(j['bits_per_byte'], j['loss']/math.log(2), j['bytes']==j['tokens'])")
set -- $bpb
if [ "$3" = True ] && $TOOL close "$1" "$2" 1e-7 >/dev/null; then ok bits-per-byte; else fail bits-per-byte "$bpb"; fi
# bits per byte with a multi-byte encoding: bytes counted by decoding the
# targets (every token but the first) with the stream's encoding
printf 'The quick brown fox jumps over the lazy dog. ' >"$T/fox.txt"
if tok-encode -e gpt2 "$T/fox.txt" >"$T/fox.tok" 2>/dev/null; then
	$TOOL fold "$T/fox.tok" 320 "$T/fold.tok" "$T/rest.tok"
	nbytes=$(tok-decode "$T/rest.tok" | wc -c)
	gpt-eval --json "$M" "$T/fold.tok" >"$T/fox.json" 2>"$T/err"
	got=$(python3 -c "
import json, math; j = json.load(open('$T/fox.json'))
print(j['encoding'], j['bytes'], abs(j['bits_per_byte'] - j['loss'] * j['tokens'] / math.log(2) / $nbytes) < 1e-6)")
	if [ "$got" = "gpt2 $nbytes True" ]; then ok bits-per-byte-gpt2-encoding; else fail bits-per-byte-gpt2-encoding "got '$got', want $nbytes bytes"; fi
else
	skip bits-per-byte-gpt2-encoding "tok-encode not built"
fi

# --- the same loss as gpt-train's validation on the same data and model
if command -v gpt-train >/dev/null; then
	head -c 20000 "$TOP/data/tinyshakespeare.txt" | tok-encode -e bytes >"$T/tr.tok"
	tail -c 193 "$TOP/data/tinyshakespeare.txt" | tok-encode -e bytes >"$T/va.tok"
	if gpt-train -o "$T/run" --layers 2 --heads 4 --channels 64 --context 64 -b 2 -t 32 --steps 3 \
		--val "$T/va.tok" "$T/tr.tok" -q -j 2 >"$T/train.out" 2>&1; then
		want=$(awk '$2 == "val" { v = $3 } END { print v }' "$T/run/log.txt")
		got=$(gpt-eval --json -T 32 "$T/run/model_00000003.bin" "$T/va.tok" |
			python3 -c "import json,sys; print('%.9f' % json.load(sys.stdin)['loss'])")
		# gpt-train logs a float mean of per-batch means to 6 decimals
		if [ -n "$want" ] && $TOOL close "$got" "$want" 3e-7 >/dev/null; then ok loss-equals-gpt-train-validation
		else fail loss-equals-gpt-train-validation "gpt-eval $got, gpt-train $want"; fi
	else
		fail loss-equals-gpt-train-validation "gpt-train failed: $(tail -1 "$T/train.out")"
	fi
else
	skip loss-equals-gpt-train-validation "gpt-train not built"
fi

# --- bad input
printf '{"ctx": "a", "endings": ["b"], "label": 0}\n{"ctx": 3}\n' >"$T/bad.jsonl"
check_fails bad-jsonl-names-line 1 'bad.jsonl:2: offset 43' gpt-eval -e bytes "$M" --task hellaswag "$T/bad.jsonl"
printf '{"ctx": "a", "endings": ["b", "c"], "label": 5}\n' >"$T/bad2.jsonl"
check_fails bad-label 1 'label 5 is not one of the 2 endings' gpt-eval -e bytes "$M" --task hellaswag "$T/bad2.jsonl"
head -c 1100 "$T/hs.bin" >"$T/short.bin"
check_fails truncated-eval-bin 1 'short.bin: offset' gpt-eval -e bytes "$M" --task hellaswag "$T/short.bin"
check_fails missing-model 1 'nope.bin' gpt-eval "$T/nope.bin" "$T/eval.tok"
check_fails stride-longer-than-window 2 'stride' gpt-eval -T 16 --stride 32 "$M" "$T/eval.tok"
check_fails unknown-task 2 'unknown task' gpt-eval --task mmlu "$M" x
finish
