/* Key loading. */
#include "key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int gcm_key_path(char *buf, size_t cap)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	int n;
	if (xdg && xdg[0] == '/')
		n = snprintf(buf, cap, "%s/gcm/key", xdg);
	else if (home && home[0])
		n = snprintf(buf, cap, "%s/.config/gcm/key", home);
	else
		return -1;
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* Trim surrounding whitespace in place; -1 if what is left is not a token. */
static int check_key(char *k)
{
	size_t n = strlen(k);
	while (n && (k[n - 1] == '\n' || k[n - 1] == '\r' || k[n - 1] == ' ' || k[n - 1] == '\t'))
		k[--n] = 0;
	size_t s = 0;
	while (k[s] == ' ' || k[s] == '\t' || k[s] == '\n' || k[s] == '\r')
		s++;
	memmove(k, k + s, n - s + 1);
	for (char *p = k; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return -1;
	return 0;
}

static void wipe(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
}

int gcm_key_load(GcmKey *k, Error *e)
{
	memset(k, 0, sizeof *k);
	static const char *const vars[] = {"GCM_API_KEY", "OPENAI_API_KEY"};
	for (int i = 0; i < 2; i++) {
		const char *v = getenv(vars[i]);
		if (!v || !v[0])
			continue;
		if (!(k->key = strdup(v)))
			return err_set(e, "out of memory");
		snprintf(k->source, sizeof k->source, "%s", vars[i]);
		if (check_key(k->key) || !k->key[0]) {
			gcm_key_free(k);
			return err_set(e, "%s: the key is empty or holds spaces or control characters", vars[i]);
		}
		return 0;
	}
	char path[512];
	if (gcm_key_path(path, sizeof path))
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return err_errno(e, "%s", path);
	}
	struct stat st;
	if (fstat(fd, &st)) {
		close(fd);
		return err_errno(e, "%s", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, "%s: not a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return err_set(e, "%s: mode %04o lets others read the key; refusing it (chmod 600 %s)", path,
			       (unsigned)(st.st_mode & 07777), path);
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		return err_set(e, "%s: owned by another user; refusing it", path);
	}
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	int saved = errno;
	close(fd);
	if (n < 0) {
		errno = saved;
		return err_errno(e, "%s: read", path);
	}
	buf[n] = 0;
	int bad = check_key(buf);
	if (!bad && buf[0] && !(k->key = strdup(buf))) {
		explicit_bzero(buf, sizeof buf);
		return err_set(e, "out of memory");
	}
	explicit_bzero(buf, sizeof buf);
	if (bad)
		return err_set(e, "%s: the key holds spaces or control characters", path);
	snprintf(k->source, sizeof k->source, "%s", path);
	return 0;
}

void gcm_key_free(GcmKey *k)
{
	wipe(k->key);
	free(k->key);
	k->key = NULL;
}
