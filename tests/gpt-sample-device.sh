#!/bin/sh
# gpt-sample --device on a machine without a usable GPU (every CI and
# development machine here): auto falls back to the CPU silently with the
# CPU's tokens, in fp32 and in bf16; cuda fails with one clear line.  On a
# machine with a GPU these cases are skipped: tests/gpu/check.sh compares
# the GPU's greedy tokens with the CPU's there.
. "${TOP:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
BUILD=${BUILD:-build/rel}
M=$TOP/tests/hf_ref/tiny

check_bin=$TOP/$BUILD/tests/gpu/cuda_check
if [ -x "$check_bin" ]; then
	"$check_bin" >"$T/check.out" 2>&1
	if [ $? -ne 77 ]; then
		skip gpt-sample-device "a CUDA device is present: run tests/gpu/check.sh"
		finish
	fi
fi

python3 "$TOP/tests/hf_ref/golden_tool.py" stream prompt "$T/prompt.tok"
for dt in fp32 bf16; do
	gpt-sample -t 0 -n 32 --ignore-eot --dtype $dt --device cpu "$M" "$T/prompt.tok" >"$T/cpu-$dt.tok"
	gpt-sample -t 0 -n 32 --ignore-eot --dtype $dt --device auto "$M" "$T/prompt.tok" >"$T/auto-$dt.tok" 2>"$T/auto.err"
	rc=$?
	[ $rc -eq 0 ] && [ ! -s "$T/auto.err" ] && ok "auto-falls-back-silently-$dt" ||
		fail "auto-falls-back-silently-$dt" "exit $rc: $(head -2 "$T/auto.err" | tr '\n' ' ')"
	same_file "auto-equals-cpu-$dt" "$T/cpu-$dt.tok" "$T/auto-$dt.tok"
done
# the default device is auto
gpt-sample -t 0 -n 32 --ignore-eot "$M" "$T/prompt.tok" >"$T/default.tok"
same_file default-equals-cpu "$T/cpu-fp32.tok" "$T/default.tok"
check_fails cuda-fails-clearly 1 "gpt-sample: --device cuda: " gpt-sample --device cuda -n 4 "$M" "$T/prompt.tok"
check_fails bad-device-is-usage 2 "--device" gpt-sample --device tpu -n 4 "$M" "$T/prompt.tok"

finish
