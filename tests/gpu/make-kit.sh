#!/bin/sh
# tests/gpu/make-kit.sh DIR: everything tests/gpu/check.sh needs on a GPU
# machine that cannot build gptkit itself (no network for `make deps`, no
# OpenBLAS or jansson headers there), built on this machine:
#   DIR/bin        gpt-train and gpt-sample, built for x86-64-v4 (any AVX-512
#                  host; an H100's host has it), with CUDA for sm_80/sm_90+PTX
#   DIR/cuda_check the kernel-vs-CPU check
#   DIR/lib        libjansson, and Debian's reference BLAS behind a shim
#                  named libopenblas.so.0 (blas_shim.c): check.sh's CPU-side
#                  references are small, and OpenBLAS (36 MB) would not fit
#                  the transfer to the device
#   DIR/data.tok, DIR/prompt.tok   the training data and a prompt, encoded
#   DIR/train-cpu-log.txt  the 20-step CPU run of check.sh's train20 stage,
#                  made here with OpenBLAS (the CPU runs are deterministic
#                  across thread counts and machines of the same binary)
#   DIR/build.log  the build, to count nvcc's warnings
# Then: GPTKIT_KIT=DIR sh tests/gpu/check.sh
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
KIT=$(mkdir -p "$1" && cd "$1" && pwd)
SRC=${TMPDIR:-/tmp}/gptkit-kit-src
rm -rf "$KIT"/bin "$KIT"/lib
mkdir -p "$KIT/bin" "$KIT/lib"
git -C "$TOP" worktree remove --force "$SRC" 2>/dev/null || rm -rf "$SRC"
git -C "$TOP" worktree add --detach "$SRC" HEAD >/dev/null
# the kit is HEAD: commit what it should carry (work in progress stays out)
make -C "$SRC" -j"$(nproc)" MARCH=-march=x86-64-v4 build build/rel/tests/gpu/cuda_check >"$KIT/build.log" 2>&1 ||
	{ tail -20 "$KIT/build.log"; exit 1; }
cp "$SRC/bin/gpt-train" "$SRC/bin/gpt-sample" "$KIT/bin/"
cp "$SRC/build/rel/tests/gpu/cuda_check" "$KIT/"
git -C "$SRC" rev-parse --short HEAD >"$KIT/commit.txt"
cp -L /usr/lib/x86_64-linux-gnu/libjansson.so.4 "$KIT/lib/"
(cd "${TMPDIR:-/tmp}" && rm -f libblas3_*.deb && apt-get download libblas3 >/dev/null 2>&1 &&
	rm -rf blas-x && dpkg -x libblas3_*.deb blas-x)
cp -L "${TMPDIR:-/tmp}"/blas-x/usr/lib/x86_64-linux-gnu/blas/libblas.so.3 "$KIT/lib/"
cc -O2 -Wall -Wextra -shared -fPIC -o "$KIT/lib/libopenblas.so.0" "$TOP/tests/gpu/blas_shim.c" \
	-L"$KIT/lib" -Wl,--no-as-needed -l:libblas.so.3 -Wl,-rpath,'$ORIGIN'

head -c 1000000 "$TOP/data/tinyshakespeare.txt" | "$TOP/bin/tok-encode" >"$KIT/data.tok"
printf 'ROMEO:' | "$TOP/bin/tok-encode" >"$KIT/prompt.tok"
# the CPU reference of train20, with the kit's own gpt-train (same arguments as check.sh)
SMALL="--layers 4 --heads 2 --channels 128 --context 256 -b 8 -t 128 --steps 20 --seed 11 --lr 1e-3 -q"
rm -rf "$SRC/cpu"
"$KIT/bin/gpt-train" -o "$SRC/cpu" $SMALL --device cpu "$KIT/data.tok" >/dev/null
cp "$SRC/cpu/log.txt" "$KIT/train-cpu-log.txt"
git -C "$TOP" worktree remove --force "$SRC"
du -sh "$KIT"
