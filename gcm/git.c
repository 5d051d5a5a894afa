/* Child processes and message files. */
#include "git.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The environment without the key variables: children never need them. */
static char **child_env(void)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = malloc((n + 1) * sizeof *env);
	if (!env)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "GCM_API_KEY=", 12) && strncmp(environ[i], "OPENAI_API_KEY=", 15))
			env[k++] = environ[i];
	env[k] = NULL;
	return env;
}

static int spawn(char *const argv[], int in, int out, int err, int capture_fd, pid_t *pid, Error *e)
{
	char **env = child_env();
	int ep[2];
	if (!env)
		return err_set(e, "out of memory");
	if (pipe2(ep, O_CLOEXEC)) {
		free(env);
		return err_errno(e, "pipe");
	}
	*pid = fork();
	if (*pid < 0) {
		free(env);
		close(ep[0]);
		close(ep[1]);
		return err_errno(e, "fork");
	}
	if (*pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		if (capture_fd >= 0)
			out = capture_fd;
		if ((in >= 0 && dup2(in, 0) < 0) || (out >= 0 && dup2(out, 1) < 0) || (err >= 0 && dup2(err, 2) < 0))
			goto fail;
		execvpe(argv[0], argv, env);
	fail:;
		int code = errno;
		ssize_t w = write(ep[1], &code, sizeof code);
		(void)w;
		_exit(127);
	}
	free(env);
	close(ep[1]);
	int code = 0;
	ssize_t r;
	while ((r = read(ep[0], &code, sizeof code)) < 0 && errno == EINTR)
		;
	close(ep[0]);
	if (r == (ssize_t)sizeof code) {
		int st;
		while (waitpid(*pid, &st, 0) < 0 && errno == EINTR)
			;
		errno = code;
		return err_errno(e, "cannot run %s", argv[0]);
	}
	return 0;
}

static int wait_child(pid_t pid, Error *e)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return err_errno(e, "waitpid");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int gcm_run(char *const argv[], int in, int out, int err, Error *e)
{
	pid_t pid;
	if (spawn(argv, in, out, err, -1, &pid, e))
		return -1;
	return wait_child(pid, e);
}

int gcm_run_capture(char *const argv[], int in, char **out, size_t *len, Error *e)
{
	int p[2];
	*out = NULL;
	*len = 0;
	if (pipe2(p, O_CLOEXEC))
		return err_errno(e, "pipe");
	pid_t pid;
	if (spawn(argv, in, -1, -1, p[1], &pid, e)) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[1]);
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	int failed = !b;
	for (;;) {
		if (!failed && n + 1 >= cap) {
			char *nb = realloc(b, cap * 2);
			if (!nb)
				failed = 1;
			else
				b = nb, cap *= 2;
		}
		char sink[4096];
		ssize_t r = failed ? read(p[0], sink, sizeof sink) : read(p[0], b + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (!failed)
			n += (size_t)r;
	}
	close(p[0]);
	int st = wait_child(pid, e);
	if (failed) {
		free(b);
		return err_set(e, "out of memory");
	}
	b[n] = 0;
	*out = b;
	*len = n;
	return st;
}

char *gcm_git_editor(Error *e)
{
	char *argv[] = {"git", "var", "GIT_EDITOR", NULL};
	char *out;
	size_t len;
	int st = gcm_run_capture(argv, -1, &out, &len, e);
	if (st < 0)
		return NULL;
	while (len && (out[len - 1] == '\n' || out[len - 1] == '\r'))
		out[--len] = 0;
	if (st != 0 || !len) {
		free(out);
		err_set(e, "git var GIT_EDITOR: no editor (set GIT_EDITOR, core.editor, VISUAL or EDITOR)");
		return NULL;
	}
	return out;
}

int gcm_edit_file(const char *editor, const char *path, int tty_fd, Error *e)
{
	/* as git does: sh -c '<editor> "$@"' <editor> <file> */
	char *script = NULL;
	if (asprintf(&script, "%s \"$@\"", editor) < 0)
		return err_set(e, "out of memory");
	char *argv[] = {"sh", "-c", script, (char *)editor, (char *)path, NULL};
	int st = gcm_run(argv, tty_fd, tty_fd, -1, e);
	free(script);
	if (st < 0)
		return -1;
	if (st != 0)
		return err_set(e, "the editor '%s' failed (exit %d)", editor, st);
	return 0;
}

int gcm_git_commit(const char *msgfile, char *const extra[], int nextra, int in, Error *e)
{
	char **argv = calloc((size_t)nextra + 5, sizeof *argv);
	if (!argv)
		return err_set(e, "out of memory");
	int k = 0;
	argv[k++] = "git";
	argv[k++] = "commit";
	argv[k++] = "-F";
	argv[k++] = (char *)msgfile;
	for (int i = 0; i < nextra; i++)
		argv[k++] = extra[i];
	int st = gcm_run(argv, in, -1, -1, e);
	free(argv);
	return st;
}

char *gcm_tmpdir(Error *e)
{
	const char *t = getenv("TMPDIR");
	char *p = NULL;
	if (asprintf(&p, "%s/gcm-XXXXXX", t && t[0] ? t : "/tmp") < 0) {
		err_set(e, "out of memory");
		return NULL;
	}
	if (!mkdtemp(p)) {
		err_errno(e, "%s", p);
		free(p);
		return NULL;
	}
	return p;
}

char *gcm_write_msg(const char *dir, const char *name, const char *msg, const char *comment, Error *e)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, name) < 0) {
		err_set(e, "out of memory");
		return NULL;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err_errno(e, "%s", path);
		free(path);
		return NULL;
	}
	int rc = io_write_full(fd, msg, strlen(msg), e, path);
	if (!rc)
		rc = io_write_full(fd, "\n", 1, e, path);
	if (!rc && comment)
		rc = io_write_full(fd, comment, strlen(comment), e, path);
	if (close(fd) && !rc)
		rc = err_errno(e, "%s: close", path);
	if (rc) {
		unlink(path);
		free(path);
		return NULL;
	}
	return path;
}

char *gcm_read_msg(const char *path, Error *e)
{
	uint8_t *buf;
	size_t len;
	if (io_read_all(path, &buf, &len, e))
		return NULL;
	char *s = (char *)buf, *w = s;
	for (char *l = s; *l;) {
		char *nl = strchr(l, '\n');
		char *end = nl ? nl + 1 : l + strlen(l);
		if (*l != '#') {
			memmove(w, l, (size_t)(end - l));
			w += end - l;
		}
		l = end;
	}
	*w = 0;
	/* trim: blank lines around, trailing spaces on the last line */
	while (w > s && (w[-1] == '\n' || w[-1] == ' ' || w[-1] == '\t' || w[-1] == '\r'))
		*--w = 0;
	char *b = s;
	while (*b == '\n' || *b == ' ' || *b == '\t' || *b == '\r')
		b++;
	memmove(s, b, strlen(b) + 1);
	return s;
}
