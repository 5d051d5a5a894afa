#!/bin/sh
# gpt-train --device on a machine without a usable GPU (every CI and
# development machine here): auto falls back to the CPU silently and gives
# exactly the CPU's run; cuda fails with one clear line.  On a machine with a
# GPU these cases are skipped (tests/gpu/check.sh covers it).
. "${TOP:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
BUILD=${BUILD:-build/rel}

check_bin=$TOP/$BUILD/tests/gpu/cuda_check
if [ -x "$check_bin" ]; then
	"$check_bin" >"$T/check.out" 2>&1
	rc=$?
	if [ $rc -eq 77 ]; then
		ok cuda_check_reports_no_device
	else
		skip gpt-train-device "a CUDA device is present (cuda_check exit $rc): run tests/gpu/check.sh"
		finish
	fi
else
	fail cuda_check_built "$check_bin is missing (make test builds it)"
fi

head -c 30000 "$TOP/data/tinyshakespeare.txt" | tok-encode >"$T/data.tok" || fail encode "tok-encode failed"
args="--layers 2 --heads 2 --channels 32 --context 32 -b 2 -t 16 --steps 4 --seed 7 -j 1"

gpt-train -o "$T/cpu" $args --device cpu "$T/data.tok" >"$T/cpu.out" 2>"$T/cpu.err"
gpt-train -o "$T/auto" $args --device auto "$T/data.tok" >"$T/auto.out" 2>"$T/auto.err"
rc=$?
if [ $rc -ne 0 ]; then
	fail auto_falls_back "exit $rc: $(head -2 "$T/auto.err" | tr '\n' ' ')"
else
	ok auto_falls_back
fi
if [ -s "$T/auto.err" ]; then fail auto_is_silent "stderr: $(head -2 "$T/auto.err" | tr '\n' ' ')"; else ok auto_is_silent; fi
same_file auto_equals_cpu "$T/cpu/model_00000004.bin" "$T/auto/model_00000004.bin"
# the default device is auto
gpt-train -o "$T/default" $args "$T/data.tok" >/dev/null 2>&1
same_file default_equals_cpu "$T/cpu/model_00000004.bin" "$T/default/model_00000004.bin"

check_fails cuda_fails_clearly 1 "gpt-train: --device cuda: " gpt-train -o "$T/cuda" $args --device cuda "$T/data.tok"
if [ -e "$T/cuda/model_00000004.bin" ] || [ -e "$T/cuda/log.txt" ]; then
	fail cuda_writes_nothing "files left in $T/cuda"
else
	ok cuda_writes_nothing
fi

finish
