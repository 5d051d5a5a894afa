#!/bin/sh
# A short run of every libFuzzer target (the long runs are `make fuzz`
# then `sh fuzz/run.sh 600`), so a parser crash on simple mutations fails CI.
. "$TOP/tests/lib.sh"
if ! command -v clang >/dev/null; then skip fuzz "clang not installed"; finish; fi
if ! make -s -C "$TOP" FUZZ=1 CUDA=0 fuzz-build >"$T/build.log" 2>&1; then
	fail fuzz-build "$(tail -5 "$T/build.log" | tr '\n' ' ')"
	finish
fi
ok fuzz-build
sh "$TOP/fuzz/run.sh" "${FUZZ_SECONDS:-5}"
