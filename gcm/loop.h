/* gcm's prompt loop: show the proposed message and ask (a)ccept, (e)dit,
 * (r)egenerate or (c)ancel, on any pair of streams (the terminal in gcm,
 * strings in the tests); the work behind each answer is done by callbacks,
 * so the loop runs without a network or a git repository. */
#ifndef GCM_LOOP_H
#define GCM_LOOP_H

#include <stdio.h>
#include "err.h"

typedef struct {
	FILE *in, *out;
	/* A new message (malloc'd) or -1; the loop says why and asks again. */
	int (*generate)(void *ctx, char **msg, Error *e);
	/* The edited message (malloc'd, "" to cancel) or -1. */
	int (*edit)(void *ctx, const char *msg, char **edited, Error *e);
	/* Commit msg; -1 with the reason (git's failure). */
	int (*commit)(void *ctx, const char *msg, Error *e);
	void *ctx;
	const volatile int *interrupted;   /* Ctrl-C arrived: cancel */
} GcmLoop;

enum { GCM_COMMITTED = 0, GCM_CANCELLED = 1, GCM_FAILED = 2 };

/* Runs until a commit, a cancel (c, EOF, Ctrl-C, an empty edit) or a
 * failed commit or edit.  msg is the first proposal (the loop takes it). */
int gcm_loop_run(GcmLoop *L, char *msg, Error *e);

/* a, e, r, c (or the words) in any case; 0 for anything else. */
int gcm_loop_answer(const char *line);

#endif
