# Shared helpers for program tests; source it: . "$TOP/tests/lib.sh"
# Each check prints `ok NAME` or `not ok NAME: why` (see tests/run.sh).
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${BIN:-$TOP/bin}
PATH="$BIN:$PATH"
T=$(mktemp -d "${TMPDIR:-/tmp}/gptkit-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
failures=0

ok() { echo "ok $1"; }
fail() { echo "not ok $1: $2"; failures=$((failures + 1)); }
skip() { echo "skip $1: $2"; }

# check NAME CMD...: passes when CMD exits 0
check() {
	name=$1; shift
	if "$@" >"$T/.out" 2>&1; then ok "$name"; else fail "$name" "$(tail -3 "$T/.out" | tr '\n' ' ')"; fi
}
# check_fails NAME CODE PATTERN CMD...: CMD must exit with CODE and print PATTERN on stderr
check_fails() {
	name=$1 code=$2 pat=$3; shift 3
	"$@" >"$T/.out" 2>"$T/.err"
	rc=$?
	if [ $rc -ne "$code" ]; then fail "$name" "exit $rc, wanted $code: $(head -2 "$T/.err" | tr '\n' ' ')"
	elif ! grep -q -- "$pat" "$T/.err"; then fail "$name" "stderr lacks '$pat': $(head -2 "$T/.err" | tr '\n' ' ')"
	elif [ "$(wc -l <"$T/.err")" -gt 2 ]; then fail "$name" "more than a one-line error: $(head -3 "$T/.err" | tr '\n' ' ')"
	else ok "$name"; fi
}
# same_file NAME A B
same_file() {
	if cmp -s "$2" "$3"; then ok "$1"; else fail "$1" "$2 and $3 differ"; fi
}
# A python virtualenv with the given PyPI packages (gitignored, made once).
venv() {
	VENV=$TOP/.venv
	if [ ! -x "$VENV/bin/python" ]; then
		python3 -m venv "$VENV" >/dev/null 2>&1 || return 1
	fi
	for p in "$@"; do
		"$VENV/bin/python" -c "import ${p%%[=<>]*}" 2>/dev/null ||
			"$VENV/bin/pip" install -q "$p" >/dev/null 2>&1 || return 1
	done
	PY=$VENV/bin/python
}
finish() { exit $((failures > 0)); }
