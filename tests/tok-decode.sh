#!/bin/sh
# tok-decode from the outside: round trips, the encoding from the header,
# concatenated streams, text ids, bad input, and live (streaming) output.
. "$TOP/tests/lib.sh"
S=$TOP/data/tinyshakespeare.txt
ML=$TOP/tests/golden/tok/multilingual.txt

check help tok-decode --help
check version tok-decode --version
check_fails bad-option 2 "unknown option" tok-decode --bogus

head -c 200000 /dev/urandom >"$T/rand.bin"
for e in gpt2 p50k_base cl100k_base o200k_base bytes; do
	bad=
	for f in "$S" "$ML" "$T/rand.bin"; do
		tok-encode -e $e "$f" | tok-decode >"$T/out" && cmp -s "$f" "$T/out" || bad="$bad $(basename "$f")"
	done
	[ -z "$bad" ] && ok "roundtrip-$e" || fail "roundtrip-$e" "differs on$bad"
done
tok-encode -e cl100k_base "$ML" >"$T/ml.tok"
tok-decode -e cl100k_base "$T/ml.tok" >"$T/out" && same_file named-encoding "$ML" "$T/out"
tok-decode -t "$TOP/tok/encodings/cl100k_base.tiktoken" "$T/ml.tok" >"$T/out" && same_file tokenizer-file "$ML" "$T/out"
check_fails vocabulary-mismatch 1 "not o200k_base's" tok-decode -e o200k_base "$T/ml.tok"

# streams concatenated with cat, and several files
tok-encode -e cl100k_base "$S" >"$T/s.tok"
cat "$T/s.tok" "$T/ml.tok" | tok-decode >"$T/out"
cat "$S" "$ML" >"$T/want"
same_file concatenated "$T/want" "$T/out"
tok-decode "$T/s.tok" "$T/ml.tok" >"$T/out"
same_file two-files "$T/want" "$T/out"
tok-encode -e cl100k_base <"$S" | cat - "$T/ml.tok" | tok-decode >"$T/out"
same_file concatenated-unknown-length "$T/want" "$T/out"

# files of 1 MB or more are mapped rather than read: whole, concatenated
# (known and unknown lengths), from stdin at an offset, a bad token far in
for i in 1 2; do cat "$S"; done >"$T/s2.txt"
tok-encode -e o200k_base -o "$T/big.tok" "$T/s2.txt"
tok-encode -e o200k_base <"$T/s2.txt" | cat >"$T/bigu.tok"
tok-decode "$T/big.tok" >"$T/out" && same_file mapped "$T/s2.txt" "$T/out"
cat "$T/bigu.tok" "$T/big.tok" >"$T/big2.tok"
cat "$T/s2.txt" "$T/s2.txt" >"$T/want"
tok-decode "$T/big2.tok" >"$T/out" && same_file mapped-concatenated-unknown-length "$T/want" "$T/out"
{ printf 'xyz'; cat "$T/big.tok"; } >"$T/skip.tok"
{ dd bs=3 count=1 of=/dev/null 2>/dev/null; tok-decode; } <"$T/skip.tok" >"$T/out" &&
	same_file mapped-stdin-at-offset "$T/s2.txt" "$T/out"
sz=$(wc -c <"$T/big.tok")
for f in big bigu; do
	cp "$T/$f.tok" "$T/bad.tok"
	# token 250000 (0x0003d090) at byte offset sz - 8
	printf '\220\320\003\000' | dd of="$T/bad.tok" bs=1 seek=$((sz - 8)) conv=notrunc 2>/dev/null
	check_fails "mapped-out-of-vocab-$f" 1 "token 250000 at offset $((sz - 8)) is outside" tok-decode "$T/bad.tok"
done
# a mapped file that shrinks while being read (rewritten by another
# program): one line naming it and the offset, status 1, not a SIGBUS
cp "$T/big.tok" "$T/shrink.tok"
mkfifo "$T/shrink.fifo"
tok-decode "$T/shrink.tok" >"$T/shrink.fifo" 2>"$T/err" &
pid=$!
exec 3<"$T/shrink.fifo" # tok-decode writes until the pipe is full, then waits
sleep 0.5
truncate -s 2048 "$T/shrink.tok"
cat <&3 >/dev/null
exec 3<&-
wait $pid
rc=$?
if [ $rc = 1 ] && grep -q "^tok-decode: $T/shrink.tok: offset [0-9]*: file shrank while mapped\$" "$T/err" &&
	[ "$(wc -l <"$T/err")" = 1 ]; then ok mapped-file-shrinks
else fail mapped-file-shrinks "status $rc, stderr: $(cat "$T/err")"; fi
check_fails gap-token 1 "token 100261 names no token in cl100k_base" \
	sh -c 'echo "1 100261" | tok-decode -e cl100k_base --format text'

# text ids
tok-encode -e o200k_base --format text "$ML" | tok-decode -e o200k_base --format text >"$T/out"
same_file text-format "$ML" "$T/out"
check_fails text-out-of-vocab 1 "token 50257 at offset 4 is outside the gpt2 vocabulary (50257)" \
	sh -c 'echo "1 2 50257" | tok-decode --format text'
check_fails text-garbage 1 "offset 2: expected a decimal token id" sh -c 'echo "1 x" | tok-decode --format text'

# bad streams: one line naming the offset
printf 'hello' | tok-encode >"$T/h.tok"
head -c 1025 "$T/h.tok" >"$T/trunc.tok"
check_fails truncated 1 "truncated token" tok-decode "$T/trunc.tok"
head -c 1000 "$T/h.tok" >"$T/trunc2.tok"
check_fails truncated-header 1 "truncated token stream header" tok-decode "$T/trunc2.tok"
check_fails bad-magic 1 "not a token stream" tok-decode "$S"
check_fails empty 1 "empty input" sh -c 'tok-decode </dev/null'
check_fails missing-file 1 "nofile" tok-decode "$T/nofile"
# a gpt2 stream (of unknown length) whose third token is 60000 (0xea60)
printf 'hello' | tok-encode | head -c 1024 >"$T/hdr"
{ cat "$T/hdr"; printf '\001\000\002\000\140\352'; } >"$T/oov.tok"
check_fails out-of-vocab 1 "token 60000 at offset 1028 is outside the gpt2 vocabulary" tok-decode "$T/oov.tok"
# an llm.c shard (magic 20240520, version 1, 2 tokens, nothing else): GPT-2
{ printf '\210\330\064\001\001\000\000\000\002\000\000\000'; head -c 1012 /dev/zero; printf '\215\172\343\003'; } >"$T/llmc.tok"
[ "$(tok-decode "$T/llmc.tok")" = "hello world" ] && ok llmc-shard || fail llmc-shard "$(tok-decode "$T/llmc.tok" 2>&1)"
# a stream of an encoding that is not built in
cp "$TOP/tok/encodings/cl100k_base.tiktoken" "$T/custom.tiktoken"
tok-encode -t "$T/custom.tiktoken" --pattern o200k "$ML" >"$T/custom.tok"
check_fails not-builtin 1 "encoding 'custom' is not built in; name its tokenizer file with -t" tok-decode "$T/custom.tok"
tok-decode -t "$T/custom.tiktoken" "$T/custom.tok" >"$T/out"
same_file not-builtin-with-t "$ML" "$T/out"

# live: text appears as tokens arrive; a split UTF-8 character waits
# ("ab", then 3 bytes of an emoji | its last byte, "c")
mkfifo "$T/fifo"
{ cat "$T/hdr"; printf '\215\001\221\270'; sleep 2; printf '\336\000\102\000'; } >"$T/fifo" &
tok-decode <"$T/fifo" >"$T/live" &
pid=$!
sleep 1
a=$(cat "$T/live")
wait $pid
b=$(cat "$T/live")
[ "$a" = "ab" ] && [ "$b" = "$(printf 'ab\360\237\230\200c')" ] && ok live-binary || fail live-binary "saw '$a' then '$b'"
{ echo "397 47249"; sleep 2; echo "222 66"; } | tok-decode --format text >"$T/live" &
pid=$!
sleep 1
a=$(cat "$T/live")
wait $pid
[ "$a" = "ab" ] && [ "$(cat "$T/live")" = "$(printf 'ab\360\237\230\200c')" ] && ok live-text || fail live-text "saw '$a'"
finish
