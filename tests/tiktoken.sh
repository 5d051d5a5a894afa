#!/bin/sh
# tok-encode gives the same ids as tiktoken (tests/tok_tiktoken.py) for all
# four encodings, and the Unicode tables agree with tiktoken's regex engine.
. "$TOP/tests/lib.sh"
if ! venv tiktoken; then skip tiktoken "cannot install tiktoken into .venv"; finish; fi
# 100,000 generated strings; a sanitizer build (several times slower) checks 20,000
n=100000; [ "${SAN:-0}" = 1 ] && n=20000
"$PY" "$TOP/tests/tok_tiktoken.py" "$BIN" "$TOP/${BUILD:-build/rel}" "$T/tiktoken" "${TOK_GENERATED:-$n}" || failures=$((failures + 1))
finish
