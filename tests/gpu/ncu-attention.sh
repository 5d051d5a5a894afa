#!/bin/sh
# tests/gpu/ncu-attention.sh: Nsight Compute's view of the attention kernels
# in a d12 training step (B=8, T=1024), for tuning on a GPU machine:
#   GPTKIT_KIT=DIR OUT=/dir sh tests/gpu/ncu-attention.sh
# One launch of each kernel (forward, D, dq, dk/dv) with the speed-of-light,
# occupancy, warp-state and memory sections; the report goes to OUT/ncu.txt.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-/tmp/gptkit-ncu}
mkdir -p "$OUT"
BIN=$TOP/bin
if [ -n "${GPTKIT_KIT:-}" ]; then
	BIN=$GPTKIT_KIT/bin
	export LD_LIBRARY_PATH="$GPTKIT_KIT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	DATA=$GPTKIT_KIT/data.tok
else
	DATA=$OUT/data.tok
	head -c 1000000 "$TOP/data/tinyshakespeare.txt" | "$BIN/tok-encode" >"$DATA"
fi
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || { echo "no ncu"; exit 1; }
timeout 300 "$NCU" --clock-control none -k regex:'attention_(forward_tc|dq_tc|dkv_tc|d_)' -c 4 \
	--section SpeedOfLight --section Occupancy --section WarpStateStats --section LaunchStats \
	--section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis \
	"$BIN/gpt-train" -o "$W/run" -m d12 -t 1024 -b 8 --steps 1 --keep 0 -q --device cuda "$DATA" \
	>"$OUT/ncu.txt" 2>&1
echo "ncu exit $?"
grep -E '^  [a-z_]+.*\(|Duration|Compute \(SM\) Throughput|Memory Throughput|Achieved Occupancy|Theoretical Occupancy|Registers Per|Warp Cycles Per Issued|Issue Slots Busy|Block Limit|Shared Memory Configuration Size|L1/TEX Hit|L2 Hit|Executed Ipc A' "$OUT/ncu.txt" | head -80
