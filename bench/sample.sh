#!/bin/sh
# make bench: gpt-sample's generation speed at batch 1 on GPT-2 124M shapes
# (random weights), 2 threads, fp32 and bf16, beside Hugging Face
# transformers' generate() (greedy, use_cache) on the same weights in the
# same run, and beside the memory-bandwidth ceiling: weight bytes per token
# over the bandwidth measured here by a streaming read (bench/sample_membw.c).
# Also prompt processing (a 128-token prompt in one batched pass).
#   REPS=3 NEW=64 THREADS=2 sh bench/sample.sh   (the defaults)
cd "$(dirname "$0")/.." || exit 1
TOP=$(pwd)
BIN=${BIN:-$TOP/bin}
BUILD=${BUILD:-build/rel}
REPS=${REPS:-3}
NEW=${NEW:-64}
THREADS=${THREADS:-2}
W=$TOP/build/bench-sample
mkdir -p "$W"
. "$TOP/tests/lib.sh" >/dev/null 2>&1 || true
trap - EXIT
have_torch=1
venv torch transformers safetensors numpy || have_torch=0

# --- the model: GPT-2 124M shapes, random weights (transformers' init)
[ $have_torch = 1 ] || { echo "no torch: transformers' side skipped" >&2; exit 1; }
. "$TOP/bench/gpt2_model.sh"
gpt2_model "$W" || exit 1
[ -f "$W/m5.bin" ] || "$BIN/gpt-convert" -q -d bf16 "$W/hf" "$W/m5.bin" || exit 1
python3 - "$W/prompt.tok" <<'EOF'
import random, struct, sys
random.seed(1)
t = [random.randrange(50257) for _ in range(128)]
h = [0] * 256; h[0], h[1], h[2], h[3], h[4] = 20240520, 1, len(t), 50257, 50256
h[5:13] = struct.unpack("<8i", b"gpt2".ljust(32, b"\0"))
open(sys.argv[1], "wb").write(struct.pack("<256i", *h) + struct.pack("<%dH" % len(t), *t))
EOF

cc -std=c11 -D_GNU_SOURCE -O3 -march=native -fopenmp -Isample -Ilib bench/sample_membw.c "$BUILD/libgptkit.a" \
	-lopenblas -lm -o "$W/membw" || exit 1

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

rm -f "$W/hfout"; : >"$W/bw" ; : >"$W/bw16" ; : >"$W/f32" ; : >"$W/b16" ; : >"$W/p32" ; : >"$W/p16" ; : >"$W/r_hf" ; : >"$W/r_hfp" ; : >"$W/a32"
for r in $(seq "$REPS"); do
	# read as many bytes as a token's weights (fp32, then bf16): with a
	# last-level cache of hundreds of MB (300 MB on the development VM) a
	# larger buffer would understate what reading the weights can reach
	OMP_NUM_THREADS=$THREADS "$W/membw" 473 -q | awk '/^bandwidth/ { print $2 }' >>"$W/bw"
	OMP_NUM_THREADS=$THREADS "$W/membw" 237 -q | awk '/^bandwidth/ { print $2 }' >>"$W/bw16"
	for d in fp32 bf16; do
		m=$W/m.bin; [ $d = bf16 ] && m=$W/m5.bin
		"$BIN/gpt-sample" -j "$THREADS" --stats -t 0 -n "$NEW" --ignore-eot --dtype $d "$m" "$W/prompt.tok" \
			2>"$W/err" >/dev/null || { cat "$W/err"; exit 1; }
		f=$W/f32 p=$W/p32; [ $d = bf16 ] && f=$W/b16 p=$W/p16
		sed -n 's/.*decode steps in [0-9.]* s (\([0-9.]*\) tokens\/s).*/\1/p' "$W/err" >>"$f"
		sed -n 's/.*prompt [0-9]* tokens in [0-9.]* s (\([0-9.]*\) tokens\/s).*/\1/p' "$W/err" >>"$p"
	done
	# libgomp's threads left spinning (decoding runs on the engine's own
	# threads; the prompt pass and BLAS on OpenMP's)
	OMP_WAIT_POLICY=active "$BIN/gpt-sample" -j "$THREADS" --stats -t 0 -n "$NEW" --ignore-eot "$W/m.bin" "$W/prompt.tok" \
		2>"$W/err" >/dev/null && sed -n 's/.*decode steps in [0-9.]* s (\([0-9.]*\) tokens\/s).*/\1/p' "$W/err" >>"$W/a32"
	# torch's OpenMP threads get the same wait policy as gpt-sample's
	OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} $PY - "$W/hf" "$THREADS" "$NEW" >>"$W/hfout" 2>/dev/null <<'EOF'
import struct, sys, time, torch
from transformers import GPT2LMHeadModel
torch.set_num_threads(int(sys.argv[2])); n = int(sys.argv[3])
m = GPT2LMHeadModel.from_pretrained(sys.argv[1], torch_dtype=torch.float32).eval()
b = open(sys.argv[1] + "/../prompt.tok", "rb").read()
ids = torch.tensor([list(struct.unpack_from("<128H", b, 1024))])
with torch.inference_mode():
    m(ids)  # warm up
    t0 = time.perf_counter(); m(ids); tp = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = m.generate(ids, do_sample=False, use_cache=True, max_new_tokens=n, min_new_tokens=n, pad_token_id=50256)
    tg = time.perf_counter() - t0
# decode rate: the generate() time less one prompt pass, over the n - 1 steps after it
print(f"{(n - 1) / max(tg - tp, 1e-9):.3f} {128 / tp:.3f}")
EOF
done
awk '{ print $1 }' "$W/hfout" >"$W/r_hf"; awk '{ print $2 }' "$W/hfout" >"$W/r_hfp"; rm -f "$W/hfout"
# each run's figures, for judging the noise of a shared machine
# (GB/s of the two reads; decode tokens/s and its share of that run's ceiling; prompt tokens/s)
echo "run  GB/s: 473 MiB 237 MiB | decode: fp32 (ceiling)  bf16 (ceiling)  active  transformers | prompt: fp32  bf16  transformers"
paste "$W/bw" "$W/bw16" "$W/f32" "$W/b16" "$W/a32" "$W/r_hf" "$W/p32" "$W/p16" "$W/r_hfp" |
	awk '{ C = 768; L = 12; V = 50257; w32 = (L * 12 * C * C + V * C) * 4 + (L * 13 * C + 2 * C) * 4
	w16 = (L * 12 * C * C + V * C) * 2 + (L * 13 * C + 2 * C) * 4
	printf "%3d %12.1f %7.1f | %12.1f (%3.0f%%) %8.1f (%3.0f%%) %7.1f %12.1f | %12.0f %5.0f %13.0f\n", NR, $1, $2,
	       $3, 100 * $3 * w32 / ($1 * 1e9), $4, 100 * $4 * w16 / ($2 * 1e9), $5, $6, $7, $8, $9 }'

bw=$(median <"$W/bw") bw16=$(median <"$W/bw16") f32=$(median <"$W/f32") b16=$(median <"$W/b16") p32=$(median <"$W/p32") p16=$(median <"$W/p16")
a32=$(median <"$W/a32") hf=$(median <"$W/r_hf") hfp=$(median <"$W/r_hfp")
# weight bytes per token: 12 layers x 12 C^2 + the head V x C, plus the small vectors
awk -v bw="$bw" -v bw16="$bw16" -v f32="$f32" -v b16="$b16" -v p32="$p32" -v p16="$p16" -v hf="$hf" -v hfp="$hfp" -v a32="$a32" \
    -v reps="$REPS" -v n="$NEW" -v th="$THREADS" 'BEGIN {
	C = 768; L = 12; V = 50257
	w32 = (L * 12 * C * C + V * C) * 4 + (L * 13 * C + 2 * C) * 4
	w16 = (L * 12 * C * C + V * C) * 2 + (L * 13 * C + 2 * C) * 4
	c32 = bw * 1e9 / w32; c16 = bw16 * 1e9 / w16
	printf "medians of %d runs, %d threads, GPT-2 124M shapes, %d new tokens after a 128-token prompt\n", reps, th, n
	printf "read bandwidth, fp32 / bf16 weight sizes %8.2f / %.2f GB/s\n", bw, bw16
	printf "fp32 ceiling (%.0f MB/token)             %8.1f tokens/s\n", w32 / 1e6, c32
	printf "bf16 ceiling (%.0f MB/token)             %8.1f tokens/s\n", w16 / 1e6, c16
	printf "gpt-sample fp32 decode                   %8.1f tokens/s  %5.1f%% of ceiling\n", f32, 100 * f32 / c32
	printf "gpt-sample fp32, OMP_WAIT_POLICY=active  %8.1f tokens/s  %5.1f%% of ceiling\n", a32, 100 * a32 / c32
	printf "gpt-sample bf16 decode                   %8.1f tokens/s  %5.1f%% of ceiling\n", b16, 100 * b16 / c16
	if (hf > 0) {
		printf "transformers generate fp32 decode        %8.1f tokens/s\n", hf
		printf "gpt-sample / transformers                %8.2fx fp32, %.2fx bf16\n", f32 / hf, b16 / hf
	}
	printf "prompt processing: gpt-sample fp32 %.0f, bf16 %.0f, transformers %.0f tokens/s", p32, p16, hfp
	if (hfp > 0)
		printf " (%.2fx, %.2fx)", p32 / hfp, p16 / hfp
	printf "\n"
}'
