#!/bin/sh
# tok-encode gives the same ids as tiktoken (tests/tok_tiktoken.py) for all
# four encodings, and the Unicode tables agree with tiktoken's regex engine.
. "$TOP/tests/lib.sh"
if ! venv tiktoken; then skip tiktoken "cannot install tiktoken into .venv"; finish; fi
"$PY" "$TOP/tests/tok_tiktoken.py" "$BIN" "$TOP/${BUILD:-build/rel}" "$T/tiktoken" "${TOK_GENERATED:-100000}" || failures=$((failures + 1))
finish
