#!/bin/sh
# Conventions every program keeps (DESIGN.md): --help on stdout with exit 0,
# --version, a bad option is a one-line reason + hint on stderr with exit 2,
# a man page that lints clean and names every long option of --help.
. "$TOP/tests/lib.sh"
progs=$(cd "$TOP" && sed -n 's/^PROGRAMS *+= *//p' */build.mk | tr ' ' '\n' | grep . | sort -u)
[ -n "$progs" ] || fail programs "no PROGRAMS in */build.mk"
for p in $progs; do
	if [ ! -x "$BIN/$p" ]; then fail "$p-built" "$BIN/$p missing"; continue; fi
	"$BIN/$p" --help >"$T/help" 2>"$T/err" </dev/null
	rc=$?
	if [ $rc -eq 0 ] && [ -s "$T/help" ] && [ ! -s "$T/err" ]; then ok "$p-help"; else fail "$p-help" "exit $rc"; fi
	v=$("$BIN/$p" --version </dev/null 2>&1)
	case $v in "$p (gptkit) "*) ok "$p-version" ;; *) fail "$p-version" "got '$v'" ;; esac
	check_fails "$p-bad-option" 2 "Try '$p --help'" "$BIN/$p" --no-such-option
	man=$TOP/man/$p.1
	if [ ! -f "$man" ]; then fail "$p-man" "man/$p.1 missing"; continue; fi
	if command -v mandoc >/dev/null; then
		lint=$(mandoc -Tlint -Wwarning "$man" 2>&1)
		if [ -z "$lint" ]; then ok "$p-man-lint"; else fail "$p-man-lint" "$(echo "$lint" | head -3 | tr '\n' ' ')"; fi
	fi
	# every long option in --help is documented in the man page
	# (man(7) writes \-\-name, mdoc(7) Fl -name or Fl x , -name)
	sed 's/\\-/-/g' "$man" >"$T/man.txt"
	missing=
	for o in $(grep -o -- '--[a-z][a-z0-9-]*' "$T/help" | sort -u); do
		grep -q -E -- "(--|Fl -|, -)${o#--}([^a-z0-9-]|\$)" "$T/man.txt" || missing="$missing $o"
	done
	if [ -z "$missing" ]; then ok "$p-man-options"; else fail "$p-man-options" "not in man/$p.1:$missing"; fi
done
for m in "$TOP"/man/*.5; do
	[ -f "$m" ] || continue
	lint=$(mandoc -Tlint -Wwarning "$m" 2>&1)
	if [ -z "$lint" ]; then ok "$(basename "$m")-lint"; else fail "$(basename "$m")-lint" "$(echo "$lint" | head -3 | tr '\n' ' ')"; fi
done
finish
