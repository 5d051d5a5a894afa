#!/bin/sh
# The pre-tokenizers' Unicode tables agree with tiktoken's regex engine on
# every code point (tests/tok_unicode.py).
. "$TOP/tests/lib.sh"
if ! venv tiktoken; then skip tiktoken-unicode "cannot install tiktoken into .venv"; finish; fi
"$PY" "$TOP/tests/tok_unicode.py" || failures=$((failures + 1))
finish
