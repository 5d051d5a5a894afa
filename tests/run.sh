#!/bin/sh
# The test runner: runs every unit test ($BUILD/tests/test_*) and every
# program test (tests/*.sh), counts their `ok` / `not ok` / `skip` lines,
# and ends with `N passed, N failed[, N skipped]`.  Exit 1 on any failure.
#   sh tests/run.sh [PATTERN]   runs only the tests whose name contains PATTERN
# A test file reports each case on stdout as:
#   ok NAME | not ok NAME: why | skip NAME: why
# A file that exits non-zero counts as one more failure.
cd "$(dirname "$0")/.." || exit 1
BIN=${BIN:-bin}
BUILD=${BUILD:-build/rel}
export BIN BUILD
mkdir -p "$BIN"; BIN=$(cd "$BIN" && pwd) || exit 1
export BIN
TOP=$(pwd)
export TOP
pattern=${1:-}
passed=0 failed=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in $BUILD/tests/test_* tests/*.sh; do
	[ -f "$t" ] || continue
	case $t in *.d|*.o) continue ;; esac
	name=$(basename "$t")
	case $name in run.sh|lib.sh) continue ;; esac
	[ -n "$pattern" ] && case $name in *"$pattern"*) ;; *) continue ;; esac
	start=$(date +%s)
	case $t in
	*.sh) timeout 1200 sh "$t" >"$log" 2>&1 ;;
	*) timeout 1200 "$t" >"$log" 2>&1 ;;
	esac
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	s=$(grep -c '^skip ' "$log")
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok $name: exited with status $rc" >>"$log"
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	secs=$(( $(date +%s) - start ))
	if [ "$f" -gt 0 ]; then
		echo "FAIL $name ($p passed, $f failed, ${secs}s)"
		grep -v '^ok \|^skip ' "$log" | tail -40 | sed 's/^/    /'
	else
		echo "PASS $name ($p passed${s:+, $s skipped}, ${secs}s)"
		grep '^skip ' "$log" | sed 's/^/    /'
	fi
done
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
