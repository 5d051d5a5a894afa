# train/: the GPT-2 model on the CPU, checkpoints, and gpt-train.
LIB_SRCS += train/layers.c train/gpt2.c train/checkpoint.c train/state.c train/backend_cpu.c train/data.c train/train.c
# The layer loops vectorise only when sqrtf need not set errno and float
# compares may be if-converted (no trapping math: gptkit never tests FP flags).
$(BUILD)/train/layers.o $(BUILD)/train/gpt2.o: ALL_CFLAGS += -fno-math-errno -fno-trapping-math
PROGRAMS += gpt-train
PROG_gpt-train := train/gpt-train.c
include train/cuda.mk
