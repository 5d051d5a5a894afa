/* tok-decode: token stream in, text out (tok-decode(1)).  It writes each
 * token's bytes as soon as they are complete UTF-8, so a generator piped
 * into it shows text as it is made. */
#include "err.h"
#include "io.h"
#include "opts.h"
#include "stream.h"
#include "tok.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: tok-decode [-e ENCODING | -t FILE] [--format binary|text] [FILE...]\n"
	"Decode token streams (tok-stream(5); the FILEs, or stdin) into text on stdout.\n"
	"  -e, --encoding NAME     a built-in encoding (default: the stream header's)\n"
	"  -t, --tokenizer FILE    a tok-file(5), .tiktoken or GPT-2 encoder.json\n"
	"      --format F          binary (default) or text (decimal ids)\n"
	"  -h, --help              this help;  --version  the version\n";

enum { OPT_FORMAT = 256, OPT_VERSION };

/* Tokens decoded at a time: their ids (64 KB) and text (up to 16 bytes a
 * token) stay in the L2 cache beside the hot part of the decode table;
 * 65536 at a time was 5-10% slower. */
#define CHUNK 16384

typedef struct {
	Tokenizer *tok;
	const char *spec;     /* -e / -t, or NULL: from the first stream header */
	uint8_t *buf;
	size_t len, cap;      /* decoded bytes not yet written (a partial character) */
} Dec;

/* Bytes of buf[0..len) that end on a character boundary: an unfinished
 * UTF-8 sequence at the end waits for the next token. */
static size_t complete_prefix(const uint8_t *s, size_t len)
{
	for (size_t back = 1; back <= 4 && back <= len; back++) {
		uint8_t b = s[len - back];
		if ((b & 0xC0) == 0x80)
			continue; /* continuation byte: look further back */
		size_t need = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 1;
		return need > back ? len - back : len;
	}
	return len;
}

static int put(Dec *d, int final, Error *e)
{
	size_t n = final ? d->len : complete_prefix(d->buf, d->len);
	if (n && io_write_full(1, d->buf, n, e, "<stdout>"))
		return -1;
	if (d->len > n)
		memmove(d->buf, d->buf + n, d->len - n);
	d->len -= n;
	return 0;
}

static int open_tok(Dec *d, const char *from_header, uint32_t n_vocab, const char *name, Error *e)
{
	if (d->tok)
		return 0;
	const char *spec = d->spec;
	if (!spec) {
		if (from_header && *from_header)
			spec = from_header;
		else if (n_vocab == 0 || n_vocab == 50257)
			spec = "gpt2"; /* llm.c shards */
		else
			return err_set(e, "%s: the stream names no encoding; name one with -e or -t", name);
		int builtin = 0;
		for (const char *const *b = tok_builtin_names; *b; b++)
			builtin |= strcmp(*b, spec) == 0;
		if (!builtin)
			return err_set(e, "%s: the stream's encoding '%s' is not built in; name its tokenizer file with -t",
				       name, spec);
	}
	d->tok = tok_open(spec, e);
	return d->tok ? 0 : -1;
}

static int decode_binary(Dec *d, const char *path, Error *e)
{
	TokenReader r;
	if (stream_open(&r, path, e))
		return -1;
	const char *name = io_display_name(path);
	int rc = -1;
	uint32_t *ids = malloc(CHUNK * sizeof *ids);
	if (!ids) {
		err_set(e, "out of memory");
		goto out;
	}
	if (open_tok(d, r.info.encoding, r.info.n_vocab, name, e))
		goto out;
	if (r.info.n_vocab && r.info.n_vocab != tok_n_vocab(d->tok)) {
		err_set(e, "%s: the stream's vocabulary (%u tokens) is not %s's (%u)", name, r.info.n_vocab,
			tok_name(d->tok), tok_n_vocab(d->tok));
		goto out;
	}
	stream_set_limit(&r, tok_n_vocab(d->tok), tok_name(d->tok));
	r.live = 1;
	for (;;) {
		long long n = stream_read(&r, ids, CHUNK, e);
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		size_t bad;
		if (tok_decode(d->tok, ids, (size_t)n, &d->buf, &d->len, &d->cap, &bad, e)) {
			uint64_t off = r.base + r.pos - (uint64_t)(n - (long long)bad) * r.info.width;
			err_set(e, "%s: token %u at offset %llu names no token in %s", name, ids[bad],
				(unsigned long long)off, tok_name(d->tok));
			goto out;
		}
		if (put(d, 0, e))
			goto out;
	}
	rc = 0;
out:
	free(ids);
	stream_close(&r);
	return rc;
}

/* --format text: decimal ids separated by white space. */
static int decode_text(Dec *d, const char *path, Error *e)
{
	const char *name = io_display_name(path);
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, "%s", path);
	int rc = -1;
	if (open_tok(d, NULL, 0, name, e))
		goto out;
	uint8_t in[65536];
	uint32_t ids[65536];
	uint64_t off = 0, num_off = 0, v = 0;
	int in_num = 0;
	const uint32_t nv = tok_n_vocab(d->tok);
	for (;;) {
		ssize_t got = read(fd, in, sizeof in);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err_errno(e, "%s: read", name);
			goto out;
		}
		size_t n = 0;
		for (ssize_t i = 0; i <= got; i++, off++) {
			int c = i < got ? in[i] : (got == 0 ? ' ' : -1);
			if (c == -1)
				break;
			if (c >= '0' && c <= '9') {
				if (!in_num)
					num_off = off, v = 0, in_num = 1;
				v = v * 10 + (uint64_t)(c - '0');
				if (v > UINT32_MAX)
					v = UINT32_MAX;
			} else if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == ',') {
				if (in_num) {
					if (v >= nv) {
						err_set(e, "%s: token %llu at offset %llu is outside the %s vocabulary (%u)",
							name, (unsigned long long)v, (unsigned long long)num_off,
							tok_name(d->tok), nv);
						goto out;
					}
					ids[n++] = (uint32_t)v;
					in_num = 0;
				}
			} else {
				err_set(e, "%s: offset %llu: expected a decimal token id", name, (unsigned long long)off);
				goto out;
			}
		}
		size_t bad;
		if (tok_decode(d->tok, ids, n, &d->buf, &d->len, &d->cap, &bad, e)) {
			err_set(e, "%s: token %u names no token in %s", name, ids[bad], tok_name(d->tok));
			goto out;
		}
		if (put(d, 0, e))
			goto out;
		if (got == 0)
			break;
	}
	rc = 0;
out:
	if (fd > 0)
		close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"encoding", required_argument, 0, 'e'}, {"tokenizer", required_argument, 0, 't'},
		{"format", required_argument, 0, OPT_FORMAT}, {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, OPT_VERSION}, {0, 0, 0, 0}};
	static const char *const formats[] = {"binary", "text", NULL};
	Dec d = {0};
	const char *enc = NULL, *tfile = NULL;
	int text = 0, o;
	while ((o = opt_getopt(argc, argv, "e:t:h", longopts, NULL)) != -1) {
		switch (o) {
		case 'e': enc = optarg; break;
		case 't': tfile = optarg; break;
		case OPT_FORMAT: text = opt_choice(optarg, "--format", formats); break;
		case 'h': opt_help(usage);
		case OPT_VERSION: opt_version();
		default: usage_error("unknown option");
		}
	}
	if (enc && tfile)
		usage_error("-e and -t exclude each other");
	d.spec = tfile ? tfile : enc;
	Error e;
	if (text && !d.spec)
		d.spec = "gpt2";
	int nfiles = argc - optind;
	for (int i = optind; i < argc || (nfiles == 0 && i == optind); i++) {
		const char *path = nfiles ? argv[i] : "-";
		if ((text ? decode_text(&d, path, &e) : decode_binary(&d, path, &e)) || put(&d, 1, &e)) {
			put(&d, 1, &e);
			die_err(&e);
		}
	}
	tok_free(d.tok);
	free(d.buf);
	return 0;
}
