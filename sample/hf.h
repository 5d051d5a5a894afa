/* Hugging Face GPT-2 (GPT2LMHeadModel: config.json + model.safetensors) to
 * and from gptkit's parameter layout (train/gpt2.h).  Owns the name map, the
 * Conv1D transposes (HF stores (in, out), llm.c (out, in)), the tied head,
 * the `transformer.` prefix, the attention-mask buffers, and vocabulary
 * padding to a multiple of 128. */
#ifndef GPTKIT_HF_H
#define GPTKIT_HF_H

#include "err.h"
#include "gpt2.h"
#include "safetensors.h"

/* Parse a GPT-2 config.json; anything that is not a GPT-2 this code runs
 * exactly (another model_type, activation, n_inner, cross-attention,
 * untied head, ...) is an error naming the field. */
int hf_config_parse(const char *text, size_t len, const char *name, GPT2Config *c, Error *e);
/* Fill params (gpt2_num_params(c) floats, laid out by gpt2_params_point)
 * from the tensors of st: every tensor must be there with its shape; unknown
 * tensors are errors; padded vocabulary rows are zero. */
int hf_import(const SafeTensors *st, const GPT2Config *c, float *params, Error *e);
/* Load a model directory (config.json + model.safetensors), or a
 * .safetensors file with config.json beside it: malloc'd fp32 params. */
int hf_load(const char *path, GPT2Config *c, float **params, Error *e);
/* 1 if path is a directory or a *.safetensors file (a Hugging Face model). */
int hf_is_model_path(const char *path);
/* Write dir/config.json and dir/model.safetensors (tensors of dtype ST_F32,
 * ST_F16 or ST_BF16), creating dir if needed; each file is atomic. */
int hf_save(const char *dir, const GPT2Config *c, const float *params, StDtype dtype, Error *e);

#endif
