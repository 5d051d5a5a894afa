#!/bin/sh
# tok-encode from the outside: options, counts, documents, special tokens,
# threads, atomic output, tokenizer files, errors, start-up time.
. "$TOP/tests/lib.sh"
S=$TOP/data/tinyshakespeare.txt
ML=$TOP/tests/golden/tok/multilingual.txt

check help tok-encode --help
check version tok-encode --version
check_fails bad-option 2 "unknown option" tok-encode --bogus
check_fails missing-value 2 "needs a value" tok-encode -e
check_fails e-and-t 2 "exclude" tok-encode -e gpt2 -t x
check_fails unknown-encoding 1 "unknown encoding 'nope'" tok-encode -e nope
check_fails missing-file 1 "nofile: No such file" tok-encode "$T/nofile"

# the README's test vectors
[ "$(printf 'hello world' | tok-encode --format text)" = "31373 995" ] && ok vector-hello || fail vector-hello "ids"
[ "$(printf 'hello <|endoftext|>' | tok-encode --format text --allow-special)" = "31373 220 50256" ] &&
	ok vector-special || fail vector-special "ids"
[ "$(printf 'hello <|endoftext|>' | tok-encode --format text)" = "31373 1279 91 437 1659 5239 91 29" ] &&
	ok vector-special-as-text || fail vector-special-as-text "ids"
[ "$(printf '00000000' | tok-encode --format text)" = "8269" ] && ok vector-zeros || fail vector-zeros "ids"
[ "$(printf 'ab' | tok-encode -e bytes --format text)" = "97 98" ] && ok bytes-encoding || fail bytes-encoding "ids"

# special tokens: by name, all, or an error
x=$(printf '<|fim_prefix|><|endoftext|>' | tok-encode -e cl100k_base --format text --allow-special='<|endoftext|>')
[ "${x##* }" = 100257 ] && ! echo "$x" | grep -q 100258 && ok allow-special-by-name || fail allow-special-by-name "$x"
check_fails allow-special-unknown 2 "no special token" tok-encode --allow-special='<|nope|>'
printf 'ok <|endoftext|>' >"$T/sp.txt"
check_fails disallow-special 1 "offset 3: special token <|endoftext|>" tok-encode --disallow-special -o "$T/sp.tok" "$T/sp.txt"
[ ! -e "$T/sp.tok" ] && ok disallow-special-no-output || fail disallow-special-no-output "output file left behind"
check disallow-special-allowed tok-encode --disallow-special --allow-special -o "$T/sp.tok" "$T/sp.txt"

# binary output: header fields, ntok filled in on a regular file
tok-encode -e o200k_base -o "$T/s.tok" "$S"
hdr=$(od -A n -t d4 -N 20 "$T/s.tok" | tr -s ' \n' '  ' | sed 's/^ //; s/ $//')
name=$(dd if="$T/s.tok" bs=1 skip=20 count=10 2>/dev/null | tr -d '\0')
n=$(tok-encode -e o200k_base --format text "$S" | wc -w)
[ "$hdr" = "20240801 7 $n 200019 199999" ] && [ "$name" = o200k_base ] && ok header "$hdr" ||
	fail header "$hdr $name (want $n tokens)"
[ "$(wc -c <"$T/s.tok")" -eq $((1024 + 4 * n)) ] && ok body-size || fail body-size "size"
tok-encode -o "$T/g.tok" "$S"
[ "$(od -A n -t d4 -N 8 "$T/g.tok" | tr -s ' ')" = " 20240520 1" ] && ok header-16bit || fail header-16bit "magic"

# counts, like wc
tok-encode -c "$S" "$ML" >"$T/c"
a=$(tok-encode --format text "$S" | wc -w) b=$(tok-encode --format text "$ML" | wc -w)
[ "$(awk '{print $1}' "$T/c" | tr '\n' ' ')" = "$a $b $((a + b)) " ] && grep -q 'total$' "$T/c" &&
	ok count || fail count "$(cat "$T/c" | tr '\n' ' ')"

# documents: end-of-text after each file, or each line
printf 'a\n' >"$T/a"; printf 'b' >"$T/b"
[ "$(tok-encode --eot --format text "$T/a" "$T/b" | tr '\n' ' ')" = "64 198 50256 65 50256 " ] && ok eot ||
	fail eot "$(tok-encode --eot --format text "$T/a" "$T/b")"
[ "$(printf 'x\ny\n\nz' | tok-encode --eot-lines --format text)" = "87 50256 88 50256 50256 89 50256" ] &&
	ok eot-lines || fail eot-lines "$(printf 'x\ny\n\nz' | tok-encode --eot-lines --format text)"
check_fails eot-without-eot 1 "no end-of-text" tok-encode -e bytes --eot "$T/a"

# threads: the same stream as one thread, on a large input
for i in 1 2 3 4 5 6; do cat "$S"; done >"$T/big.txt"
for e in gpt2 cl100k_base o200k_base; do
	tok-encode -e $e -o "$T/1.tok" "$T/big.txt" && tok-encode -e $e -j 2 -o "$T/2.tok" "$T/big.txt" &&
		tok-encode -e $e -j 3 <"$T/big.txt" >"$T/3.tok"
	if cmp -s "$T/1.tok" "$T/2.tok" && cmp -s "$T/1.tok" "$T/3.tok"; then ok "threads-$e"; else fail "threads-$e" "-j output differs"; fi
done
# threads with special tokens in the text
sed 's/^\(.*\)thee\(.*\)$/\1<|endoftext|>\2/' "$T/big.txt" >"$T/bigsp.txt"
tok-encode -e o200k_base --allow-special -o "$T/1.tok" "$T/bigsp.txt" &&
	tok-encode -e o200k_base --allow-special -j 2 -o "$T/2.tok" "$T/bigsp.txt"
if cmp -s "$T/1.tok" "$T/2.tok" && [ "$(tok-encode -e o200k_base --allow-special --format text "$T/bigsp.txt" | tr ' ' '\n' | grep -c '^199999$')" -gt 1000 ]; then
	ok threads-special
else
	fail threads-special "-j output differs, or no special tokens"
fi
# stdin read in blocks gives what one read of the file gives
cat "$T/big.txt" "$T/big.txt" | tok-encode -e o200k_base --format text | md5sum >"$T/m1"
cat "$T/big.txt" "$T/big.txt" >"$T/big2.txt"
tok-encode -e o200k_base --format text "$T/big2.txt" | md5sum >"$T/m2"
same_file stdin-blocks "$T/m1" "$T/m2"

# tokenizer files: .tiktoken with --pattern/--special, GPT-2 json, tok-file(5)
tok-encode -e cl100k_base --format text "$ML" >"$T/want"
tok-encode -t "$TOP/tok/encodings/cl100k_base.tiktoken" --format text "$ML" >"$T/got"
same_file tiktoken-file "$T/want" "$T/got"
tok-encode -t "$TOP/tok/encodings/cl100k_base.tiktoken" --pattern cl100k --special '<|endoftext|>=100257' \
	--format text "$ML" >"$T/got"
same_file tiktoken-file-pattern "$T/want" "$T/got"
[ "$(printf 'a<|x|>' | tok-encode -t "$TOP/tok/encodings/gpt2.tiktoken" --special '<|x|>=60000' --allow-special --format text)" = "64 60000" ] &&
	ok tiktoken-file-special || fail tiktoken-file-special "ids"
tok-encode --format text "$ML" >"$T/want"
tok-encode -t "$TOP/tok/gpt2/encoder.json" --format text "$ML" >"$T/got"
same_file gpt2-json "$T/want" "$T/got"
python3 - "$T/tiny.tok" <<'PY'
import base64, sys
toks = [bytes([i]) for i in range(256)] + [b"he", b"hel", b"hell", b"hello"]
with open(sys.argv[1], "w") as f:
    f.write("gptkit-tokenizer 1\nname tiny\npattern gpt2\ntokens %d\n" % len(toks))
    for i, t in enumerate(toks):
        f.write("%s %d\n" % (base64.b64encode(t).decode(), i))
    f.write("specials 1\n260 <|endoftext|>\nend\n")
PY
[ "$(printf 'hello<|endoftext|>' | tok-encode -t "$T/tiny.tok" --allow-special --format text)" = "259 260" ] &&
	ok tok-file || fail tok-file "ids"
printf 'gptkit-tokenizer 1\nname tiny\npattern perl\n' >"$T/bad.tok"
check_fails tok-file-bad 1 "bad.tok: line 3: unknown pattern" tok-encode -t "$T/bad.tok"
printf 'aGk= x\n' >"$T/bad.tiktoken"
check_fails tiktoken-bad 1 "bad.tiktoken: line 1: bad rank" tok-encode -t "$T/bad.tiktoken"

# start-up: `echo hi | tok-encode` (best of 15 runs, to see past a busy machine)
if [ "${SAN:-0}" = 1 ]; then skip startup "sanitizer build"; finish; fi
best=999999
for i in $(seq 15); do
	t0=$(date +%s%N); echo hi | tok-encode -e o200k_base >/dev/null; t1=$(date +%s%N)
	[ $(((t1 - t0) / 1000)) -lt $best ] && best=$(((t1 - t0) / 1000))
done
[ $best -lt 10000 ] && ok "startup (${best} us)" || fail startup "${best} us, wanted < 10 ms"
finish
