/* The prompt loop. */
#include "loop.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int gcm_loop_answer(const char *line)
{
	while (isspace((unsigned char)*line))
		line++;
	size_t n = strlen(line);
	while (n && isspace((unsigned char)line[n - 1]))
		n--;
	static const char *const words[] = {"accept", "edit", "regenerate", "cancel"};
	for (int i = 0; i < 4; i++)
		if ((n == 1 && tolower((unsigned char)line[0]) == words[i][0]) ||
		    (n == strlen(words[i]) && strncasecmp(line, words[i], n) == 0))
			return words[i][0];
	return 0;
}

static void show(GcmLoop *L, const char *msg)
{
	fprintf(L->out, "Proposed commit message:\n\n");
	for (const char *l = msg; *l;) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		fprintf(L->out, "    %.*s\n", (int)n, l);
		l += n + (nl != NULL);
	}
	fputc('\n', L->out);
}

int gcm_loop_run(GcmLoop *L, char *msg, Error *e)
{
	char line[256];
	int shown = 0, rc = GCM_CANCELLED;
	for (;;) {
		if (!shown) {
			show(L, msg);
			shown = 1;
		}
		fprintf(L->out, "Do you want to (a)ccept, (e)dit, (r)egenerate, or (c)ancel? ");
		fflush(L->out);
		errno = 0;
		if (!fgets(line, sizeof line, L->in) || (L->interrupted && *L->interrupted)) {
			fputc('\n', L->out);
			break;     /* EOF or Ctrl-C */
		}
		if (!strchr(line, '\n') && !feof(L->in)) {
			int c;     /* swallow the rest of a long line */
			while ((c = fgetc(L->in)) != EOF && c != '\n')
				;
			line[0] = '?';
		}
		char *m2 = NULL;
		Error e2;
		switch (gcm_loop_answer(line)) {
		case 'a':
			rc = L->commit(L->ctx, msg, e) ? GCM_FAILED : GCM_COMMITTED;
			free(msg);
			return rc;
		case 'e':
			if (L->edit(L->ctx, msg, &m2, e)) {
				free(msg);
				return GCM_FAILED;
			}
			if (!m2[0]) {
				free(m2);
				goto cancelled;
			}
			free(msg);
			rc = L->commit(L->ctx, m2, e) ? GCM_FAILED : GCM_COMMITTED;
			free(m2);
			return rc;
		case 'r':
			if (L->generate(L->ctx, &m2, &e2)) {
				if (L->interrupted && *L->interrupted)
					goto cancelled;
				fprintf(L->out, "gcm: %s\n", e2.msg);
			} else {
				free(msg);
				msg = m2;
				shown = 0;
			}
			break;
		case 'c':
			goto cancelled;
		default:
			fprintf(L->out, "Please answer a, e, r or c.\n");
			break;
		}
	}
cancelled:
	free(msg);
	fprintf(L->out, "Commit cancelled.\n");
	fflush(L->out);
	return GCM_CANCELLED;
}
