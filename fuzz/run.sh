#!/bin/sh
# Run every libFuzzer target (or those matching $2) for $1 seconds each,
# starting from fuzz/seeds/<target>/ when present; new inputs go to
# fuzz/corpus-<target>/ (gitignored).  Prints each target's exec count.
#   make fuzz && sh fuzz/run.sh 600 tok_roundtrip
cd "$(dirname "$0")/.." || exit 1
secs=${1:-10}
status=0
for t in build/fuzz/fuzz/fuzz_*; do
	case $t in *.o|*.d) continue ;; esac
	[ -x "$t" ] || continue
	name=$(basename "$t" | sed 's/^fuzz_//')
	[ -n "${2:-}" ] && case $name in *"$2"*) ;; *) continue ;; esac
	mkdir -p "fuzz/corpus-$name"
	seeds=; [ -d "fuzz/seeds/$name" ] && seeds="fuzz/seeds/$name"
	log=$(mktemp)
	if "$t" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=4096 \
		-artifact_prefix="build/fuzz/crash-$name-" "fuzz/corpus-$name" $seeds >"$log" 2>&1; then
		execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
		echo "ok fuzz_$name: $execs execs in ${secs}s"
	else
		echo "not ok fuzz_$name: $(grep -m1 'ERROR\|SUMMARY\|==ERROR' "$log")"
		tail -30 "$log" | sed 's/^/    /'
		status=1
	fi
	rm -f "$log"
done
exit $status
