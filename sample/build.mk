# sample/: the inference engine, samplers, Hugging Face interop, gpt-sample, gpt-convert.
LIB_SRCS += sample/safetensors.c sample/hf.c sample/kernels.c sample/attend.c sample/engine.c sample/sampler.c
PROGRAMS += gpt-sample gpt-convert
PROG_gpt-sample := sample/gpt-sample.c
PROG_gpt-convert := sample/gpt-convert.c
$(BUILD)/sample/engine.o $(BUILD)/sample/kernels.o: ALL_CFLAGS += -fno-math-errno
