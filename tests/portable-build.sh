#!/bin/sh
# The files with hand-written SIMD compile for a plain x86-64 (`make MARCH=`,
# the portable build): every intrinsic must sit in a function whose target
# attribute names its instruction set, or the portable build breaks while
# the -march=native one (what every other test uses) still compiles.
. "${TOP:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
cd "$TOP" || exit 1
case $(uname -m) in
x86_64) ;;
*) skip portable-build "not an x86-64 machine"; finish ;;
esac
for f in $(grep -l 'immintrin.h' $(git ls-files '*.c' 2>/dev/null || ls */*.c)); do
	if ${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -march=x86-64 -fopenmp -Ilib -Itok -Itrain -Isample -Ieval -Igcm \
		-c "$f" -o "$T/out.o" 2>"$T/err"; then
		ok "portable-$f"
	else
		fail "portable-$f" "$(grep -m1 error "$T/err")"
	fi
done
finish
