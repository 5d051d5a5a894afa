/* The token stream format of tok-stream(5), compatible with llm.c's data
 * shards: a 1024-byte header of 256 little-endian int32, then uint16 or
 * uint32 tokens.  The reader follows streams concatenated with cat(1),
 * checks every token against the vocabulary and names the byte offset of
 * anything wrong; the writer fills in the token count when it can seek. */
#ifndef GPTKIT_STREAM_H
#define GPTKIT_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define STREAM_MAGIC16 20240520   /* tokens are uint16, version 1 */
#define STREAM_MAGIC32 20240801   /* tokens are uint32, version 7 */
#define STREAM_VERSION16 1
#define STREAM_VERSION32 7
#define STREAM_HEADER_BYTES 1024
#define STREAM_NAME_BYTES 32

typedef struct {
	int width;           /* bytes per token: 2 or 4 */
	uint64_t ntok;       /* token count from the header; 0 = unknown */
	uint32_t n_vocab;    /* 0 = unknown (llm.c shards) */
	int32_t eot;         /* end-of-text id; -1 = none or unknown */
	char encoding[STREAM_NAME_BYTES + 1]; /* "" = unknown */
} StreamInfo;

/* Parse and validate a header; 0 if valid, -1 with a reason otherwise. */
int stream_parse_header(const uint8_t hdr[STREAM_HEADER_BYTES], StreamInfo *info,
			const char *name, uint64_t offset, Error *e);
/* Build a header for the given vocabulary (width follows n_vocab). */
void stream_make_header(uint8_t hdr[STREAM_HEADER_BYTES], uint32_t n_vocab, int32_t eot,
			const char *encoding, uint64_t ntok);
/* Token width a writer uses for a vocabulary: 2 if n_vocab <= 65536. */
int stream_width_for(uint32_t n_vocab);

typedef struct {
	int fd, own_fd;
	char *name;          /* for messages */
	StreamInfo info;     /* header of the first stream */
	uint32_t limit;      /* tokens must be < limit (0 = no check) */
	char limit_label[48];
	uint64_t remaining;  /* tokens left in this segment; UINT64_MAX = unknown */
	uint64_t base;       /* input offset of buf[0] */
	uint64_t tokens;     /* tokens returned so far */
	uint8_t *buf;
	size_t len, pos, cap;
	int eof;
	void *map;           /* a regular file mapped whole (buf points into it) */
	size_t map_len;
	int live;            /* set by the caller: stream_read returns the tokens
			      * at hand instead of waiting to fill max (for
			      * pipes that show tokens as they come) */
} TokenReader;

/* Open path ("-" or NULL = stdin) and read its first header. */
int stream_open(TokenReader *r, const char *path, Error *e);
/* Same, on an already open descriptor (not closed by stream_close). */
int stream_open_fd(TokenReader *r, int fd, const char *name, Error *e);
/* Check tokens against a vocabulary of n tokens (e.g. the decoder's) in
 * addition to the header's n_vocab; label names it in errors. */
void stream_set_limit(TokenReader *r, uint32_t n, const char *label);
/* Read up to max tokens; returns the number read, 0 at the end, -1 on error. */
long long stream_read(TokenReader *r, uint32_t *out, size_t max, Error *e);
void stream_close(TokenReader *r);

/* Read a whole stream into a malloc'd array. */
int stream_read_all(const char *path, uint32_t **tokens, size_t *n, StreamInfo *info, Error *e);

typedef struct {
	int fd;
	char *name;
	int width;
	uint32_t n_vocab;
	uint64_t count;
	int64_t header_pos;  /* where to patch ntok; -1 if not seekable */
	uint8_t *buf;
	size_t len, cap;
} TokenWriter;

/* Refuse to write binary to a terminal unless forced (like gzip). */
int stream_check_terminal(int fd, int force, Error *e);
/* Start a stream on fd; writes the header at once. */
int stream_writer_open(TokenWriter *w, int fd, const char *name, uint32_t n_vocab,
		       int32_t eot, const char *encoding, Error *e);
int stream_write(TokenWriter *w, const uint32_t *tokens, size_t n, Error *e);
/* Push buffered tokens to the descriptor (token-by-token output). */
int stream_flush(TokenWriter *w, Error *e);
/* Flush and, if the output is a regular file, fill in ntok. */
int stream_writer_close(TokenWriter *w, Error *e);

#endif
