# gptkit: small composable programs for GPT-style models.
#   make [all]   build the programs into bin/      make test    run every test
#   make demo    the main job on the vendored data  make bench   benchmarks beside peers
#   make install PREFIX=/usr/local DESTDIR=         make clean
#   SAN=1        AddressSanitizer + UBSan build (objects in build/san, programs in build/san/bin)
#   FUZZ=1       clang + libFuzzer build; `make fuzz` builds every fuzz/fuzz_*.c target
#   CUDA=0       leave out the CUDA code even when nvcc is present

PREFIX  ?= /usr/local
DESTDIR ?=
SAN     ?= 0
FUZZ    ?= 0
CUDA    ?= auto
NVCC    ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))

ifeq ($(FUZZ),1)
# libFuzzer build: the whole library instrumented; targets in build/fuzz/fuzz/
CC       := clang
BUILD    := build/fuzz
BIN      := build/fuzz/bin
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -Wno-pass-failed
OPT      := -O1
else ifeq ($(SAN),1)
BUILD    := build/san
BIN      := build/san/bin
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT      := -O1
else
BUILD    := build/rel
BIN      := bin
SANFLAGS :=
OPT      := -O3
endif

# The machine that builds is the machine that runs (as with llama.cpp);
# MARCH= builds a portable binary.
MARCH   ?= -march=native
CFLAGS  ?= $(OPT) -g $(MARCH)
# -fno-trapping-math: no program here reads the floating-point exception
# flags, and with gcc's default (trapping) a clamp before a float-to-int
# conversion (vmath.h's vexp) keeps a branch, so no loop that calls vexp or
# vtanh was vectorised: softmax, cross-entropy, GELU.  It changes no value.
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -fopenmp -fno-trapping-math -MMD -MP \
	     -Ilib -Itok -Itrain -Isample -Ieval -Igcm -I$(BUILD)/gen $(SANFLAGS) $(CFLAGS)
LDFLAGS ?=
LDLIBS  := -lopenblas -lcurl -ljansson -lm -lpthread
ALL_LDFLAGS = -fopenmp $(SANFLAGS) $(LDFLAGS)

# Each directory adds to these in its build.mk:
#   LIB_SRCS   C files of the shared library (no main)
#   CU_SRCS    CUDA files (compiled when nvcc is found and CUDA != 0)
#   PROGRAMS   program names; PROG_<name> is the file holding its main
#   GEN_HDRS   generated headers every object may include
#   MAN_PAGES  man pages to install
LIB_SRCS :=
CU_SRCS  :=
PROGRAMS :=
GEN_HDRS :=
MAN_PAGES := $(wildcard man/*.1 man/*.5)

all:

include $(sort $(wildcard */build.mk))

ifeq ($(CUDA),0)
USE_CUDA := 0
else ifeq ($(NVCC),)
USE_CUDA := 0
else ifeq ($(strip $(CU_SRCS)),)
USE_CUDA := 0
else
USE_CUDA := 1
endif

ifeq ($(USE_CUDA),1)
NVCCFLAGS ?= -O3 -std=c++17 --expt-relaxed-constexpr \
	-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
	-gencode arch=compute_90,code=compute_90 -Xcompiler -Wall,-Wextra
ALL_CFLAGS += -DGPTKIT_CUDA=1
CU_OBJS := $(CU_SRCS:%.cu=$(BUILD)/%.o)
LDLIBS  += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcublas -lcudart -lstdc++
else
CU_OBJS :=
endif

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIBGPTKIT := $(BUILD)/libgptkit.a

all: deps $(PROGRAMS:%=$(BIN)/%)
build: $(PROGRAMS:%=$(BIN)/%)

# Objects are rebuilt when the compiler flags change (CUDA on or off, MARCH, ...).
FLAGS_STAMP := $(BUILD)/flags.stamp
FLAGS_NOW := $(CC) $(ALL_CFLAGS) $(NVCC) $(NVCCFLAGS)
$(shell mkdir -p $(BUILD); [ "$$(cat $(FLAGS_STAMP) 2>/dev/null)" = '$(FLAGS_NOW)' ] || echo '$(FLAGS_NOW)' > $(FLAGS_STAMP))

$(BUILD)/%.o: %.c $(FLAGS_STAMP) | $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cu $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -Ilib -Itok -Itrain -Isample -c $< -o $@

$(LIBGPTKIT): $(LIB_OBJS) $(CU_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

.SECONDEXPANSION:
$(BIN)/%: $$(BUILD)/$$(basename $$(PROG_$$*)).o $(LIBGPTKIT)
	@mkdir -p $(BIN)
	$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@

# Unit tests: tests/test_<module>.c, each linked against the library.
UNIT_TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIBGPTKIT)
	$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@

# Fuzz targets: fuzz/fuzz_<name>.c, each defining LLVMFuzzerTestOneInput.
FUZZ_TARGETS := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard fuzz/fuzz_*.c))
$(BUILD)/fuzz/%: $(BUILD)/fuzz/%.o $(LIBGPTKIT)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer $^ $(LDLIBS) -o $@
fuzz-build: $(FUZZ_TARGETS)
fuzz: deps
	$(MAKE) FUZZ=1 CUDA=0 fuzz-build
	@echo "run: sh fuzz/run.sh SECONDS [TARGET]"

# --- Debian packages the build, the tests and the demo need ---
DEB_PKGS := gcc make libc6-dev libopenblas-dev libjansson-dev libcurl4-openssl-dev \
	    python3 python3-venv python3-pip git mandoc groff-base clang libclang-rt-14-dev libomp-14-dev time
deps:
	@missing=; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else echo "deps: missing Debian packages:$$missing (run 'make deps' as root)" >&2; fi; \
	fi

test: deps build $(UNIT_TESTS)
	@BIN=$(BIN) BUILD=$(BUILD) SAN=$(SAN) sh tests/run.sh $(T)

demo: deps build
	@BIN=$(BIN) sh scripts/demo.sh

bench: deps build
	@BIN=$(BIN) BUILD=$(BUILD) sh bench/run.sh $(B)

# Rerun the transformers reference (tests/hf_ref) live; needs PyPI torch.
check-ref: build
	@BIN=$$(pwd)/$(BIN) TOP=$$(pwd) sh tests/hf_ref/check_ref.sh

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 $(PROGRAMS:%=$(BIN)/%) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(filter %.1,$(MAN_PAGES)) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 $(filter %.5,$(MAN_PAGES)) $(DESTDIR)$(PREFIX)/share/man/man5/

clean:
	rm -rf build bin

.PHONY: all build deps test demo bench install clean fuzz fuzz-build check-ref
.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
