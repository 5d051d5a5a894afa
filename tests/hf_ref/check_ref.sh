#!/bin/sh
# make check-ref: rerun the transformers reference live (needs torch and
# transformers from PyPI in .venv) instead of trusting the committed files.
#  1. make_golden.py regenerates tiny/ and the golden files; they must equal
#     the committed ones (the generator is seeded and deterministic), and the
#     unit and program tests then pass against either.
#  2. A gptkit checkpoint converted from tiny/ and exported back to Hugging
#     Face loads with GPT2LMHeadModel.from_pretrained and gives the same logits
#     (fp32 exactly; fp16 and bf16 exports within their rounding).
. "$TOP/tests/lib.sh"
H=$TOP/tests/hf_ref
if ! venv torch transformers safetensors numpy; then
	fail venv "cannot install torch/transformers into .venv"
	finish
fi
if $PY "$H/make_golden.py" gen "$T/gen" >"$T/gen.log" 2>&1; then ok regenerate; else fail regenerate "$(tail -2 "$T/gen.log")"; fi
for f in golden.bin eval_golden.json hellaswag_golden.json tiny/model.safetensors; do
	same_file "live-equals-committed-$f" "$H/$f" "$T/gen/$f"
done
gpt-convert -q "$H/tiny" "$T/a.bin"
for d in fp32:1e-6 fp16:2e-2 bf16:1e-1; do
	dt=${d%%:*} tol=${d#*:}
	gpt-convert -q -d "$dt" "$T/a.bin" "$T/exp-$dt"
	if $PY "$H/make_golden.py" check-export "$H/tiny" "$T/exp-$dt" "$tol" >"$T/ce.log" 2>&1; then
		ok "export-$dt-loads-in-transformers ($(grep 'exported logits' "$T/ce.log"))"
	else
		fail "export-$dt-loads-in-transformers" "$(tail -2 "$T/ce.log" | tr '\n' ' ')"
	fi
done
finish
