/* Unit tests of the token stream format (lib/stream.c). */
#include "stream.h"
#include "tap.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/gptkit-stream.XXXXXX";

static void write_stream(const char *path, uint32_t nv, const uint32_t *t, size_t n, int append)
{
	int fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
	TokenWriter w;
	Error e;
	stream_writer_open(&w, fd, path, nv, nv ? (int32_t)nv - 1 : -1, "test", &e);
	stream_write(&w, t, n, &e);
	stream_writer_close(&w, &e);
	close(fd);
}

static int read_ok(const char *path, uint32_t *out, size_t *n, Error *e)
{
	uint32_t *t;
	StreamInfo si;
	if (stream_read_all(path, &t, n, &si, e))
		return -1;
	memcpy(out, t, *n * sizeof *t);
	free(t);
	return 0;
}

int main(void)
{
	char p[256], q[256];
	uint32_t toks[] = {0, 1, 50256, 65535, 300, 7};
	uint32_t out[64];
	size_t n;
	Error e;
	if (!mkdtemp(dir))
		return 1;

	snprintf(p, sizeof p, "%s/a.tok", dir);
	write_stream(p, 65536, toks, 6, 0);
	CHECK(read_ok(p, out, &n, &e) == 0 && n == 6 && memcmp(out, toks, sizeof toks) == 0, "roundtrip_u16");

	uint8_t hdr[1024];
	int fd = open(p, O_RDONLY);
	read(fd, hdr, 1024);
	close(fd);
	StreamInfo si;
	CHECK(stream_parse_header(hdr, &si, p, 0, &e) == 0 && si.ntok == 6 && si.width == 2 &&
	      si.n_vocab == 65536 && si.eot == 65535 && strcmp(si.encoding, "test") == 0, "header_fields");

	uint32_t big[] = {0, 100276, 200018};
	snprintf(q, sizeof q, "%s/b.tok", dir);
	write_stream(q, 200019, big, 3, 0);
	CHECK(read_ok(q, out, &n, &e) == 0 && n == 3 && out[1] == 100276 && out[2] == 200018, "roundtrip_u32");

	/* concatenated with known counts (appended: ntok left 0 in the second) */
	write_stream(p, 65536, toks, 6, 1);
	CHECK(read_ok(p, out, &n, &e) == 0 && n == 12 && out[6] == 0 && out[8] == 50256, "concatenated");

	/* concatenation with an unknown count in front: zero out ntok of the first */
	fd = open(p, O_WRONLY);
	uint32_t zero = 0;
	pwrite(fd, &zero, 4, 8);
	close(fd);
	CHECK(read_ok(p, out, &n, &e) == 0 && n == 12 && out[11] == 7, "concatenated_unknown_count");

	/* another vocabulary concatenated */
	snprintf(q, sizeof q, "%s/c.tok", dir);
	write_stream(q, 50257, toks, 3, 0);
	write_stream(q, 60000, toks, 3, 1);
	CHECK(read_ok(q, out, &n, &e) == -1 && strstr(e.msg, "another vocabulary"), "vocab_mismatch");

	/* a token outside the vocabulary: offset 1024 + 2*2 */
	write_stream(q, 65536, toks, 6, 0);
	fd = open(q, O_WRONLY);
	uint8_t bad[2] = {0x51, 0xc8}; /* 51281 */
	pwrite(fd, bad, 2, 1028);
	uint32_t nv = 50257;
	pwrite(fd, &nv, 4, 12);
	int32_t eot = 50256;
	pwrite(fd, &eot, 4, 16);
	close(fd);
	CHECK(read_ok(q, out, &n, &e) == -1 && strstr(e.msg, "token 51281 at offset 1028"), "token_out_of_range");

	/* truncated token */
	write_stream(q, 65536, toks, 6, 0);
	truncate(q, 1024 + 5);
	CHECK(read_ok(q, out, &n, &e) == -1 && strstr(e.msg, "offset"), "truncated");

	/* bad magic */
	fd = open(q, O_WRONLY | O_TRUNC);
	write(fd, "hello world, this is not a stream", 33);
	close(fd);
	CHECK(read_ok(q, out, &n, &e) == -1 && strstr(e.msg, "not a token stream"), "bad_magic");

	/* empty */
	fd = open(q, O_WRONLY | O_TRUNC);
	close(fd);
	CHECK(read_ok(q, out, &n, &e) == -1 && strstr(e.msg, "empty"), "empty");

	/* an llm.c shard: only magic, version, ntok */
	memset(hdr, 0, sizeof hdr);
	uint32_t h3[3] = {20240520, 1, 2};
	memcpy(hdr, h3, sizeof h3);
	fd = open(q, O_WRONLY | O_TRUNC);
	write(fd, hdr, 1024);
	uint16_t body[2] = {50256, 40};
	write(fd, body, 4);
	close(fd);
	CHECK(read_ok(q, out, &n, &e) == 0 && n == 2 && out[0] == 50256, "llmc_shard");

	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	system(cmd);
	return test_done();
}
