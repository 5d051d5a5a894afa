/* The safetensors reader and writer (sample/safetensors.c): a write/parse
 * round trip, fp16 conversions against IEEE rules, and the refusal of every
 * kind of bad header, each with a message naming what is wrong. */
#include "safetensors.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A safetensors image from a header text and n bytes of zero data. */
static uint8_t *image(const char *hdr, size_t ndata, size_t *len)
{
	size_t h = strlen(hdr);
	*len = 8 + h + ndata;
	uint8_t *b = calloc(*len, 1);
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)h >> (8 * i));
	memcpy(b + 8, hdr, h);
	return b;
}

static void refuses(const char *name, const char *hdr, size_t ndata, const char *why)
{
	size_t len;
	uint8_t *b = image(hdr, ndata, &len);
	SafeTensors st;
	Error e = { "" };
	int rc = st_parse(&st, b, len, "x.safetensors", &e);
	char label[160];
	snprintf(label, sizeof label, "refuses %s", name);
	if (rc == 0) {
		st_close(&st);
		printf("not ok %s: parsed\n", label);
		tap_failures++;
	} else if (!strstr(e.msg, why) || strncmp(e.msg, "x.safetensors: ", 15) != 0) {
		printf("not ok %s: message '%s' lacks '%s'\n", label, e.msg, why);
		tap_failures++;
	} else {
		printf("ok %s\n", label);
	}
	free(b);
}

static void test_f16(void)
{
	int exact = 1;
	for (uint32_t h = 0; h < 65536; h++) {
		float f = st_f16_to_f32((uint16_t)h);
		if (isnan(f))
			continue;
		exact &= st_f32_to_f16(f) == h;
	}
	CHECK(exact, "every fp16 value survives fp16 -> fp32 -> fp16");
	CHECK(st_f16_to_f32(0x3c00) == 1.0f && st_f16_to_f32(0xc000) == -2.0f && st_f16_to_f32(0x0001) == ldexpf(1, -24),
	      "fp16 decoding: 1, -2, the smallest subnormal");
	CHECK(st_f32_to_f16(1.0f + ldexpf(1, -11)) == 0x3c00, "fp16 rounds a tie to even (down)");
	CHECK(st_f32_to_f16(1.0f + 3 * ldexpf(1, -11)) == 0x3c02, "fp16 rounds a tie to even (up)");
	CHECK(st_f32_to_f16(65504.0f) == 0x7bff && st_f32_to_f16(65520.0f) == 0x7c00, "fp16 overflow to infinity at 65520");
	CHECK(st_f32_to_f16(ldexpf(1, -25)) == 0 && st_f32_to_f16(3 * ldexpf(1, -26)) == 1, "fp16 subnormal rounding");
	CHECK((st_f32_to_f16(NAN) & 0x7c00) == 0x7c00 && (st_f32_to_f16(NAN) & 0x3ff), "fp16 NaN stays NaN");
}

static void test_round_trip(void)
{
	char path[] = "/tmp/test_safetensors.XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	float a[6] = { 1, 2, 3, 4, 5, 6 };
	uint16_t b[3] = { 0x3c00, 0x4000, 0xc200 }; /* fp16 1, 2, -3 */
	uint16_t c[2] = { 0x3f80, 0xc040 };         /* bf16 1, -3 */
	StWriteTensor t[4] = {
		{ .name = "a.weight", .dtype = ST_F32, .ndim = 2, .shape = { 2, 3 }, .data = a },
		{ .name = "b", .dtype = ST_F16, .ndim = 1, .shape = { 3 }, .data = b },
		{ .name = "c", .dtype = ST_BF16, .ndim = 2, .shape = { 1, 2 }, .data = c },
		{ .name = "empty", .dtype = ST_F32, .ndim = 1, .shape = { 0 }, .data = a },
	};
	const char *meta[] = { "format", "pt" };
	Error e;
	CHECK(st_write(path, t, 4, meta, 1, &e) == 0, "write");
	SafeTensors st;
	if (st_open(&st, path, &e)) {
		printf("not ok open: %s\n", e.msg);
		tap_failures++;
		unlink(path);
		return;
	}
	CHECK(st.n == 4, "four tensors back");
	const StTensor *ta = st_find(&st, "a.weight"), *tb = st_find(&st, "b"), *tc = st_find(&st, "c");
	CHECK(ta && ta->ndim == 2 && ta->shape[0] == 2 && ta->shape[1] == 3 && ta->dtype == ST_F32, "shape and dtype");
	CHECK(((st.data - (const uint8_t *)st.map) % 8) == 0, "data section 8-byte aligned");
	float out[6];
	st_read_f32(&st, ta, out, &e);
	CHECK(memcmp(out, a, sizeof a) == 0, "F32 data");
	st_read_f32(&st, tb, out, &e);
	CHECK(out[0] == 1 && out[1] == 2 && out[2] == -3, "F16 data as fp32");
	st_read_f32(&st, tc, out, &e);
	CHECK(out[0] == 1 && out[1] == -3, "BF16 data as fp32");
	CHECK(st_find(&st, "nope") == NULL, "unknown name not found");
	st_close(&st);
	unlink(path);

	size_t len;
	uint8_t *img = image("{\"i\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, &len);
	Error e2 = { "" };
	if (st_parse(&st, img, len, "x", &e2) == 0) {
		CHECK(st_read_f32(&st, &st.tensors[0], out, &e2) == -1 && strstr(e2.msg, "not a floating-point"),
		      "integer tensors are not read as floats");
		st_close(&st);
	}
	free(img);
}

int main(void)
{
	test_f16();
	test_round_trip();
	uint8_t shortbuf[5] = { 0 };
	SafeTensors st;
	Error e = { "" };
	CHECK(st_parse(&st, shortbuf, 5, "x", &e) == -1 && strstr(e.msg, "too short"), "refuses a file under 8 bytes");
	uint8_t hl[16] = { 200, 0, 0, 0, 0, 0, 0, 0, '{', '}' };
	CHECK(st_parse(&st, hl, 16, "x", &e) == -1 && strstr(e.msg, "runs past the end"), "refuses a header longer than the file");
	uint8_t huge[16] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	CHECK(st_parse(&st, huge, 16, "x", &e) == -1 && strstr(e.msg, "over the limit"), "refuses a huge header length");

	refuses("a JSON array", "[1, 2]", 0, "not a JSON object");
	refuses("bad JSON", "{\"a\": ", 0, "header JSON at offset");
	refuses("duplicate names", "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
				   "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]}}", 8, "header JSON");
	refuses("an unknown dtype", "{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype 'F33'");
	refuses("a missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "no dtype");
	refuses("a negative dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "bad dimension 0");
	refuses("a fractional dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "bad dimension");
	refuses("nine dimensions", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
		"at most 8 dimensions");
	refuses("offsets out of order", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "out of order");
	refuses("three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "no data_offsets");
	refuses("offsets past the end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "past its end (4 bytes)");
	refuses("a size that disagrees with the shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
		"holds 8 bytes, but F32 of that shape needs 12");
	refuses("overlapping tensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
				       "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlap at byte 4");
	refuses("an overflowing shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
		"too large");
	refuses("non-string metadata", "{\"__metadata__\":{\"n\":1}}", 0, "__metadata__");
	refuses("a tensor that is not an object", "{\"a\":[1]}", 0, "not a JSON object");
	return test_done();
}
