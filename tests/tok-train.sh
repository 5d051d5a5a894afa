#!/bin/sh
# tok-train from the outside: options and errors, atomic output, the naive
# reference (tests/tok_train_ref.py) giving identical merges, determinism
# across threads and block sizes, stdin, and the round trip through
# tok-encode -t / tok-decode -t with the compression on held-out text.
. "$(dirname "$0")/lib.sh"
SH=$TOP/data/tinyshakespeare.txt

# ---- options and errors ----
check "tok-train --help" sh -c 'tok-train --help | grep -q "usage: tok-train"'
check "tok-train --version" sh -c 'tok-train --version | grep -q "(gptkit)"'
check_fails "tok-train without -v" 2 "vocabulary size" tok-train -o "$T/x.tok" "$SH"
check_fails "tok-train without -o" 2 "output" tok-train -v 300 "$SH"
check_fails "tok-train -v below 256" 2 "below 256" tok-train -v 255 -o "$T/x.tok" "$SH"
check_fails "tok-train -v below 256 + specials" 2 "2 special" \
	tok-train -v 257 -s '<|a|>' -s '<|b|>' -o "$T/x.tok" "$SH"
check_fails "tok-train special given twice" 2 "twice" \
	tok-train -v 300 -s '<|a|>' -s '<|a|>' -o "$T/x.tok" "$SH"
check_fails "tok-train special colliding with a byte" 2 "collides" \
	tok-train -v 300 -s 'a' -o "$T/x.tok" "$SH"
check_fails "tok-train unknown pattern" 2 "not one of" tok-train -v 300 -p bpe -o "$T/x.tok" "$SH"
check_fails "tok-train -f hf to stdout" 2 "named output" tok-train -v 300 -f hf -o - "$SH"
: >"$T/empty.txt"
check_fails "tok-train empty corpus" 1 "empty.txt: the corpus is empty" \
	tok-train -v 300 -o "$T/x.tok" "$T/empty.txt"
check_fails "tok-train empty stdin" 1 "<stdin>: the corpus is empty" \
	sh -c "tok-train -v 300 -o '$T/x.tok' </dev/null"
check_fails "tok-train missing input" 1 "nosuch.txt" tok-train -v 300 -o "$T/x.tok" "$T/nosuch.txt"
: >"$T/afile"
check_fails "tok-train unwritable output" 1 "afile/x.tok" tok-train -v 300 -o "$T/afile/x.tok" "$SH"
printf '<|x|><|x|><|x|><|x|><|x|><|x|>' >"$T/sp.txt"
check_fails "tok-train special colliding with a learned token" 1 "collides with learned token" \
	tok-train -v 300 -m 1 -p none -s '<|x|>' -o "$T/x.tok" "$T/sp.txt"

# ---- atomic output: a failed run leaves the old file and no temporary ----
echo "old" >"$T/keep.tok"
tok-train -q -v 300 -o "$T/keep.tok" "$T/empty.txt" 2>/dev/null
if [ "$(cat "$T/keep.tok")" = old ] && [ "$(ls "$T" | grep -c 'keep.tok.')" = 0 ]; then
	ok "tok-train failure keeps the old output"
else
	fail "tok-train failure keeps the old output" "$(ls "$T")"
fi

# ---- the naive reference: identical merges ----
head -c 60000 "$SH" >"$T/s60k.txt"
python3 - "$T/mix.txt" <<'EOF'
import random, sys
random.seed(5)
words = ["aaaa", "aaa", "abab", "the", " the", "The", "don't", "IT'S", "naïve", "café", "e\u0301",
         "日本語", "中文", "😀😀", "  ", "\t", "\r\n", "\n\n", "1234567", "//", "==", "->",
         "x" * 20, " " * 9, "\xa0", "Ωμέγα", "привет", "\u3000"]
parts = []
for _ in range(6000):
    parts += [random.choice(words), random.choice([" ", "", "\n", " ", "  "])]
b = bytearray("".join(parts).encode())
for _ in range(30):
    b[random.randrange(len(b)):0] = bytes([random.choice([0x80, 0xff, 0xc3, 0xe4, 0xed])])
open(sys.argv[1], "wb").write(bytes(b))
EOF
if venv regex; then
	for args in "gpt2 2 600 s60k" "gpt2 1 500 mix" "cl100k 1 500 mix" "o200k 2 500 mix" \
		"none 1 450 mix" "cl100k 2 600 s60k" "none 2 400 s60k"; do
		set -- $args
		tok-train -q -p "$1" -m "$2" -v "$3" -o "$T/r.tok" --dump-merges "$T/c.m" "$T/$4.txt"
		"$PY" "$TOP/tests/tok_train_ref.py" -p "$1" -m "$2" -v "$3" "$T/$4.txt" >"$T/r.m"
		if cmp -s "$T/c.m" "$T/r.m" && [ -s "$T/c.m" ]; then
			ok "tok-train merges = naive reference ($1, -m $2, -v $3, $4: $(wc -l <"$T/c.m") merges)"
		else
			fail "tok-train merges = naive reference ($1, -m $2, -v $3, $4)" \
				"$(diff "$T/c.m" "$T/r.m" | head -3 | tr '\n' ' ')"
		fi
	done
else
	skip "tok-train merges = naive reference" "no python venv with regex (offline?)"
fi

# ---- determinism: threads, block sizes, stdin ----
tok-train -q -v 1500 -j 1 -n a -o "$T/a.tok" "$SH"
tok-train -q -v 1500 -j 2 --block-bytes 4096 -n a -o "$T/b.tok" "$SH"
same_file "tok-train -j 1 = -j 2 with small blocks" "$T/a.tok" "$T/b.tok"
tok-train -q -v 1500 -o "$T/c.tok" -n a <"$SH"
same_file "tok-train stdin = file" "$T/a.tok" "$T/c.tok"
tok-train -q -v 1500 -j 2 -n a -o "$T/a.tok" "$SH"
same_file "tok-train runs are deterministic" "$T/a.tok" "$T/b.tok"

# ---- streaming: memory follows the distinct pieces, not the input ----
if [ -x /usr/bin/time ]; then
	/usr/bin/time -f %M -o "$T/m1" tok-train -q -j 1 -v 1000 -n m -o "$T/m1.tok" "$SH"
	i=0; while [ $i -lt 16 ]; do cat "$SH"; i=$((i + 1)); done |
		/usr/bin/time -f %M -o "$T/m16" tok-train -q -j 1 -v 1000 -n m -o "$T/m16.tok"
	m1=$(tail -1 "$T/m1"); m16=$(tail -1 "$T/m16")
	echo "# peak memory: 1x Tiny Shakespeare ${m1} KB, 16x (17.8 MB through a pipe) ${m16} KB"
	if [ "$m16" -lt $((m1 * 3 / 2)) ] && [ "$m16" -lt $((m1 + 20000)) ]; then
		ok "tok-train memory does not grow with the input (${m1} KB -> ${m16} KB for 16x)"
	else
		fail "tok-train memory does not grow with the input" "${m1} KB -> ${m16} KB"
	fi
	# the same pieces, each counted 16 times: the same merges
	cmp -s "$T/m1.tok" "$T/m16.tok" && ok "tok-train 16x the text learns the same vocabulary" ||
		fail "tok-train 16x the text learns the same vocabulary" "outputs differ"
else
	skip "tok-train memory does not grow with the input" "no /usr/bin/time"
fi

# ---- progress ----
tok-train --progress -v 400 -o "$T/p.tok" "$T/s60k.txt" 2>"$T/prog"
if tr '\r' '\n' <"$T/prog" | grep -q "merges [0-9]*/144 .*ETA.*' + '" &&
	grep -q "tokens (144 merges)" "$T/prog"; then
	ok "tok-train --progress shows merges, ETA and the pair"
else
	fail "tok-train --progress shows merges, ETA and the pair" "$(tr '\r' '\n' <"$T/prog" | tail -2)"
fi
tok-train -q --progress -v 400 -o "$T/p.tok" "$T/s60k.txt" 2>"$T/prog"
check "tok-train -q after --progress stays quiet" test ! -s "$T/prog"

# ---- round trip and compression on held-out text ----
head -c 1000000 "$SH" >"$T/train.txt"
tail -c +1000001 "$SH" >"$T/held.txt"
tok-train -q -v 2048 -s '<|endoftext|>' -o "$T/sh.tok" "$T/train.txt"
tok-encode -t "$T/sh.tok" "$T/held.txt" -o "$T/held.bin"
tok-decode -t "$T/sh.tok" "$T/held.bin" >"$T/held.out"
same_file "tok-train vocabulary round-trips held-out text" "$T/held.txt" "$T/held.out"
head -c 3000 /dev/urandom >"$T/rand.bin"
tok-encode -t "$T/sh.tok" "$T/rand.bin" | tok-decode -t "$T/sh.tok" >"$T/rand.out"
same_file "tok-train vocabulary round-trips random bytes" "$T/rand.bin" "$T/rand.out"
nb=$(wc -c <"$T/held.txt")
nt=$(tok-encode -t "$T/sh.tok" -c "$T/held.txt" | awk 'END { print $1 }')
nt2=$(tok-encode -e gpt2 -c "$T/held.txt" | awk 'END { print $1 }')
echo "# compression on held-out Tiny Shakespeare ($nb bytes): 2048-token vocabulary $nt tokens" \
	"($(echo "$nb $nt" | awk '{ printf "%.2f", $1 / $2 }') bytes/token); gpt2 $nt2 tokens" \
	"($(echo "$nb $nt2" | awk '{ printf "%.2f", $1 / $2 }') bytes/token)"
if [ "${nt:-0}" -gt 0 ] && [ "$nt" -lt $((nb * 10 / 25)) ]; then
	ok "tok-train 2048 vocabulary: held-out text in fewer than bytes/2.5 tokens ($nt)"
else
	fail "tok-train compression" "$nt tokens for $nb bytes"
fi
printf 'a<|endoftext|>b' | tok-encode -t "$T/sh.tok" --allow-special --format text | tr ' ' '\n' >"$T/sp.ids"
check "tok-train special token gets the id after the merges" grep -qx 2047 "$T/sp.ids"
finish
