/* Hook install and uninstall. */
#include "hook.h"
#include "io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 1: gcm's hook, 0: absent, 2: another hook (or unreadable), -1: error. */
static int hook_state(const char *path, Error *e)
{
	struct stat st;
	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		return err_errno(e, "%s", path);
	}
	if (!S_ISREG(st.st_mode))
		return 2;
	FILE *f = fopen(path, "r");
	if (!f)
		return err_errno(e, "%s", path);
	char line[256];
	int ours = 0;
	for (int i = 0; i < 3 && fgets(line, sizeof line, f); i++)
		if (strncmp(line, GCM_HOOK_MARK, strlen(GCM_HOOK_MARK)) == 0)
			ours = 1;
	fclose(f);
	return ours ? 1 : 2;
}

/* path in single quotes for sh */
static char *sh_quote(const char *s)
{
	size_t n = 2;
	for (const char *p = s; *p; p++)
		n += *p == '\'' ? 4 : 1;
	char *q = malloc(n + 1), *w = q;
	if (!q)
		return NULL;
	*w++ = '\'';
	for (const char *p = s; *p; p++) {
		if (*p == '\'') {
			memcpy(w, "'\\''", 4);
			w += 4;
		} else {
			*w++ = *p;
		}
	}
	*w++ = '\'';
	*w = 0;
	return q;
}

int gcm_hook_install(const char *hook_path, const char *gcm_path, Error *e)
{
	int st = hook_state(hook_path, e);
	if (st < 0)
		return -1;
	if (st == 2)
		return err_set(e, "%s: another prepare-commit-msg hook is installed; not overwriting it", hook_path);
	char *dir = strdup(hook_path), *slash = dir ? strrchr(dir, '/') : NULL;
	if (slash) {
		*slash = 0;
		if (mkdir(dir, 0755) && errno != EEXIST) {
			err_errno(e, "%s", dir);
			free(dir);
			return -1;
		}
	}
	free(dir);
	char *q = sh_quote(gcm_path);
	if (!q)
		return err_set(e, "out of memory");
	AtomicFile af;
	if (atomic_open(&af, hook_path, e)) {
		free(q);
		return -1;
	}
	fprintf(af.fp,
		"#!/bin/sh\n"
		GCM_HOOK_MARK ": written by 'gcm --hook install',\n"
		"# removed by 'gcm --hook uninstall'.  It fills in the message of a plain\n"
		"# 'git commit' (no -m, -F, -c, template, merge or squash message).\n"
		"[ -z \"$2\" ] || exit 0\n"
		"msg=$(git diff --cached --no-color --no-ext-diff | %s --print) || exit 0\n"
		"[ -n \"$msg\" ] || exit 0\n"
		"{ printf '%%s\\n' \"$msg\"; cat \"$1\"; } >\"$1.gcm\" && mv \"$1.gcm\" \"$1\"\n",
		q);
	free(q);
	if (fchmod(fileno(af.fp), 0755)) {
		err_errno(e, "%s", hook_path);
		atomic_abort(&af);
		return -1;
	}
	return atomic_commit(&af, e);
}

int gcm_hook_uninstall(const char *hook_path, Error *e)
{
	int st = hook_state(hook_path, e);
	if (st < 0)
		return -1;
	if (st == 0)
		return err_set(e, "%s: no gcm hook installed", hook_path);
	if (st == 2)
		return err_set(e, "%s: not gcm's hook; leaving it alone", hook_path);
	if (unlink(hook_path))
		return err_errno(e, "%s", hook_path);
	return 0;
}
