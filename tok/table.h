/* The vocabulary table: one flat, position-independent block of memory that
 * holds everything an encoding needs (token bytes by id, a prebuilt hash
 * table from byte string to rank, the byte tokens, the special tokens).
 * Built-in encodings are such blocks, made at build time by tok/gen_table.c
 * and embedded in the programs, so opening one parses nothing. */
#ifndef GPTKIT_TOK_TABLE_H
#define GPTKIT_TOK_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define TABLE_MAGIC 0x424b4f54u /* "TOKB" */
#define TABLE_VERSION 4
#define TABLE_PAD 16 /* readable bytes after the token bytes (decoder copies 16 at a time) */

typedef struct {
	uint32_t magic, version;
	uint32_t n_vocab;   /* ids 0..n_vocab-1 (ordinary, special, or gaps) */
	uint32_t n_ranks;   /* ordinary (mergeable) tokens */
	uint32_t nslots;    /* hash slots */
	uint32_t max_len;   /* longest ordinary token */
	uint32_t pretok;    /* PretokKind */
	int32_t eot;        /* <|endoftext|> id or -1 */
	uint32_t n_special;
	uint32_t bytes_len;
	uint64_t size;      /* the whole block */
	char name[40];      /* NUL-terminated, <= 32 chars */
	uint32_t byte_id[256];
	/* then: uint32 special_ids[n_special], padded to 8 bytes;
	 *       uint32 off[n_vocab + 1], padded to 8 (token id's bytes are
	 *       bytes[off[id] .. off[id+1]); empty = gap);
	 *       uint8 dec[n_vocab][16], 16-aligned: a token of up to 15 bytes
	 *       in [0..15) with its length in [15]; 255 there for longer
	 *       ones and for gaps (the decoder's one memory access per token,
	 *       and one test: length > 15 means the slow path);
	 *       TableSlot slots[nslots] (open addressing, linear probing);
	 *       uint8 bytes[bytes_len + TABLE_PAD] */
} TableHeader;

/* A hash slot: an ordinary token's first 8 bytes (zero-padded), id + 1
 * (0 = empty slot), and tok_lentag (length, hash bits).  A token of at
 * most 8 bytes is found from its slot alone. */
typedef struct {
	uint64_t key;
	uint32_t id1;
	uint32_t lentag;
} TableSlot;

/* An entry of the vocabulary being built: kind 0 = no token (gap),
 * 1 = ordinary (its id is its rank), 2 = special. */
typedef struct {
	const uint8_t *bytes;
	uint32_t len;
	uint8_t kind;
} TableEntry;

/* Build a table block (malloc'd, *size bytes) from entries[0..n_vocab). */
int table_build(const char *name, int pretok, const TableEntry *entries, uint32_t n_vocab,
		void **block, size_t *size, Error *e);

/* Pointers into a block; -1 if it is not a valid block. */
typedef struct {
	const TableHeader *h;
	const uint32_t *special_ids;
	const uint32_t *off;
	const uint8_t *dec;
	const TableSlot *slots;
	const uint8_t *bytes;
} TableView;
int table_view(const void *block, size_t size, TableView *v, Error *e);

/* Parse a .tiktoken rank file held in memory: entries[rank] for ranks
 * 0..*n-1 (gaps where a rank is missing), pointing into *store (malloc'd). */
int table_parse_tiktoken(const uint8_t *buf, size_t len, const char *name, TableEntry **entries,
			 uint32_t *n, uint8_t **store, Error *e);

/* Standard base64 (with padding) of n bytes at in; out needs 4*((n+2)/3)+1. */
void base64_encode(const uint8_t *in, size_t n, char *out);
/* Decode; returns the length or -1 on bad input. out needs 3*(n/4) bytes. */
long base64_decode(const char *in, size_t n, uint8_t *out);

#endif
