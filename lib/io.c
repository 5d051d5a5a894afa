
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *io_display_name(const char *path)
{
	return (!path || strcmp(path, "-") == 0) ? "<stdin>" : path;
}

long long io_read_full(int fd, void *buf, size_t n, Error *e, const char *name)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return err_errno(e, "%s: read", name);
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (long long)got;
}

int io_write_full(int fd, const void *buf, size_t n, Error *e, const char *name)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, (const char *)buf + done, n - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return err_errno(e, "%s: write", name);
		}
		done += (size_t)w;
	}
	return 0;
}

int io_read_all(const char *path, uint8_t **buf, size_t *len, Error *e)
{
	const char *name = io_display_name(path);
	int fd = (!path || strcmp(path, "-") == 0) ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, "%s", name);
	size_t cap = 1 << 16, n = 0;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		cap = (size_t)st.st_size + 1;
	uint8_t *b = malloc(cap + 1);
	if (!b) {
		if (fd) close(fd);
		return err_set(e, "%s: out of memory", name);
	}
	for (;;) {
		if (n == cap) {
			cap *= 2;
			uint8_t *nb = realloc(b, cap + 1);
			if (!nb) {
				free(b);
				if (fd) close(fd);
				return err_set(e, "%s: out of memory", name);
			}
			b = nb;
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err_errno(e, "%s: read", name);
			free(b);
			if (fd) close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (fd)
		close(fd);
	b[n] = 0;
	*buf = b;
	*len = n;
	return 0;
}

/* The temporary names of the atomic files now open, for io_unlink_temps. */
#define MAX_TEMPS 16
static _Atomic(char *) open_temps[MAX_TEMPS];

static void temp_track(char *tmp)
{
	for (int i = 0; i < MAX_TEMPS; i++) {
		char *none = NULL;
		if (atomic_compare_exchange_strong(&open_temps[i], &none, tmp))
			return;
	}
}

static void temp_untrack(char *tmp)
{
	for (int i = 0; i < MAX_TEMPS; i++) {
		char *want = tmp;
		if (atomic_compare_exchange_strong(&open_temps[i], &want, NULL))
			return;
	}
}

void io_unlink_temps(void)
{
	for (int i = 0; i < MAX_TEMPS; i++) {
		char *t = atomic_load(&open_temps[i]);
		if (t)
			unlink(t);
	}
}

int atomic_open(AtomicFile *af, const char *path, Error *e)
{
	memset(af, 0, sizeof *af);
	if (!path || strcmp(path, "-") == 0) {
		af->fp = stdout;
		return 0;
	}
	af->path = strdup(path);
	if (asprintf(&af->tmp, "%s.tmp.%ld", path, (long)getpid()) < 0 || !af->path)
		return err_set(e, "%s: out of memory", path);
	int fd = open(af->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		err_errno(e, "%s", path);
		free(af->tmp);
		free(af->path);
		af->tmp = af->path = NULL;
		return -1;
	}
	af->fp = fdopen(fd, "wb");
	temp_track(af->tmp);
	return 0;
}

int io_fsync_parent(const char *path, Error *e)
{
	char *copy = strdup(path);
	if (!copy)
		return err_set(e, "out of memory");
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return 0; /* not fatal: the rename itself happened */
	fsync(fd);
	close(fd);
	return 0;
}

int atomic_commit(AtomicFile *af, Error *e)
{
	if (!af->path) {
		if (fflush(af->fp) != 0)
			return err_errno(e, "<stdout>: write");
		return 0;
	}
	if (fflush(af->fp) != 0 || fsync(fileno(af->fp)) != 0) {
		err_errno(e, "%s: write", af->path);
		atomic_abort(af);
		return -1;
	}
	if (fclose(af->fp) != 0) {
		af->fp = NULL;
		err_errno(e, "%s: close", af->path);
		atomic_abort(af);
		return -1;
	}
	af->fp = NULL;
	if (rename(af->tmp, af->path) != 0) {
		err_errno(e, "%s: rename", af->path);
		atomic_abort(af);
		return -1;
	}
	temp_untrack(af->tmp);
	io_fsync_parent(af->path, e);
	free(af->tmp);
	free(af->path);
	af->tmp = af->path = NULL;
	return 0;
}

void atomic_abort(AtomicFile *af)
{
	if (!af->path)
		return;
	if (af->fp)
		fclose(af->fp);
	af->fp = NULL;
	if (af->tmp) {
		temp_untrack(af->tmp);
		unlink(af->tmp);
	}
	free(af->tmp);
	free(af->path);
	af->tmp = af->path = NULL;
}

double io_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}
