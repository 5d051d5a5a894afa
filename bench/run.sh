#!/bin/sh
# make bench: runs every bench/<area>.sh (or those whose name contains $1).
# Each prints gptkit's figure beside a peer's figure from the same run, and the ratio.
cd "$(dirname "$0")/.." || exit 1
BIN=${BIN:-bin}; BIN=$(cd "$BIN" && pwd); TOP=$(pwd); export BIN TOP
echo "# gptkit bench $(date -u +%Y-%m-%dT%H:%MZ) commit $(git rev-parse --short HEAD 2>/dev/null) on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
for b in bench/*.sh; do
	case $b in bench/run.sh|bench/lib.sh) continue ;; esac
	[ -n "${1:-}" ] && case $b in *"$1"*) ;; *) continue ;; esac
	echo "## $(basename "$b" .sh)"
	sh "$b" || echo "bench $(basename "$b"): failed"
done
