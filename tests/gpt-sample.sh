#!/bin/sh
# gpt-sample from the outside, on the random GPT2LMHeadModel in
# tests/hf_ref/tiny (V 320, context 128): greedy tokens equal transformers'
# generate(), and the options do what they say.
. "$TOP/tests/lib.sh"
H=$TOP/tests/hf_ref
M=$H/tiny
TOOL="python3 $H/golden_tool.py"
toks() { $TOOL tokens "$1" | tr '\n' ' '; }

$TOOL stream prompt "$T/prompt.tok"
$TOOL stream gen "$T/gen.tok"
$TOOL stream seq "$T/seq.tok"
want=$(toks "$T/gen.tok")

gpt-sample -t 0 -n 64 --ignore-eot "$M" <"$T/prompt.tok" >"$T/o.tok" 2>"$T/err"
[ "$(toks "$T/o.tok")" = "$want" ] && ok greedy-64-equals-transformers-hf-dir || fail greedy-64-equals-transformers-hf-dir "$(cat "$T/err")"
gpt-convert -q "$M" "$T/m.bin"
gpt-sample -t 0 -n 64 --ignore-eot "$T/m.bin" "$T/prompt.tok" >"$T/o.tok" 2>"$T/err"
[ "$(toks "$T/o.tok")" = "$want" ] && ok greedy-64-equals-transformers-checkpoint || fail greedy-64-equals-transformers-checkpoint "$(cat "$T/err")"
gpt-sample -t 0 -n 64 --ignore-eot -j 1 "$T/m.bin" "$T/prompt.tok" >"$T/o1.tok"
same_file one-thread-same-tokens "$T/o.tok" "$T/o1.tok"
GPTKIT_KERNEL=portable gpt-sample -t 0 -n 64 --ignore-eot "$T/m.bin" "$T/prompt.tok" >"$T/op.tok"
same_file portable-kernels-same-tokens "$T/o.tok" "$T/op.tok"
# bf16 weights run and mostly agree (rounding may flip a late choice)
gpt-convert -q -d bf16 "$M" "$T/m5.bin"
gpt-sample -t 0 -n 64 --ignore-eot --dtype bf16 "$T/m5.bin" "$T/prompt.tok" >"$T/ob.tok" 2>"$T/err"
agree=$(python3 -c "
a='$(toks "$T/ob.tok")'.split(); b='$want'.split()
n=0
for x,y in zip(a,b):
    if x!=y: break
    n+=1
print(len(a), n)")
set -- $agree
[ "$1" = 64 ] && [ "$2" -ge 8 ] && ok "bf16-weights-v5-mmap (first $2 of 64 greedy tokens agree)" || fail bf16-weights-v5-mmap "$agree"
gpt-sample -t 0 -n 64 --ignore-eot --dtype bf16 "$T/m.bin" "$T/prompt.tok" >"$T/ob3.tok"
same_file bf16-from-fp32-checkpoint-same "$T/ob.tok" "$T/ob3.tok"
gpt-sample -t 0 -n 64 --ignore-eot --dtype fp32 "$T/m5.bin" "$T/prompt.tok" >"$T/of5.tok"
check v5-checkpoint-as-fp32 test -s "$T/of5.tok"

# --echo writes the prompt first
gpt-sample -t 0 -n 64 --ignore-eot --echo "$M" "$T/prompt.tok" >"$T/e.tok"
[ "$(toks "$T/e.tok")" = "$(toks "$T/prompt.tok")$want" ] && ok echo || fail echo "$(toks "$T/e.tok")"

# seeds
gpt-sample -s 7 -n 40 -k 50 -p 0.9 --ignore-eot "$M" "$T/prompt.tok" >"$T/s1.tok"
gpt-sample -s 7 -n 40 -k 50 -p 0.9 --ignore-eot "$M" "$T/prompt.tok" >"$T/s2.tok"
gpt-sample -s 8 -n 40 -k 50 -p 0.9 --ignore-eot "$M" "$T/prompt.tok" >"$T/s3.tok"
same_file same-seed-same-output "$T/s1.tok" "$T/s2.tok"
cmp -s "$T/s1.tok" "$T/s3.tok" && fail other-seed-other-output "same" || ok other-seed-other-output
check min-p-and-repetition-penalty gpt-sample -s 1 -n 20 --min-p 0.05 --repetition-penalty 1.3 "$M" "$T/prompt.tok"

# samples separated by end-of-text (319 here, from the stream header)
gpt-sample -s 3 -n 10 --num-samples 3 --ignore-eot "$M" "$T/prompt.tok" >"$T/ns.tok"
r=$($TOOL tokens "$T/ns.tok" | awk '{n++} $1==319 {e++} END {print n, e+0}')
set -- $r
[ "$1" -ge 32 ] && [ "$2" -ge 2 ] && ok num-samples-separated-by-eot || fail num-samples-separated-by-eot "$r"

# --stop: ends before the first stop token of the greedy continuation
stop=$(echo $want | awk '{ for (i = 1; i <= NF; i++) { if (seen[$i]++ == 0 && i > 5) { print $i, i - 1; exit } } }')
set -- $stop
gpt-sample -t 0 -n 64 --ignore-eot --stop "$1" "$M" "$T/prompt.tok" >"$T/st.tok"
[ "$($TOOL tokens "$T/st.tok" | wc -l)" -eq "$2" ] && ok stop-token || fail stop-token "$(toks "$T/st.tok") stop $stop"
check_fails bad-stop-list 2 "stop" gpt-sample --stop 1,x "$M"

# no prompt: empty input and --no-prompt start from the end-of-text token
printf '' | gpt-sample -t 0 -n 8 --eot 319 --ignore-eot "$M" >"$T/np1.tok"
gpt-sample -t 0 -n 8 --no-prompt --eot 319 --ignore-eot "$M" >"$T/np2.tok" </dev/null
python3 -c "
import struct; h=[0]*256; h[0]=20240520; h[1]=1; h[3]=320; h[4]=319
open('$T/empty.tok','wb').write(struct.pack('<256i',*h))"
gpt-sample -t 0 -n 8 --ignore-eot "$M" "$T/empty.tok" >"$T/np3.tok"
same_file empty-input-is-eot-prompt "$T/np1.tok" "$T/np2.tok"
if [ "$(toks "$T/np2.tok")" = "$(toks "$T/np3.tok")" ] && [ "$($TOOL tokens "$T/np1.tok" | wc -l)" -eq 8 ]; then ok empty-stream-is-eot-prompt; else fail empty-stream-is-eot-prompt "differs"; fi
check_fails no-eot-known 1 "no end-of-text token" gpt-sample -n 2 --no-prompt "$M"

# context: too long a prompt is an error unless truncated; past the context the window slides
cat "$T/seq.tok" >"$T/long.tok"
python3 -c "
import struct
b=open('$T/seq.tok','rb').read(); h=list(struct.unpack_from('<256i',b)); n=(len(b)-1024)//2
t=list(struct.unpack_from('<%dH'%n,b,1024)); t=[5,6,7]+t; h[2]=len(t)
open('$T/long.tok','wb').write(struct.pack('<256i',*h)+struct.pack('<%dH'%len(t),*t))"
check_fails prompt-longer-than-context 1 "131 tokens, more than the model's context (128)" gpt-sample -n 2 "$M" "$T/long.tok"
gpt-sample -t 0 -n 5 --ignore-eot --truncate-prompt "$M" "$T/long.tok" >"$T/tr.tok"
gpt-sample -t 0 -n 5 --ignore-eot "$M" "$T/seq.tok" >"$T/tr2.tok"
same_file truncate-prompt-keeps-the-end "$T/tr.tok" "$T/tr2.tok"
gpt-sample -t 0 -n 300 --ignore-eot --stats "$M" "$T/prompt.tok" >"$T/sl.tok" 2>"$T/sl.err"
n=$($TOOL tokens "$T/sl.tok" | wc -l)
if [ "$n" -eq 300 ] && grep -q " [1-9][0-9]* window slides" "$T/sl.err"; then ok window-slides-past-context; else fail window-slides-past-context "$n tokens: $(cat "$T/sl.err")"; fi
# the slide recomputes the second half of the window: the token after the
# first slide equals a fresh greedy run on those 64 tokens
python3 - "$T/prompt.tok" "$T/sl.tok" "$T/half.tok" <<'EOF'
import struct, sys
def rd(p):
    b = open(p, 'rb').read(); n = (len(b) - 1024) // 2
    return list(struct.unpack_from('<256i', b)), list(struct.unpack_from('<%dH' % n, b, 1024))
h, p = rd(sys.argv[1]); _, g = rd(sys.argv[2])
ctx = (p + g)[:128 + 1]          # the window when it fills, and the token that overflowed it
half = ctx[-64:]
h[2] = len(half)
open(sys.argv[3], 'wb').write(struct.pack('<256i', *h) + struct.pack('<%dH' % len(half), *half))
print(g[128 + 1 - len(p)], file=open(sys.argv[3] + '.want', 'w'))
EOF
nxt=$(gpt-sample -t 0 -n 1 --ignore-eot "$M" "$T/half.tok" | $TOOL tokens /dev/stdin)
[ "$nxt" = "$(cat "$T/half.tok.want")" ] && ok slide-recomputes-second-half || fail slide-recomputes-second-half "$nxt vs $(cat "$T/half.tok.want")"

# the output stream header: the prompt's encoding, vocabulary and eot
hdr=$(od -An -t d4 -N 20 "$T/o.tok" | xargs)
[ "$hdr" = "20240520 1 64 320 319" ] && ok output-header || fail output-header "$hdr"

# a prompt in a smaller vocabulary (bytes: 256) than the model's (320): no token outside it
if printf 'ROMEO:' | tok-encode -e bytes >"$T/bytes.tok" 2>/dev/null; then
	gpt-sample -s 1 -n 200 --ignore-eot "$M" "$T/bytes.tok" >"$T/bo.tok" 2>"$T/err"
	mx=$($TOOL tokens "$T/bo.tok" | sort -n | tail -1)
	n=$($TOOL tokens "$T/bo.tok" | wc -l)
	[ "$n" -eq 200 ] && [ "$mx" -lt 256 ] && ok stays-in-prompt-vocabulary || fail stays-in-prompt-vocabulary "$n tokens, max $mx: $(cat "$T/err")"
else
	skip stays-in-prompt-vocabulary "tok-encode not built"
fi

# bad input
python3 -c "
import struct; h=[0]*256; h[0]=20240520; h[1]=1; h[2]=3
open('$T/oov.tok','wb').write(struct.pack('<256i',*h)+struct.pack('<3H',1,2,400))"
check_fails token-outside-model-vocab 1 "token 400 at position 2 is outside the model's vocabulary (320)" gpt-sample -n 1 "$M" "$T/oov.tok"
check_fails not-a-stream 1 "not a token stream" sh -c "echo hello | gpt-sample -n 1 '$M'"
check_fails missing-model 1 "nope.bin" gpt-sample -n 1 "$T/nope.bin" "$T/prompt.tok"
check_fails no-model 2 "no model" gpt-sample
check_fails bad-top-p 2 "top-p" gpt-sample -p 2 "$M"
check_fails bad-dtype 2 "dtype" gpt-sample --dtype fp8 "$M"
finish
