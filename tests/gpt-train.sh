#!/bin/sh
# gpt-train from the outside: options, determinism, resume after SIGKILL and
# after SIGTERM, gradient accumulation, keep/log/eval/sample, llm.c shards,
# bf16 checkpoints, and a one-line error for every kind of bad input with
# the output directory left as it was.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

# mkstream OUT NVOCAB [MAGIC] [--tokens "1 2 3"]: a token stream with python's
# struct (no tokenizer needed): NVOCAB=0 writes an llm.c shard header.
mkstream() {
	python3 - "$@" <<'PY'
import struct, sys
out, nv = sys.argv[1], int(sys.argv[2])
magic = int(sys.argv[3]) if len(sys.argv) > 3 else 20240520
toks = [int(x) for x in sys.argv[4].split()] if len(sys.argv) > 4 else \
       list(open(sys.argv[5] if len(sys.argv) > 5 else "/dev/null", "rb").read())
if len(sys.argv) == 3:
    toks = list(open("text.txt", "rb").read())
hdr = [0] * 256
hdr[0], hdr[1], hdr[2] = magic, 1 if magic == 20240520 else 7, len(toks)
if nv:
    hdr[3], hdr[4] = nv, -1
    name = b"bytes" if nv == 256 else b""
    hdr[5:13] = struct.unpack("<8i", name.ljust(32, b"\0"))
fmt = "<%dH" % len(toks) if magic == 20240520 else "<%dI" % len(toks)
open(out, "wb").write(struct.pack("<256i", *hdr) + struct.pack(fmt, *toks))
PY
}

head -c 40000 "$TOP/data/tinyshakespeare.txt" >text.txt
mkstream data.tok 256
tail -c 8000 "$TOP/data/tinyshakespeare.txt" >text.txt
mkstream val.tok 256
SMALL="--layers 2 --heads 2 --channels 32 --context 64 -b 4 -t 32 -j 2 -q"

# ---- options
check "help exits 0" gpt-train --help
gpt-train --help | grep -q -- "--batch-tokens" && ok "help lists the options" || fail "help lists the options" "no --batch-tokens"
check "version" gpt-train --version
if command -v mandoc >/dev/null; then
	check "gpt-train(1) lints clean" mandoc -Tlint -Wwarning "$TOP/man/gpt-train.1"
	check "gpt-checkpoint(5) lints clean" mandoc -Tlint -Wwarning "$TOP/man/gpt-checkpoint.5"
else
	skip "man pages lint" "no mandoc"
fi
check_fails "no output directory is a usage error" 2 "-o DIR is required" gpt-train data.tok
check_fails "bad schedule is a usage error" 2 "lr-schedule" gpt-train -o x --lr-schedule zigzag data.tok
check_fails "bad model is a usage error" 2 "model" gpt-train -o x -m d13 data.tok
check_fails "--init with a shape is a usage error" 2 "init" gpt-train -o x --init m.bin --layers 2 data.tok
check_fails "heads must divide channels" 2 "divisible" gpt-train -o x --layers 1 --heads 3 --channels 32 data.tok

# ---- training, determinism, log
gpt-train -o a $SMALL --lr 2e-3 --steps 12 --checkpoint-every 3 --keep 2 --val val.tok --eval-every 4 data.tok
rc=$?
[ $rc -eq 0 ] && ok "trains a small model" || fail "trains a small model" "exit $rc"
gpt-train -o b $SMALL --lr 2e-3 --steps 12 --checkpoint-every 3 --keep 2 --val val.tok --eval-every 4 data.tok
same_file "same command, same model bytes" a/model_00000012.bin b/model_00000012.bin
same_file "same command, same state bytes" a/state_00000012.bin b/state_00000012.bin
gpt-train -o j1 --layers 2 --heads 2 --channels 32 --context 64 -b 4 -t 32 -j 1 -q --lr 2e-3 --steps 12 --checkpoint-every 3 --keep 2 --val val.tok --eval-every 4 data.tok
same_file "1 thread gives the bytes of 2 threads" a/model_00000012.bin j1/model_00000012.bin
n=$(ls a | grep -c '^model_')
[ "$n" -eq 2 ] && ok "--keep 2 keeps two checkpoints" || fail "--keep 2 keeps two checkpoints" "$(ls a | tr '\n' ' ')"
[ -f a/model_00000009.bin ] && [ -f a/state_00000009.bin ] && ok "checkpoint every 3 steps" ||
	fail "checkpoint every 3 steps" "$(ls a | tr '\n' ' ')"
# log: a header, then `step train loss lr norm ms tok/s` and `step val loss - - ms -`
if awk 'NR == 1 { if ($0 !~ /^# gpt-train log: step kind loss lr grad_norm ms tokens_per_s$/) exit 1; next }
	$2 == "train" { if (NF != 7 || $1 != ++s || $3 + 0 <= 0) exit 1; t++ }
	$2 == "val" { if (NF != 7 || $1 % 4 || $3 + 0 <= 0) exit 1; v++ }
	END { exit !(t == 12 && v == 3) }' a/log.txt; then ok "log format"; else fail "log format" "$(head -3 a/log.txt | tr '\n' '|')"; fi
first=$(awk '$2 == "train" { print $3; exit }' a/log.txt)
last=$(awk '$2 == "train" { l = $3 } END { print l }' a/log.txt)
awk -v f="$first" -v l="$last" 'BEGIN { exit !(l < f - 0.3) }' && ok "loss goes down ($first -> $last)" ||
	fail "loss goes down" "$first -> $last"
# the warm-up and schedule show in the lr column
gpt-train -o w $SMALL --steps 10 --warmup 4 --lr 1e-3 --lr-schedule linear --final-lr-frac 0 data.tok
lrs=$(awk '$2 == "train" { printf "%s ", $4 }' w/log.txt)
echo "$lrs" | awk '{ exit !($1 == 2.5e-04 && $4 == 1.0e-03 && $5 == $4 && $6 < $5 && $10 < $9) }' && ok "warm-up then linear decay" ||
	fail "warm-up then linear decay" "$lrs"

gpt-train -o c $SMALL --steps 3 --lr-schedule constant --lr 1e-3 data.tok
[ "$(awk '$2 == "train" { print $4 }' c/log.txt | sort -u)" = "1.000000e-03" ] && ok "constant schedule" ||
	fail "constant schedule" "$(awk '$2 == "train" { printf "%s ", $4 }' c/log.txt)"
gpt-train -o seed2 $SMALL --lr 2e-3 --steps 12 --checkpoint-every 3 --keep 2 --val val.tok --eval-every 4 --seed 7 data.tok
cmp -s a/model_00000012.bin seed2/model_00000012.bin && fail "--seed changes the model" "same bytes" || ok "--seed changes the model"
gpt-train -o prog --layers 2 --heads 2 --channels 32 --context 64 -b 4 -t 32 -j 2 --steps 3 --progress data.tok 2>prog.err
grep -q 'step 3/3 (100%).*loss .*tok/s' prog.err && ok "--progress shows step/total, loss, tokens/s" ||
	fail "--progress" "$(tr '\r' '\n' <prog.err | tail -2)"

# ---- resume after SIGKILL at a random step: same bytes as the uninterrupted run
R="$SMALL --steps 40 --checkpoint-every 1 --keep 3"
gpt-train -o full $R data.tok
k=$(( $(od -An -N2 -tu2 /dev/urandom) % 30 + 5 ))
gpt-train -o killed $R data.tok &
pid=$!
while :; do
	s=$(awk '$2 == "train" { s = $1 } END { print s + 0 }' killed/log.txt 2>/dev/null)
	[ "${s:-0}" -ge $k ] && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.01
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
at=$(ls killed | grep '^state_' | tail -1)
gpt-train -o killed $R --resume data.tok
rc=$?
[ $rc -eq 0 ] && ok "resume after SIGKILL near step $k ($at)" || fail "resume after SIGKILL" "exit $rc"
same_file "resumed model equals the uninterrupted one" full/model_00000040.bin killed/model_00000040.bin
same_file "resumed state equals the uninterrupted one" full/state_00000040.bin killed/state_00000040.bin
[ "$(grep -c ' train ' killed/log.txt)" -eq 40 ] && ok "resumed log has each step once" ||
	fail "resumed log has each step once" "$(grep -c ' train ' killed/log.txt) train lines"
ls killed | grep -q '\.tmp\.' && fail "no temporary files left" "$(ls killed)" || ok "no temporary files left"

# ---- SIGTERM and SIGINT: checkpoint, clean exit, resumable
for sig in TERM INT; do
	rm -rf s
	gpt-train -o s $SMALL --steps 100000 data.tok &
	pid=$!
	while n=$(grep -c ' train ' s/log.txt 2>/dev/null); [ "${n:-0}" -lt 3 ]; do sleep 0.01; done
	kill -$sig $pid
	wait $pid
	rc=$?
	n=$(ls s | grep '^model_' | tail -1)
	want=143; [ $sig = INT ] && want=130
	if [ $rc -eq $want ] && [ -n "$n" ] && [ -f "s/state_${n#model_}" ]; then ok "SIG$sig writes a checkpoint ($n) and exits $rc"
	else fail "SIG$sig writes a checkpoint" "exit $rc, files: $(ls s | tr '\n' ' ')"; fi
done
steps=$(ls s | grep '^state_' | tail -1 | sed 's/state_0*//; s/\.bin//')
gpt-train -o s $SMALL --steps $((steps + 2)) --resume data.tok &&
	[ -f "s/model_$(printf %08d $((steps + 2))).bin" ] && ok "an interrupted run resumes with more --steps" ||
	fail "an interrupted run resumes with more --steps" "$(ls s | tr '\n' ' ')"

# ---- gradient accumulation: 2 x (B=2) equals one B=4 step (to float rounding)
gpt-train -o acc1 --layers 2 --heads 2 --channels 32 --context 64 -t 32 -j 2 -q -b 4 --steps 1 data.tok
gpt-train -o acc2 --layers 2 --heads 2 --channels 32 --context 64 -t 32 -j 2 -q -b 2 --batch-tokens 128 --steps 1 data.tok
l1=$(awk '$2 == "train" { print $3, $5 }' acc1/log.txt)
l2=$(awk '$2 == "train" { print $3, $5 }' acc2/log.txt)
echo "$l1 $l2" | awk '{ exit !(($1 - $3)^2 < 1e-10 && ($2 - $4)^2 < 1e-8) }' &&
	ok "--batch-tokens accumulates gradients ($l1 = $l2)" || fail "--batch-tokens accumulates gradients" "$l1 vs $l2"
check_fails "--batch-tokens must be a multiple of B*T" 1 "multiple" gpt-train -o acc3 $SMALL --batch-tokens 100 data.tok

# ---- epochs, val-fraction, samples, inputs
gpt-train -o ep $SMALL --epochs 2 data.tok
n=$(grep -c ' train ' ep/log.txt)
want=$(( 2 * ((40000 - 1) / 128) ))
[ "$n" -eq $want ] && ok "--epochs 2 runs $want steps" || fail "--epochs 2" "$n steps, want $want"
gpt-train -o vf $SMALL --steps 3 --val-fraction 0.2 data.tok && grep -q '^3 val ' vf/log.txt &&
	ok "--val-fraction evaluates at the end" || fail "--val-fraction evaluates at the end" "$(tail -2 vf/log.txt)"
gpt-train -o smp --layers 2 --heads 2 --channels 32 --context 64 -b 4 -t 32 -j 2 --steps 2 --sample-every 2 --sample-tokens 20 data.tok 2>smp.err
grep -q -- '--- sample at step 2' smp.err && ok "--sample-every prints a sample" || fail "--sample-every" "$(head -2 smp.err)"
cat data.tok | gpt-train -o stdin $SMALL --steps 2 && [ -f stdin/model_00000002.bin ] &&
	ok "reads stdin" || fail "reads stdin" "no model"
cp data.tok part1.tok; cp data.tok part2.tok
gpt-train -o glob $SMALL --epochs 1 'part*.tok' && [ "$(grep -c ' train ' glob/log.txt)" -eq $(( (80000 - 1) / 128 )) ] &&
	ok "glob patterns read every match" || fail "glob patterns" "$(grep -c ' train ' glob/log.txt) steps"
# an llm.c shard: uint16 tokens, no vocabulary in the header (GPT-2's 50257 assumed)
head -c 3000 "$TOP/data/tinyshakespeare.txt" >text.txt
mkstream shard.bin 0
gpt-train -o shard --layers 1 --heads 1 --channels 16 --context 32 -b 2 -t 16 -j 2 -q --steps 2 shard.bin &&
	python3 -c "import struct,sys; h=struct.unpack('<8i', open('shard/model_00000002.bin','rb').read(32)); sys.exit(not (h[3]==50257 and h[7]==50304))" &&
	ok "trains on an llm.c shard (V 50257, Vp 50304)" || fail "trains on an llm.c shard" "bad header"
check "--device cpu" gpt-train -o dev $SMALL --steps 1 --device cpu data.tok
if gpt-train --version >/dev/null && ! nm "$BIN/gpt-train" 2>/dev/null | grep -q backend_cuda_open; then
	check_fails "--device cuda without CUDA" 1 "built without CUDA" gpt-train -o devc $SMALL --steps 1 --device cuda data.tok
else
	skip "--device cuda without CUDA" "this build has CUDA"
fi

# ---- --init from a checkpoint (fp32 and bf16)
INIT="-b 4 -t 32 -j 2 -q"
gpt-train -o i1 $INIT --steps 2 --init a/model_00000012.bin data.tok && ok "--init continues from a checkpoint" ||
	fail "--init continues from a checkpoint" "failed"
python3 - <<'PY'
import struct
raw = open("a/model_00000012.bin", "rb").read()
h = list(struct.unpack("<256i", raw[:1024])); h[1] = 5
n = (len(raw) - 1024) // 4
f = struct.unpack("<%dI" % n, raw[1024:])
open("bf16.bin", "wb").write(struct.pack("<256i", *h) + struct.pack("<%dH" % n, *[(x + 0x7fff + ((x >> 16) & 1)) >> 16 for x in f]))
PY
gpt-train -o i2 $INIT --steps 1 --init bf16.bin data.tok && ok "--init reads a bf16 (version 5) checkpoint" ||
	fail "--init reads a bf16 checkpoint" "failed"

# ---- bad input: one line, exit 1, before any work, the directory untouched
snap() { (cd "$1" && for f in *; do cksum "$f"; done) 2>/dev/null; }
before=$(snap a)
: >empty.raw; mkstream empty.tok 256 20240520 ""
check_fails "empty stream" 1 "no tokens" gpt-train -o a2 $SMALL empty.tok
check_fails "T longer than the context" 1 "longer than the model's context" gpt-train -o a2 $SMALL -t 65 data.tok
check_fails "too little data for a batch" 1 "fewer than one batch" gpt-train -o a2 $SMALL -b 1300 data.tok
check_fails "too little validation data" 1 "validation tokens" gpt-train -o a2 $SMALL --val-fraction 0.001 data.tok
check_fails "a run directory is not overwritten" 1 "already holds a run" gpt-train -o a $SMALL data.tok
check_fails "resume with another shape" 1 "another shape" gpt-train -o a --resume --layers 3 --heads 2 --channels 32 --context 64 -b 4 -t 32 -q data.tok
check_fails "resume with other options" 1 "other optimisation options" gpt-train -o a --resume $SMALL --lr 0.01 data.tok
check_fails "resume with other data" 1 "data differs" gpt-train -o a --resume $SMALL --steps 20 val.tok
check_fails "resume past --steps" 1 "past --steps" gpt-train -o a --resume $SMALL --steps 5 data.tok
head -c 3000 "$TOP/data/tinyshakespeare.txt" >bad.bin
check_fails "--init with a bad magic" 1 "bad.bin: bad magic .* at offset 0" gpt-train -o a2 $INIT --init bad.bin data.tok
head -c 5000 a/model_00000012.bin >trunc.bin
check_fails "--init with a truncated checkpoint" 1 "trunc.bin: truncated" gpt-train -o a2 $INIT --init trunc.bin data.tok
head -c 1000 a/model_00000012.bin >trunchdr.bin
check_fails "--init with a truncated header" 1 "truncated header" gpt-train -o a2 $INIT --init trunchdr.bin data.tok
python3 -c "
import struct; raw = bytearray(open('a/model_00000012.bin','rb').read()); raw[20:24] = struct.pack('<i', 3)
open('shape.bin','wb').write(raw)"
check_fails "--init with shape nonsense" 1 "not divisible by the 3 heads" gpt-train -o a2 $INIT --init shape.bin data.tok
python3 -c "
import struct; raw = bytearray(open('a/model_00000012.bin','rb').read()); raw[1024+400:1028+400] = struct.pack('<f', float('nan'))
open('nan.bin','wb').write(raw)"
check_fails "--init with a NaN parameter" 1 "offset 1424 is not a finite" gpt-train -o a2 $INIT --init nan.bin data.tok
mkstream gpt2v.tok 50257
check_fails "--init whose vocabulary is too small for the data" 1 "larger than the model" gpt-train -o a2 -q --init a/model_00000012.bin gpt2v.tok
mkstream badtok.tok 256 20240520 "1 2 3 300 4 5"
check_fails "token out of range" 1 "offset 1030" gpt-train -o a2 $SMALL badtok.tok
mkstream smallv.tok 100 20240520 "1 2 3 4 5 6 7 8 9 10 11 12"
check_fails "token beyond the model vocabulary (--init)" 1 "vocabulary" gpt-train -o a2 -q -b 1 -t 4 --init a/model_00000012.bin badtok.tok
echo x >afile
check_fails "output is a file" 1 "afile: not a directory" gpt-train -o afile $SMALL data.tok
check_fails "unwritable output directory" 1 "/proc/gptkit-no" gpt-train -o /proc/gptkit-no $SMALL data.tok
check_fails "missing input" 1 "nope.tok" gpt-train -o a2 $SMALL nope.tok
check_fails "no glob match" 1 "no files match" gpt-train -o a2 $SMALL 'nope*.tok'
cp a/state_00000012.bin st.bak
head -c 2000 st.bak >a/state_00000012.bin
check_fails "resume with a truncated state file" 1 "state_00000012.bin: truncated" gpt-train -o a --resume $SMALL --steps 20 data.tok
cp st.bak a/state_00000012.bin
after=$(snap a)
[ "$before" = "$after" ] && ok "failed runs left the run directory as it was" || fail "run directory untouched" "changed"
[ ! -e a2 ] || [ -z "$(ls a2)" ] && ok "failed runs wrote nothing" || fail "failed runs wrote nothing" "$(ls a2 | tr '\n' ' ')"
finish
