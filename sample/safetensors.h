/* The safetensors format of Hugging Face: 8 bytes of little-endian header
 * length N, N bytes of JSON {name: {dtype, shape, data_offsets}}, then the
 * tensor bytes.  The reader validates everything before anyone touches a
 * tensor (size, JSON, dtypes, shapes, offsets inside the file, no overlaps)
 * and names the file and the tensor in its errors; the writer is atomic. */
#ifndef GPTKIT_SAFETENSORS_H
#define GPTKIT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER (100u << 20) /* the reference implementation's limit */

typedef enum {
	ST_F64, ST_F32, ST_F16, ST_BF16, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL,
	ST_U16, ST_U32, ST_U64, ST_F8_E4M3, ST_F8_E5M2, ST_NUM_DTYPES
} StDtype;

typedef struct {
	char *name;
	StDtype dtype;
	int ndim;
	int64_t shape[ST_MAX_DIMS];
	uint64_t numel;
	uint64_t begin, end;  /* byte offsets relative to the data section */
} StTensor;

typedef struct {
	const uint8_t *data;  /* the data section (after the header) */
	uint64_t data_len;
	StTensor *tensors;
	int n;
	char name[256];       /* the file, for messages */
	void *map;            /* when opened from a file */
	size_t map_len;
} SafeTensors;

const char *st_dtype_name(StDtype d);
size_t st_dtype_size(StDtype d);
/* "F32" -> ST_F32; -1 when unknown. */
int st_dtype_parse(const char *s);

/* Validate and index a safetensors image in memory (not copied: buf must
 * outlive st).  name is used in messages. */
int st_parse(SafeTensors *st, const uint8_t *buf, size_t len, const char *name, Error *e);
/* mmap a file read-only and parse it. */
int st_open(SafeTensors *st, const char *path, Error *e);
void st_close(SafeTensors *st);

const StTensor *st_find(const SafeTensors *st, const char *name);
/* Convert a floating-point tensor (F32, F16, BF16, F64) to fp32 into out (numel floats). */
int st_read_f32(const SafeTensors *st, const StTensor *t, float *out, Error *e);

float st_f16_to_f32(uint16_t h);
uint16_t st_f32_to_f16(float f);

/* A tensor to write: data holds numel values of dtype, little-endian. */
typedef struct {
	const char *name;
	StDtype dtype;
	int ndim;
	int64_t shape[ST_MAX_DIMS];
	const void *data;
} StWriteTensor;

/* Write tensors (in the given order) with optional metadata (string pairs,
 * n_meta of them, may be 0) atomically to path. */
int st_write(const char *path, const StWriteTensor *t, int n, const char *const *meta, int n_meta,
	     Error *e);

#endif
