
#include "stream.h"
#include "io.h"
#include "mapguard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK (1u << 20)

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

int stream_width_for(uint32_t n_vocab)
{
	return n_vocab <= 65536 ? 2 : 4;
}

int stream_parse_header(const uint8_t hdr[STREAM_HEADER_BYTES], StreamInfo *info,
			const char *name, uint64_t offset, Error *e)
{
	uint32_t magic = rd32(hdr), version = rd32(hdr + 4);
	memset(info, 0, sizeof *info);
	if (magic == STREAM_MAGIC16 && version == STREAM_VERSION16)
		info->width = 2;
	else if (magic == STREAM_MAGIC32 && version == STREAM_VERSION32)
		info->width = 4;
	else if (magic == STREAM_MAGIC16 || magic == STREAM_MAGIC32)
		return err_set(e, "%s: offset %llu: unsupported token stream version %u",
			       name, (unsigned long long)offset, version);
	else
		return err_set(e, "%s: offset %llu: not a token stream (bad magic %u)",
			       name, (unsigned long long)offset, magic);
	int32_t ntok = (int32_t)rd32(hdr + 8), nv = (int32_t)rd32(hdr + 12), eot = (int32_t)rd32(hdr + 16);
	if (ntok < 0 || nv < 0)
		return err_set(e, "%s: offset %llu: corrupt token stream header (negative count)",
			       name, (unsigned long long)offset);
	if (info->width == 2 && nv > 65536)
		return err_set(e, "%s: offset %llu: header says n_vocab %d, too large for 16-bit tokens",
			       name, (unsigned long long)offset, nv);
	const uint8_t *enc = hdr + 20;
	int ended = 0;
	for (int i = 0; i < STREAM_NAME_BYTES; i++) {
		if (enc[i] == 0)
			ended = 1;
		else if (ended || enc[i] < 0x21 || enc[i] > 0x7e)
			return err_set(e, "%s: offset %llu: corrupt token stream header (encoding name)",
				       name, (unsigned long long)offset);
	}
	for (int i = 13; i < 256; i++)
		if (rd32(hdr + 4 * i) != 0)
			return err_set(e, "%s: offset %llu: corrupt token stream header (word %d is not zero)",
				       name, (unsigned long long)offset, i);
	info->ntok = (uint64_t)ntok;
	info->n_vocab = (uint32_t)nv;
	/* llm.c shards leave words 3.. zero: with no vocabulary, word 4 means nothing */
	info->eot = nv == 0 ? -1 : eot;
	if (info->eot < -1 || (nv && info->eot >= nv))
		return err_set(e, "%s: offset %llu: corrupt token stream header (eot %d, n_vocab %d)",
			       name, (unsigned long long)offset, eot, nv);
	memcpy(info->encoding, enc, STREAM_NAME_BYTES);
	info->encoding[STREAM_NAME_BYTES] = 0;
	return 0;
}

void stream_make_header(uint8_t hdr[STREAM_HEADER_BYTES], uint32_t n_vocab, int32_t eot,
			const char *encoding, uint64_t ntok)
{
	memset(hdr, 0, STREAM_HEADER_BYTES);
	int w = stream_width_for(n_vocab);
	wr32(hdr, w == 2 ? STREAM_MAGIC16 : STREAM_MAGIC32);
	wr32(hdr + 4, w == 2 ? STREAM_VERSION16 : STREAM_VERSION32);
	wr32(hdr + 8, ntok <= INT32_MAX ? (uint32_t)ntok : 0);
	wr32(hdr + 12, n_vocab);
	wr32(hdr + 16, (uint32_t)eot);
	if (encoding)
		strncpy((char *)hdr + 20, encoding, STREAM_NAME_BYTES);
}

/* ---- reader ---- */

/* Make at least `need` bytes available after pos, unless the input ends. */
static int fill(TokenReader *r, size_t need, Error *e)
{
	if (r->len - r->pos >= need || r->eof)
		return 0;
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->base += r->pos;
		r->len -= r->pos;
		r->pos = 0;
	}
	while (r->len < need && !r->eof) {
		if (r->cap - r->len < READ_CHUNK / 2) {
			size_t ncap = r->cap ? r->cap * 2 : READ_CHUNK + STREAM_HEADER_BYTES;
			uint8_t *nb = realloc(r->buf, ncap);
			if (!nb)
				return err_set(e, "%s: out of memory", r->name);
			r->buf = nb;
			r->cap = ncap;
		}
		ssize_t got = read(r->fd, r->buf + r->len, r->cap - r->len);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return err_errno(e, "%s: read", r->name);
		}
		if (got == 0)
			r->eof = 1;
		r->len += (size_t)got;
	}
	return 0;
}

static int start_segment(TokenReader *r, int first, Error *e)
{
	uint64_t off = r->base + r->pos;
	if (fill(r, STREAM_HEADER_BYTES, e))
		return -1;
	size_t avail = r->len - r->pos;
	if (avail < STREAM_HEADER_BYTES) {
		if (first && avail == 0)
			return err_set(e, "%s: empty input, not a token stream", r->name);
		if (avail >= 4 && rd32(r->buf + r->pos) != STREAM_MAGIC16 && rd32(r->buf + r->pos) != STREAM_MAGIC32)
			return err_set(e, "%s: offset %llu: not a token stream (bad magic %u)", r->name,
				       (unsigned long long)off, rd32(r->buf + r->pos));
		return err_set(e, "%s: offset %llu: truncated token stream header (%zu of %d bytes)",
			       r->name, (unsigned long long)off, avail, STREAM_HEADER_BYTES);
	}
	StreamInfo si;
	if (stream_parse_header(r->buf + r->pos, &si, r->name, off, e))
		return -1;
	if (first) {
		r->info = si;
	} else {
		if (si.width != r->info.width)
			return err_set(e, "%s: offset %llu: concatenated stream has %d-bit tokens, the first had %d-bit",
				       r->name, (unsigned long long)off, si.width * 8, r->info.width * 8);
		if (si.n_vocab != r->info.n_vocab && si.n_vocab && r->info.n_vocab)
			return err_set(e, "%s: offset %llu: concatenated stream of another vocabulary (n_vocab %u, the first had %u)",
				       r->name, (unsigned long long)off, si.n_vocab, r->info.n_vocab);
	}
	r->pos += STREAM_HEADER_BYTES;
	r->remaining = si.ntok ? si.ntok : UINT64_MAX;
	return 0;
}

/* A regular file of 1 MB or more is mapped rather than read: its tokens
 * are then converted straight from the page cache, without read()'s copy
 * (a fifth of tok-decode's time on 4-byte tokens).  It is taken at its
 * size when opened (what is appended later is not seen), and the fd is
 * left at the end, as reading to the end would leave it.  Smaller files,
 * pipes and failures to map are read as before. */
static void try_map(TokenReader *r)
{
	struct stat st;
	if (fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)READ_CHUNK)
		return;
	off_t at = lseek(r->fd, 0, SEEK_CUR);
	if (at < 0 || at >= st.st_size)
		return;
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, r->fd, 0);
	if (m == MAP_FAILED)
		return;
	madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
	if (lseek(r->fd, st.st_size, SEEK_SET) < 0) {
		munmap(m, (size_t)st.st_size);
		return;
	}
	r->map = m;
	r->map_len = (size_t)st.st_size;
	mapguard_add(m, r->map_len, r->name);
	r->buf = (uint8_t *)m + at;
	r->len = (size_t)(st.st_size - at);
	r->eof = 1;
}

int stream_open_fd(TokenReader *r, int fd, const char *name, Error *e)
{
	memset(r, 0, sizeof *r);
	r->fd = fd;
	r->name = strdup(name);
	if (!r->name)
		return err_set(e, "out of memory");
	try_map(r);
	if (start_segment(r, 1, e)) {
		stream_close(r);
		return -1;
	}
	return 0;
}

int stream_open(TokenReader *r, const char *path, Error *e)
{
	const char *name = io_display_name(path);
	if (!path || strcmp(path, "-") == 0)
		return stream_open_fd(r, 0, name, e);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, "%s", path);
	if (stream_open_fd(r, fd, name, e)) {
		close(fd);
		return -1;
	}
	r->own_fd = 1;
	return 0;
}

void stream_set_limit(TokenReader *r, uint32_t n, const char *label)
{
	r->limit = n;
	snprintf(r->limit_label, sizeof r->limit_label, "%s", label ? label : "");
}

static int bad_token(TokenReader *r, uint32_t v, uint64_t off, Error *e)
{
	uint32_t nv = r->info.n_vocab;
	if (nv && v >= nv)
		return err_set(e, "%s: token %u at offset %llu is outside the %s vocabulary (%u)", r->name, v,
			       (unsigned long long)off, r->info.encoding[0] ? r->info.encoding : "stream's", nv);
	return err_set(e, "%s: token %u at offset %llu is outside the %s vocabulary (%u)", r->name, v,
		       (unsigned long long)off, r->limit_label[0] ? r->limit_label : "decoder's", r->limit);
}

static int looks_like_header(const TokenReader *r, size_t p)
{
	if (r->len - p < STREAM_HEADER_BYTES)
		return 0;
	uint32_t m = rd32(r->buf + p);
	if (m != STREAM_MAGIC16 && m != STREAM_MAGIC32)
		return 0;
	StreamInfo si;
	return stream_parse_header(r->buf + p, &si, "", 0, NULL) == 0;
}

/* Could the token at p be the magic of a concatenated stream's header? */
static int live_maybe_header(const TokenReader *r, size_t p)
{
	if (r->len - p < (size_t)r->info.width)
		return 0;
	if (r->info.width == 2)
		return ((uint32_t)r->buf[p] | (uint32_t)r->buf[p + 1] << 8) == (STREAM_MAGIC16 & 0xffff);
	uint32_t v = rd32(r->buf + p);
	return v == STREAM_MAGIC16 || v == STREAM_MAGIC32;
}

long long stream_read(TokenReader *r, uint32_t *out, size_t max, Error *e)
{
	size_t n = 0;
	const int w = r->info.width;
	uint32_t lim = r->info.n_vocab;
	if (r->limit && (!lim || r->limit < lim))
		lim = r->limit;
	while (n < max) {
		/* live: hand over what we have rather than wait for more */
		if (r->live && n > 0 && r->len - r->pos < (size_t)w && !r->eof)
			break;
		if (r->remaining == 0) {
			if (fill(r, 1, e))
				return -1;
			if (r->len == r->pos)
				break;
			if (start_segment(r, 0, e))
				return -1;
			continue;
		}
		int unknown = r->remaining == UINT64_MAX;
		/* in a stream of unknown length, keep a header's worth of lookahead
		 * (live: only behind a token that could start a header) */
		size_t need = unknown ? STREAM_HEADER_BYTES : (size_t)w;
		if (r->live && unknown)
			need = live_maybe_header(r, r->pos) ? STREAM_HEADER_BYTES : (size_t)w;
		if (r->live && n > 0 && r->len - r->pos < need && !r->eof)
			break;
		if (fill(r, need, e))
			return -1;
		size_t avail = r->len - r->pos;
		if (avail == 0) {
			if (!unknown)
				return err_set(e, "%s: offset %llu: truncated token stream: header promised %llu more tokens",
					       r->name, (unsigned long long)(r->base + r->pos),
					       (unsigned long long)r->remaining);
			break;
		}
		if (avail < (size_t)w)
			return err_set(e, "%s: offset %llu: truncated token (%zu of %d bytes)", r->name,
				       (unsigned long long)(r->base + r->pos), avail, w);
		size_t k = avail / w;
		if (k > max - n)
			k = max - n;
		if (!unknown && k > r->remaining)
			k = (size_t)r->remaining;
		if (unknown && !r->eof && r->live) {
			/* up to the first token that could start a header but lacks
			 * the bytes to tell */
			size_t j = 0;
			while (j < k && !(live_maybe_header(r, r->pos + j * w) &&
					  r->len - (r->pos + j * w) < STREAM_HEADER_BYTES))
				j++;
			k = j;
			if (k == 0) {
				if (fill(r, STREAM_HEADER_BYTES, e))
					return -1;
				continue;
			}
		} else if (unknown && !r->eof) {
			/* only tokens with a full header's worth of bytes behind them */
			size_t safe = (avail - STREAM_HEADER_BYTES) / w + 1;
			if (k > safe)
				k = safe;
		}
		if (!unknown) {
			/* a segment of known length holds no header: a loop the
			 * compiler vectorises, checking the vocabulary once per block */
			const uint8_t *src = r->buf + r->pos;
			uint32_t *dst = out + n, maxv = 0;
			if (w == 2) {
				for (size_t j = 0; j < k; j++) {
					uint32_t v = (uint32_t)src[2 * j] | (uint32_t)src[2 * j + 1] << 8;
					dst[j] = v;
					maxv = v > maxv ? v : maxv;
				}
			} else {
				for (size_t j = 0; j < k; j++) {
					uint32_t v = rd32(src + 4 * j);
					dst[j] = v;
					maxv = v > maxv ? v : maxv;
				}
			}
			if (lim && maxv >= lim) {
				size_t j = 0;
				while (dst[j] < lim)
					j++;
				r->pos += j * w;
				return bad_token(r, dst[j], r->base + r->pos, e);
			}
			r->pos += k * w;
			n += k;
			r->tokens += k;
			r->remaining -= k;
			continue;
		}
		size_t p = r->pos, i;
		for (i = 0; i < k; i++, p += w) {
			uint32_t v;
			if (w == 2) {
				v = (uint32_t)r->buf[p] | (uint32_t)r->buf[p + 1] << 8;
				if (unknown && v == (STREAM_MAGIC16 & 0xffff) && looks_like_header(r, p))
					break;
			} else {
				v = rd32(r->buf + p);
				if (unknown && (v == STREAM_MAGIC16 || v == STREAM_MAGIC32) && looks_like_header(r, p))
					break;
			}
			if (lim && v >= lim) {
				r->pos = p;
				return bad_token(r, v, r->base + p, e);
			}
			out[n + i] = v;
		}
		r->pos = p;
		n += i;
		r->tokens += i;
		if (!unknown)
			r->remaining -= i;
		if (i < k) { /* stopped at a header: next segment */
			if (start_segment(r, 0, e))
				return -1;
		}
	}
	return (long long)n;
}

void stream_close(TokenReader *r)
{
	if (r->own_fd)
		close(r->fd);
	if (r->map) {
		mapguard_remove(r->map);
		munmap(r->map, r->map_len);
	} else {
		free(r->buf);
	}
	free(r->name);
	memset(r, 0, sizeof *r);
}

int stream_read_all(const char *path, uint32_t **tokens, size_t *n, StreamInfo *info, Error *e)
{
	TokenReader r;
	if (stream_open(&r, path, e))
		return -1;
	size_t cap = r.info.ntok ? r.info.ntok : (1 << 16), len = 0;
	uint32_t *t = malloc(cap * sizeof *t);
	if (!t) {
		stream_close(&r);
		return err_set(e, "%s: out of memory", io_display_name(path));
	}
	for (;;) {
		if (len == cap) {
			cap *= 2;
			uint32_t *nt = realloc(t, cap * sizeof *t);
			if (!nt) {
				free(t);
				stream_close(&r);
				return err_set(e, "%s: out of memory", io_display_name(path));
			}
			t = nt;
		}
		long long got = stream_read(&r, t + len, cap - len, e);
		if (got < 0) {
			free(t);
			stream_close(&r);
			return -1;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (info)
		*info = r.info;
	stream_close(&r);
	*tokens = t;
	*n = len;
	return 0;
}

/* ---- writer ---- */

int stream_check_terminal(int fd, int force, Error *e)
{
	if (!force && isatty(fd))
		return err_set(e, "refusing to write binary tokens to a terminal (use -f to force, or --format text)");
	return 0;
}

int stream_writer_open(TokenWriter *w, int fd, const char *name, uint32_t n_vocab,
		       int32_t eot, const char *encoding, Error *e)
{
	memset(w, 0, sizeof *w);
	w->fd = fd;
	w->name = strdup(name);
	w->width = stream_width_for(n_vocab);
	w->n_vocab = n_vocab;
	w->cap = 1 << 16;
	w->buf = malloc(w->cap);
	if (!w->name || !w->buf) {
		free(w->name);
		free(w->buf);
		return err_set(e, "out of memory");
	}
	struct stat st;
	w->header_pos = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		off_t at = lseek(fd, 0, SEEK_CUR);
		int fl = fcntl(fd, F_GETFL);
		/* with O_APPEND (>>) a pwrite would append, not patch */
		if (at >= 0 && fl >= 0 && !(fl & O_APPEND))
			w->header_pos = at;
	}
	uint8_t hdr[STREAM_HEADER_BYTES];
	stream_make_header(hdr, n_vocab, eot, encoding, 0);
	return io_write_full(fd, hdr, sizeof hdr, e, w->name);
}

int stream_flush(TokenWriter *w, Error *e)
{
	if (w->len && io_write_full(w->fd, w->buf, w->len, e, w->name))
		return -1;
	w->len = 0;
	return 0;
}

int stream_write(TokenWriter *w, const uint32_t *tokens, size_t n, Error *e)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t v = tokens[i];
		if (w->n_vocab && v >= w->n_vocab)
			return err_set(e, "%s: token %u is outside the vocabulary (%u)", w->name, v, w->n_vocab);
		if (w->len + 4 > w->cap && stream_flush(w, e))
			return -1;
		uint8_t *p = w->buf + w->len;
		p[0] = v;
		p[1] = v >> 8;
		if (w->width == 4) {
			p[2] = v >> 16;
			p[3] = v >> 24;
		}
		w->len += w->width;
	}
	w->count += n;
	return 0;
}

int stream_writer_close(TokenWriter *w, Error *e)
{
	int rc = stream_flush(w, e);
	if (rc == 0 && w->header_pos >= 0 && w->count <= INT32_MAX) {
		uint8_t c[4];
		wr32(c, (uint32_t)w->count);
		if (pwrite(w->fd, c, 4, w->header_pos + 8) != 4)
			rc = err_errno(e, "%s: write", w->name);
	}
	free(w->buf);
	free(w->name);
	w->buf = NULL;
	w->name = NULL;
	return rc;
}
