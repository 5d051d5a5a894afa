#!/bin/sh
# A GPT-2 124M with random weights for the benchmarks, made once:
# DIR/hf (transformers' initialisation, save_pretrained) and DIR/m.bin (the
# same weights as a gptkit checkpoint).  Needs the venv's torch (tests/lib.sh).
#   . bench/gpt2_model.sh; gpt2_model DIR || exit 1
gpt2_model() {
	[ -f "$1/m.bin" ] && [ -f "$1/hf/model.safetensors" ] && return 0
	mkdir -p "$1"
	$PY - "$1/hf" <<'PYEOF' || return 1
import sys, torch
from transformers import GPT2Config, GPT2LMHeadModel
torch.manual_seed(0)
GPT2LMHeadModel(GPT2Config()).save_pretrained(sys.argv[1])
PYEOF
	"$BIN/gpt-convert" -q "$1/hf" "$1/m.bin"
}
