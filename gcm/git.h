/* gcm's child processes: git and the editor, started with fork and exec
 * (never through a shell, except the editor command itself, which git
 * also runs with sh), with the API key variables removed from their
 * environment. */
#ifndef GCM_GIT_H
#define GCM_GIT_H

#include <stddef.h>
#include "err.h"

/* Run argv[0] (searched in PATH) with stdin/stdout/stderr from in/out/err
 * (-1: inherit) and wait.  Returns its exit status, 128+N when killed by
 * signal N, or -1 with a reason when it could not start. */
int gcm_run(char *const argv[], int in, int out, int err, Error *e);
/* Same, capturing stdout into a malloc'd NUL-terminated buffer. */
int gcm_run_capture(char *const argv[], int in, char **out, size_t *len, Error *e);

/* git's editor (git var GIT_EDITOR), malloc'd; NULL with a reason. */
char *gcm_git_editor(Error *e);
/* Open path in editor (a shell command, as git treats it) on the terminal
 * tty_fd; 0 when the editor exited 0. */
int gcm_edit_file(const char *editor, const char *path, int tty_fd, Error *e);

/* git commit -F msgfile extra...; returns git's exit status or -1. */
int gcm_git_commit(const char *msgfile, char *const extra[], int nextra, int in, Error *e);

/* A fresh private directory for message files, malloc'd path. */
char *gcm_tmpdir(Error *e);
/* Write msg (plus a newline) to dir/name with mode 0600; malloc'd path. */
char *gcm_write_msg(const char *dir, const char *name, const char *msg, const char *comment, Error *e);
/* Read a message file back without lines starting with '#', trimmed;
 * malloc'd. */
char *gcm_read_msg(const char *path, Error *e);

#endif
