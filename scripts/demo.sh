#!/bin/sh
# make demo: the main job on the vendored data, end to end.
set -e
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}; BIN=$(cd "$BIN" && pwd); export BIN
PATH="$BIN:$PATH"
DEMO=${DEMO_DIR:-build/demo}
mkdir -p "$DEMO"
text=data/tinyshakespeare.txt
bytes=$(wc -c <"$text")

echo "== 1. The tokenizer on Tiny Shakespeare ($bytes bytes)"
for enc in gpt2 cl100k_base o200k_base; do
	t0=$(date +%s.%N)
	tok-encode -e $enc "$text" >"$DEMO/shakespeare.$enc.tok"
	t1=$(date +%s.%N)
	tok-decode "$DEMO/shakespeare.$enc.tok" >"$DEMO/roundtrip.txt"
	t2=$(date +%s.%N)
	n=$(tok-encode -c -e $enc "$text" | tail -1 | awk '{print $1}')
	if cmp -s "$text" "$DEMO/roundtrip.txt"; then rt="round trip exact"; else rt="ROUND TRIP DIFFERS"; fi
	awk -v e=$enc -v n="$n" -v b="$bytes" -v a="$t0" -v m="$t1" -v z="$t2" -v rt="$rt" 'BEGIN {
		printf "%-12s %7d tokens  %.2f bytes/token  encode %6.1f MB/s  decode %7.1f MB/s  %s\n",
			e, n, b / n, b / (m - a) / 1e6, b / (z - m) / 1e6, rt }'
done
echo "first line, token by token:"
head -1 "$text" | tok-encode --format text
[ "$(head -1 "$text" | tok-encode | tok-decode)" = "$(head -1 "$text")" ]

for step in toktrain train sample; do
	if [ -f "scripts/demo-$step.sh" ]; then
		echo
		sh "scripts/demo-$step.sh" "$DEMO"
	fi
done
