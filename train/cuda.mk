# train/ CUDA backend (included from train/build.mk).  The .cu files compile
# when nvcc is found and CUDA != 0 (see the top Makefile); cuda_backend.c is
# empty without GPTKIT_CUDA, cuda_host.c needs no GPU and is always built.
CU_SRCS += train/cuda_encoder.cu train/cuda_layernorm.cu train/cuda_gelu.cu train/cuda_matmul.cu \
	   train/cuda_attention.cu train/cuda_attention_tc.cu train/cuda_classifier.cu train/cuda_adamw.cu train/cuda_model.cu \
	   train/cuda_infer.cu
LIB_SRCS += train/cuda_backend.c train/cuda_host.c

# tests/gpu/cuda_check: the kernel-vs-CPU check that tests/gpu/check.sh runs
# on a machine with a GPU; built by `make test` too, so that it always
# compiles (without a device it reports that and exits 77).
GPU_CHECK := $(BUILD)/tests/gpu/cuda_check
$(GPU_CHECK): $(BUILD)/tests/gpu/cuda_check.o $(BUILD)/libgptkit.a
	$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@
gpu-check-build: $(GPU_CHECK)
test: $(GPU_CHECK)
.PHONY: gpu-check-build
