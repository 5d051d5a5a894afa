#!/bin/sh
# gpt-convert: Hugging Face GPT-2 <-> gptkit checkpoints, on the random
# GPT2LMHeadModel that transformers saved in tests/hf_ref/tiny, and the
# safetensors reader's refusals of bad input.
. "$TOP/tests/lib.sh"
H=$TOP/tests/hf_ref
M=$H/tiny
EDIT="python3 $H/st_edit.py"
TOOL="python3 $H/golden_tool.py"

# a model directory with the tiny config and an edited copy of its tensors
mk() {
	d=$T/$1; shift
	mkdir -p "$d" && cp "$M/config.json" "$d/" && $EDIT "$M/model.safetensors" "$d/model.safetensors" "$@"
}
# checkpoint size: 1024 + 4 * params (Vp = 384, maxT 128, C 64, L 2)
P=$(( 384*64 + 128*64 + 2*(64*2 + 3*64*64 + 3*64 + 64*64 + 64 + 64*2 + 4*64*64 + 4*64 + 4*64*64 + 64) + 128 ))

check import "$BIN/gpt-convert" -q "$M" "$T/a.bin"
size=$(wc -c <"$T/a.bin")
if [ "$size" -eq $((1024 + 4 * P)) ]; then ok import-size-padded-vocab; else fail import-size-padded-vocab "$size bytes, want $((1024 + 4 * P))"; fi
check export gpt-convert -q "$T/a.bin" "$T/hf"
check reimport gpt-convert -q "$T/hf" "$T/b.bin"
same_file round-trip-exact "$T/a.bin" "$T/b.bin"
check import-safetensors-file gpt-convert -q "$M/model.safetensors" "$T/c.bin"
same_file import-file-equals-dir "$T/a.bin" "$T/c.bin"

# the converted checkpoint gives transformers' greedy tokens
$TOOL stream prompt "$T/prompt.tok"
$TOOL stream gen "$T/gen.tok"
gpt-sample -t 0 -n 64 --ignore-eot "$T/a.bin" "$T/prompt.tok" >"$T/out.tok" 2>"$T/err"
if [ "$($TOOL tokens "$T/out.tok")" = "$($TOOL tokens "$T/gen.tok")" ]; then ok converted-checkpoint-greedy-matches-transformers
else fail converted-checkpoint-greedy-matches-transformers "tokens differ"; fi

# names without the transformer. prefix, the attention buffers, a tied head
mk noprefix strip-prefix && check no-prefix gpt-convert -q "$T/noprefix" "$T/np.bin" && same_file no-prefix-same "$T/a.bin" "$T/np.bin"
mk buffers buffers && check attn-buffers gpt-convert -q "$T/buffers" "$T/bu.bin" && same_file attn-buffers-same "$T/a.bin" "$T/bu.bin"
mk head lm-head && check tied-head gpt-convert -q "$T/head" "$T/hd.bin" && same_file tied-head-same "$T/a.bin" "$T/hd.bin"
mk untied lm-head 0.5
check_fails untied-head-refused 1 'lm_head.weight differs from wte.weight' gpt-convert "$T/untied" "$T/x.bin"

# fp16 and bf16 tensors: Python's rounding of the tiny model equals ours
mk f16 dtype F16 && check import-f16 gpt-convert -q "$T/f16" "$T/f16.bin"
check export-f16 gpt-convert -q -d fp16 "$T/a.bin" "$T/hf16"
check reimport-f16 gpt-convert -q "$T/hf16" "$T/f16b.bin"
same_file f16-rounding-matches-python "$T/f16.bin" "$T/f16b.bin"
mk bf16 dtype BF16 && check import-bf16 gpt-convert -q "$T/bf16" "$T/bf16.bin"
check export-bf16 gpt-convert -q -d bf16 "$T/a.bin" "$T/hbf16"
check reimport-bf16 gpt-convert -q "$T/hbf16" "$T/bf16b.bin"
same_file bf16-rounding-matches-python "$T/bf16.bin" "$T/bf16b.bin"
check checkpoint-v5 gpt-convert -q -d bf16 "$M" "$T/v5.bin"
size=$(wc -c <"$T/v5.bin")
if [ "$size" -eq $((1024 + 2 * P)) ]; then ok checkpoint-v5-size; else fail checkpoint-v5-size "$size bytes"; fi
v5=$(od -An -t d4 -j 4 -N 4 "$T/v5.bin" | tr -d ' ')
[ "$v5" = 5 ] && ok checkpoint-v5-version || fail checkpoint-v5-version "version $v5"
check v5-to-hf gpt-convert -q "$T/v5.bin" "$T/hv5"
check hf-dir-loads-in-gpt-sample gpt-sample -t 0 -n 4 "$T/hv5" "$T/prompt.tok"

# bad input: one line naming the file and what is wrong
mk missing drop transformer.h.1.mlp.c_fc.bias
check_fails missing-tensor 1 "tensor 'h.1.mlp.c_fc.bias' is missing" gpt-convert "$T/missing" "$T/x.bin"
mk shape reshape transformer.h.0.attn.c_attn.weight 192,64
check_fails wrong-shape 1 "has shape \[192, 64\], the config needs \[64, 192\]" gpt-convert "$T/shape" "$T/x.bin"
mk extra extra transformer.h.0.attn.rotary
check_fails unknown-tensor 1 "'transformer.h.0.attn.rotary' is not part of a GPT-2" gpt-convert "$T/extra" "$T/x.bin"
mkdir -p "$T/trunc" && cp "$M/config.json" "$T/trunc/" && head -c 300000 "$M/model.safetensors" >"$T/trunc/model.safetensors"
check_fails truncated-file 1 "past its end" gpt-convert "$T/trunc" "$T/x.bin"
mk outside offsets transformer.wte.weight 0 99999999
check_fails header-points-outside 1 "past its end" gpt-convert "$T/outside" "$T/x.bin"
mk overlap offsets transformer.h.0.ln_1.bias 768 1024
check_fails overlapping-tensors 1 "overlap" gpt-convert "$T/overlap" "$T/x.bin"
mk hlen header-len 99999999999
check_fails header-length-too-big 1 "header length" gpt-convert "$T/hlen" "$T/x.bin"
mk badjson bad-json
check_fails bad-header-json 1 "header JSON at offset" gpt-convert "$T/badjson" "$T/x.bin"
mkdir -p "$T/tiny8" && cp "$M/config.json" "$T/tiny8/" && printf '\001\000\000\000\000\000\000' >"$T/tiny8/model.safetensors"
check_fails too-short 1 "too short" gpt-convert "$T/tiny8" "$T/x.bin"
for bad in 'model_type:"llama"' 'activation_function:"relu"' 'n_inner:128' 'tie_word_embeddings:false' 'layer_norm_epsilon:1e-6'; do
	key=${bad%%:*} val=${bad#*:}
	mkdir -p "$T/cfg-$key" && cp "$M/model.safetensors" "$T/cfg-$key/"
	python3 -c "import json,sys; c=json.load(open('$M/config.json')); c['$key']=json.loads(sys.argv[1]); json.dump(c, open('$T/cfg-$key/config.json','w'))" "$val"
	check_fails "non-gpt2-config-$key" 1 "config.json: .*$key" gpt-convert "$T/cfg-$key" "$T/x.bin"
done
printf '{"model_type": "gpt2", "n_embd": 64' >"$T/badcfg.json"
mkdir -p "$T/badcfg" && cp "$M/model.safetensors" "$T/badcfg/" && cp "$T/badcfg.json" "$T/badcfg/config.json"
check_fails truncated-config 1 "config.json: JSON at offset" gpt-convert "$T/badcfg" "$T/x.bin"
check_fails bad-dtype-for-checkpoint 2 "fp16" gpt-convert -d fp16 "$M" "$T/x.bin"
check_fails missing-input 1 "nope.bin" gpt-convert "$T/nope.bin" "$T/x"
check_fails one-argument 2 "IN and OUT" gpt-convert "$M"
[ ! -e "$T/x.bin" ] && ok no-output-on-failure || fail no-output-on-failure "$T/x.bin exists"
finish
