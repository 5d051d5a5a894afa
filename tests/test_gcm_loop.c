/* Unit tests of gcm's prompt loop (gcm/loop.c) without a terminal, a
 * network or git: answers come from a string, the work from fakes. */
#include "loop.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
	int generated, edited, committed;
	char committed_msg[256];
	const char *edit_result;     /* what the fake editor leaves */
	int fail_generate, fail_commit;
} Fake;

static int fake_generate(void *ctx, char **msg, Error *e)
{
	Fake *f = ctx;
	f->generated++;
	if (f->fail_generate)
		return err_set(e, "429 Too Many Requests");
	char b[64];
	snprintf(b, sizeof b, "Regenerated message %d", f->generated);
	*msg = strdup(b);
	return 0;
}

static int fake_edit(void *ctx, const char *msg, char **edited, Error *e)
{
	(void)e;
	Fake *f = ctx;
	f->edited++;
	*edited = strdup(f->edit_result ? f->edit_result : msg);
	return 0;
}

static int fake_commit(void *ctx, const char *msg, Error *e)
{
	Fake *f = ctx;
	if (f->fail_commit)
		return err_set(e, "git commit failed (exit 1)");
	f->committed++;
	snprintf(f->committed_msg, sizeof f->committed_msg, "%s", msg);
	return 0;
}

static char out[8192];

/* Run the loop on the answers; returns its result, the transcript in out. */
static int run(const char *answers, Fake *f, const volatile int *interrupted)
{
	FILE *in = fmemopen((void *)answers, strlen(answers), "r");
	FILE *o = fmemopen(out, sizeof out, "w");
	GcmLoop L = {.in = in, .out = o, .generate = fake_generate, .edit = fake_edit,
		     .commit = fake_commit, .ctx = f, .interrupted = interrupted};
	Error e;
	int rc = gcm_loop_run(&L, strdup("Add the first message"), &e);
	fclose(o);
	fclose(in);
	return rc;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

int main(void)
{
	Fake f = {0};
	CHECK(run("a\n", &f, NULL) == GCM_COMMITTED && f.committed == 1 &&
	      strcmp(f.committed_msg, "Add the first message") == 0, "loop_accept_commits");
	CHECK(strstr(out, "Proposed commit message:\n\n    Add the first message\n") &&
	      strstr(out, "Do you want to (a)ccept, (e)dit, (r)egenerate, or (c)ancel? "), "loop_shows_message_and_asks");

	f = (Fake){.edit_result = "Edited by hand"};
	CHECK(run("e\n", &f, NULL) == GCM_COMMITTED && f.edited == 1 && f.committed == 1 &&
	      strcmp(f.committed_msg, "Edited by hand") == 0, "loop_edit_commits_edited");

	f = (Fake){.edit_result = ""};
	CHECK(run("e\n", &f, NULL) == GCM_CANCELLED && f.committed == 0 && strstr(out, "Commit cancelled."),
	      "loop_empty_edit_cancels");

	f = (Fake){0};
	CHECK(run("r\nr\naccept\n", &f, NULL) == GCM_COMMITTED && f.generated == 2 &&
	      strcmp(f.committed_msg, "Regenerated message 2") == 0 && count(out, "Proposed commit message:") == 3,
	      "loop_regenerate_then_accept");

	f = (Fake){0};
	CHECK(run("c\n", &f, NULL) == GCM_CANCELLED && f.committed == 0 && strstr(out, "Commit cancelled.\n"),
	      "loop_cancel");

	f = (Fake){0};
	CHECK(run("", &f, NULL) == GCM_CANCELLED && f.committed == 0 && strstr(out, "Commit cancelled."), "loop_eof_cancels");

	f = (Fake){0};
	CHECK(run("x\nyes\n\n  A  \n", &f, NULL) == GCM_COMMITTED && count(out, "Please answer a, e, r or c.") == 3 &&
	      count(out, "(c)ancel?") == 4 && f.committed == 1, "loop_other_answers_ask_again");

	f = (Fake){.fail_generate = 1};
	CHECK(run("r\nc\n", &f, NULL) == GCM_CANCELLED && strstr(out, "gcm: 429 Too Many Requests") && f.committed == 0,
	      "loop_regenerate_failure_asks_again");

	f = (Fake){.fail_commit = 1};
	CHECK(run("a\n", &f, NULL) == GCM_FAILED, "loop_commit_failure");

	volatile int intr = 1;
	f = (Fake){0};
	CHECK(run("a\n", &f, &intr) == GCM_CANCELLED && f.committed == 0 && strstr(out, "Commit cancelled."),
	      "loop_interrupt_cancels");

	CHECK(gcm_loop_answer("a") == 'a' && gcm_loop_answer(" E\n") == 'e' && gcm_loop_answer("Regenerate") == 'r' &&
	      gcm_loop_answer("cancel\n") == 'c' && gcm_loop_answer("ac") == 0 && gcm_loop_answer("") == 0,
	      "loop_answers");
	return test_done();
}
