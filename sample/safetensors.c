/* safetensors reading and writing; see safetensors.h. */
#include "safetensors.h"

#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "mapguard.h"

static const char *const dtype_names[ST_NUM_DTYPES] = {
	"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL",
	"U16", "U32", "U64", "F8_E4M3", "F8_E5M2",
};
static const size_t dtype_sizes[ST_NUM_DTYPES] = { 8, 4, 2, 2, 8, 4, 2, 1, 1, 1, 2, 4, 8, 1, 1 };

const char *st_dtype_name(StDtype d) { return (unsigned)d < ST_NUM_DTYPES ? dtype_names[d] : "?"; }
size_t st_dtype_size(StDtype d) { return (unsigned)d < ST_NUM_DTYPES ? dtype_sizes[d] : 0; }

int st_dtype_parse(const char *s)
{
	for (int i = 0; i < ST_NUM_DTYPES; i++)
		if (strcmp(s, dtype_names[i]) == 0)
			return i;
	return -1;
}

/* ------------------------------------------------------------------ reading */

static void free_tensors(SafeTensors *st)
{
	for (int i = 0; i < st->n; i++)
		free(st->tensors[i].name);
	free(st->tensors);
	st->tensors = NULL;
	st->n = 0;
}

static int by_begin(const void *a, const void *b)
{
	const StTensor *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* One entry of the header: {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}. */
static int parse_entry(SafeTensors *st, StTensor *t, const char *key, json_t *v, Error *e)
{
	const char *f = st->name;
	if (!json_is_object(v))
		return err_set(e, "%s: header: tensor '%s' is not a JSON object", f, key);
	json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
	       *off = json_object_get(v, "data_offsets");
	if (!json_is_string(dt))
		return err_set(e, "%s: header: tensor '%s' has no dtype string", f, key);
	int d = st_dtype_parse(json_string_value(dt));
	if (d < 0)
		return err_set(e, "%s: header: tensor '%s' has unknown dtype '%.32s'", f, key,
			       json_string_value(dt));
	if (!json_is_array(sh) || json_array_size(sh) > ST_MAX_DIMS)
		return err_set(e, "%s: header: tensor '%s' has no shape array of at most %d dimensions", f,
			       key, ST_MAX_DIMS);
	if (!json_is_array(off) || json_array_size(off) != 2 || !json_is_integer(json_array_get(off, 0)) ||
	    !json_is_integer(json_array_get(off, 1)))
		return err_set(e, "%s: header: tensor '%s' has no data_offsets [begin, end]", f, key);
	t->dtype = (StDtype)d;
	t->ndim = (int)json_array_size(sh);
	uint64_t numel = 1;
	for (int i = 0; i < t->ndim; i++) {
		json_t *x = json_array_get(sh, (size_t)i);
		if (!json_is_integer(x) || json_integer_value(x) < 0)
			return err_set(e, "%s: header: tensor '%s' has a bad dimension %d", f, key, i);
		t->shape[i] = json_integer_value(x);
		if (t->shape[i] && numel > UINT64_MAX / 16 / (uint64_t)t->shape[i])
			return err_set(e, "%s: header: tensor '%s' is too large", f, key);
		numel *= (uint64_t)t->shape[i];
	}
	t->numel = numel;
	json_int_t b = json_integer_value(json_array_get(off, 0)),
		   en = json_integer_value(json_array_get(off, 1));
	if (b < 0 || en < b)
		return err_set(e, "%s: header: tensor '%s' has data_offsets [%lld, %lld] out of order", f,
			       key, (long long)b, (long long)en);
	t->begin = (uint64_t)b;
	t->end = (uint64_t)en;
	if (t->end > st->data_len)
		return err_set(e, "%s: header: tensor '%s' ends at byte %llu of the data, past its end (%llu bytes)",
			       f, key, (unsigned long long)t->end, (unsigned long long)st->data_len);
	if (t->end - t->begin != numel * dtype_sizes[d])
		return err_set(e, "%s: header: tensor '%s' holds %llu bytes, but %s of that shape needs %llu",
			       f, key, (unsigned long long)(t->end - t->begin), dtype_names[d],
			       (unsigned long long)(numel * dtype_sizes[d]));
	t->name = strdup(key);
	if (!t->name)
		return err_set(e, "%s: out of memory", f);
	return 0;
}

int st_parse(SafeTensors *st, const uint8_t *buf, size_t len, const char *name, Error *e)
{
	memset(st, 0, sizeof *st);
	snprintf(st->name, sizeof st->name, "%s", name);
	if (len < 8)
		return err_set(e, "%s: %zu bytes is too short for a safetensors file", name, len);
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | buf[i];
	if (n > ST_MAX_HEADER)
		return err_set(e, "%s: header length %llu at offset 0 is over the limit (%u)", name,
			       (unsigned long long)n, ST_MAX_HEADER);
	if (n > len - 8)
		return err_set(e, "%s: header length %llu at offset 0 runs past the end of the file (%zu bytes)",
			       name, (unsigned long long)n, len);
	if (n < 2 || buf[8] != '{')
		return err_set(e, "%s: header at offset 8 is not a JSON object", name);
	st->data = buf + 8 + n;
	st->data_len = len - 8 - n;

	json_error_t je;
	json_t *root = json_loadb((const char *)buf + 8, (size_t)n, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return err_set(e, "%s: header JSON at offset %d: %s", name, 8 + je.position, je.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return err_set(e, "%s: header at offset 8 is not a JSON object", name);
	}
	size_t cap = json_object_size(root);
	st->tensors = calloc(cap ? cap : 1, sizeof *st->tensors);
	if (!st->tensors) {
		json_decref(root);
		return err_set(e, "%s: out of memory", name);
	}
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "__metadata__") == 0) {
			const char *mk;
			json_t *mv;
			if (!json_is_object(v))
				goto bad_meta;
			json_object_foreach(v, mk, mv)
				if (!json_is_string(mv))
					goto bad_meta;
			continue;
		bad_meta:
			json_decref(root);
			free_tensors(st);
			return err_set(e, "%s: header: __metadata__ must map names to strings", name);
		}
		if (parse_entry(st, &st->tensors[st->n], key, v, e)) {
			json_decref(root);
			free_tensors(st);
			return -1;
		}
		st->n++;
	}
	json_decref(root);

	/* No two tensors may share bytes (zero-sized ones own none). */
	StTensor *s = malloc((st->n ? st->n : 1) * sizeof *s);
	if (!s) {
		free_tensors(st);
		return err_set(e, "%s: out of memory", name);
	}
	memcpy(s, st->tensors, st->n * sizeof *s);
	qsort(s, st->n, sizeof *s, by_begin);
	uint64_t last_end = 0;
	const char *last = NULL;
	for (int i = 0; i < st->n; i++) {
		if (s[i].begin == s[i].end)
			continue;
		if (last && s[i].begin < last_end) {
			err_set(e, "%s: header: tensors '%s' and '%s' overlap at byte %llu of the data", name,
				last, s[i].name, (unsigned long long)s[i].begin);
			free(s);
			free_tensors(st);
			return -1;
		}
		last_end = s[i].end;
		last = s[i].name;
	}
	free(s);
	return 0;
}

int st_open(SafeTensors *st, const char *path, Error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, "%s", path);
	struct stat sb;
	if (fstat(fd, &sb)) {
		close(fd);
		return err_errno(e, "%s", path);
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		return err_set(e, "%s: not a regular file", path);
	}
	size_t len = (size_t)sb.st_size;
	void *map = NULL;
	if (len) {
		map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			close(fd);
			return err_errno(e, "%s: mmap", path);
		}
		mapguard_add(map, len, path);
	}
	close(fd);
	if (st_parse(st, map ? map : (const uint8_t *)"", len, path, e)) {
		if (map) {
			mapguard_remove(map);
			munmap(map, len);
		}
		return -1;
	}
	st->map = map;
	st->map_len = len;
	return 0;
}

void st_close(SafeTensors *st)
{
	free_tensors(st);
	if (st->map) {
		mapguard_remove(st->map);
		munmap(st->map, st->map_len);
	}
	st->map = NULL;
}

const StTensor *st_find(const SafeTensors *st, const char *name)
{
	for (int i = 0; i < st->n; i++)
		if (strcmp(st->tensors[i].name, name) == 0)
			return &st->tensors[i];
	return NULL;
}

float st_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
	if (exp == 0x1f) {
		u = sign | 0x7f800000u | (man << 13);
	} else if (exp == 0) {
		if (man == 0) {
			u = sign;
		} else { /* subnormal: normalise */
			int sh = 0;
			while (!(man & 0x400)) {
				man <<= 1;
				sh++;
			}
			man &= 0x3ff;
			u = sign | ((uint32_t)(113 - sh) << 23) | (man << 13);
		}
	} else {
		u = sign | ((exp + 112) << 23) | (man << 13);
	}
	union { uint32_t u; float f; } x = { .u = u };
	return x.f;
}

uint16_t st_f32_to_f16(float f)
{
	union { float f; uint32_t u; } x = { .f = f };
	uint32_t u = x.u, sign = (u >> 16) & 0x8000;
	int32_t exp = (int32_t)((u >> 23) & 0xff);
	uint32_t man = u & 0x7fffff;
	if (exp == 0xff)
		return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
	int32_t e = exp - 127 + 15;
	if (e >= 0x1f)
		return (uint16_t)(sign | 0x7c00);
	if (e <= 0) { /* subnormal or zero, round to nearest even */
		if (e < -10)
			return (uint16_t)sign;
		man |= 0x800000;
		uint32_t shift = (uint32_t)(14 - e);
		uint32_t half = 1u << (shift - 1), rest = man & ((1u << shift) - 1), v = man >> shift;
		if (rest > half || (rest == half && (v & 1)))
			v++;
		return (uint16_t)(sign | v);
	}
	uint32_t v = ((uint32_t)e << 10) | (man >> 13), rest = man & 0x1fff;
	if (rest > 0x1000 || (rest == 0x1000 && (v & 1)))
		v++; /* may carry into the exponent, which is right (up to inf) */
	return (uint16_t)(sign | v);
}

int st_read_f32(const SafeTensors *st, const StTensor *t, float *out, Error *e)
{
	const uint8_t *p = st->data + t->begin;
	uint64_t n = t->numel;
	switch (t->dtype) {
	case ST_F32:
		memcpy(out, p, n * 4);
		return 0;
	case ST_F16:
		for (uint64_t i = 0; i < n; i++)
			out[i] = st_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
		return 0;
	case ST_BF16:
		for (uint64_t i = 0; i < n; i++) {
			union { uint32_t u; float f; } x = { .u = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16 };
			out[i] = x.f;
		}
		return 0;
	case ST_F64:
		for (uint64_t i = 0; i < n; i++) {
			double d;
			memcpy(&d, p + 8 * i, 8);
			out[i] = (float)d;
		}
		return 0;
	default:
		return err_set(e, "%s: tensor '%s' has dtype %s, not a floating-point type", st->name, t->name,
			       st_dtype_name(t->dtype));
	}
}

/* ------------------------------------------------------------------ writing */

int st_write(const char *path, const StWriteTensor *t, int n, const char *const *meta, int n_meta,
	     Error *e)
{
	json_t *root = json_object();
	if (!root)
		return err_set(e, "%s: out of memory", path);
	if (n_meta > 0) {
		json_t *m = json_object();
		for (int i = 0; i < n_meta; i++)
			json_object_set_new(m, meta[2 * i], json_string(meta[2 * i + 1]));
		json_object_set_new(root, "__metadata__", m);
	}
	uint64_t off = 0;
	for (int i = 0; i < n; i++) {
		uint64_t numel = 1;
		json_t *sh = json_array();
		for (int d = 0; d < t[i].ndim; d++) {
			numel *= (uint64_t)t[i].shape[d];
			json_array_append_new(sh, json_integer(t[i].shape[d]));
		}
		uint64_t bytes = numel * st_dtype_size(t[i].dtype);
		json_t *o = json_object();
		json_object_set_new(o, "dtype", json_string(st_dtype_name(t[i].dtype)));
		json_object_set_new(o, "shape", sh);
		json_object_set_new(o, "data_offsets", json_pack("[II]", (json_int_t)off, (json_int_t)(off + bytes)));
		json_object_set_new(root, t[i].name, o);
		off += bytes;
	}
	char *hdr = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!hdr)
		return err_set(e, "%s: out of memory", path);
	size_t hlen = strlen(hdr), padded = (hlen + 7) & ~(size_t)7; /* 8-byte aligned data */
	AtomicFile af;
	if (atomic_open(&af, path, e)) {
		free(hdr);
		return -1;
	}
	uint8_t len8[8];
	for (int i = 0; i < 8; i++)
		len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
	int bad = fwrite(len8, 1, 8, af.fp) != 8 || fwrite(hdr, 1, hlen, af.fp) != hlen;
	for (size_t i = hlen; i < padded && !bad; i++)
		bad = fputc(' ', af.fp) == EOF;
	free(hdr);
	for (int i = 0; i < n && !bad; i++) {
		uint64_t numel = 1;
		for (int d = 0; d < t[i].ndim; d++)
			numel *= (uint64_t)t[i].shape[d];
		size_t bytes = numel * st_dtype_size(t[i].dtype);
		bad = bytes && fwrite(t[i].data, 1, bytes, af.fp) != bytes;
	}
	if (bad) {
		atomic_abort(&af);
		return err_errno(e, "%s: write", path);
	}
	return atomic_commit(&af, e);
}
