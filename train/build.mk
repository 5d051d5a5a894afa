# train/: the GPT-2 model on the CPU, checkpoints, and gpt-train.
LIB_SRCS += train/layers.c train/gpt2.c train/checkpoint.c
# The layer loops call sqrtf/expf-free math that vectorises only without errno.
$(BUILD)/train/layers.o $(BUILD)/train/gpt2.o: ALL_CFLAGS += -fno-math-errno
