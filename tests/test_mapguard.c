/* lib/mapguard: a mapped file that shrinks under a reader gives a one-line
 * error naming the file and the offset, exit status 1, and no temporary
 * files of atomic outputs left behind; a SIGBUS elsewhere keeps its
 * default action. */
#include "io.h"
#include "mapguard.h"
#include "tap.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/gptkit-mapguard-XXXXXX";

/* Run fn in a child with stderr to a file; the wait status, and stderr in err. */
static int in_child(void (*fn)(void), char *err, size_t cap)
{
	char path[256];
	snprintf(path, sizeof path, "%s/stderr", dir);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 2);
		fn();
		_exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(err, 1, cap - 1, f) : 0;
	err[n] = '\0';
	if (f)
		fclose(f);
	return status;
}

static const char *map_and_shrink(size_t *len_out, char **base_out)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/data.bin", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	size_t len = 1 << 20;
	if (fd < 0 || ftruncate(fd, (off_t)len) != 0)
		_exit(3);
	char *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		_exit(3);
	mapguard_add(m, len, path);
	if (ftruncate(fd, 8192) != 0) /* someone else truncates the file */
		_exit(3);
	close(fd);
	*len_out = len;
	*base_out = m;
	return path;
}

static void guarded_read(void)
{
	AtomicFile af;
	char out[256];
	snprintf(out, sizeof out, "%s/out.txt", dir);
	if (atomic_open(&af, out, NULL))
		_exit(3);
	fputs("half", af.fp);
	fflush(af.fp);
	size_t len;
	char *m;
	map_and_shrink(&len, &m);
	volatile char c = m[8192 + 5000]; /* past the new end */
	(void)c;
	_exit(0);
}

static void unguarded_read(void)
{
	size_t len;
	char *m;
	map_and_shrink(&len, &m);
	mapguard_remove(m);
	volatile char c = m[300000];
	(void)c;
	_exit(0);
}

static void read_before_the_end(void)
{
	size_t len;
	char *m;
	map_and_shrink(&len, &m);
	volatile char c = m[100]; /* still inside the file */
	(void)c;
	_exit(0);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		printf("not ok mapguard: mkdtemp\n");
		return 1;
	}
	char err[1024], want[512];

	int st = in_child(guarded_read, err, sizeof err);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1, "mapguard: a read past a shrunk file's end exits with status 1");
	snprintf(want, sizeof want, "test_mapguard: %s/data.bin: offset 13192: file shrank while mapped\n", dir);
	CHECK(strcmp(err, want) == 0, "mapguard: one line naming the file and the offset");
	if (strcmp(err, want) != 0)
		printf("# got: %s# want: %s", err, want);
	int left = 0;
	char cmd[400];
	snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp", dir);
	FILE *p = popen(cmd, "r");
	if (p) {
		if (fscanf(p, "%d", &left) != 1)
			left = -1;
		pclose(p);
	}
	CHECK(left == 0, "mapguard: an atomic output's temporary file is removed");

	st = in_child(read_before_the_end, err, sizeof err);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && err[0] == '\0', "mapguard: reads inside the file are untouched");

	st = in_child(unguarded_read, err, sizeof err);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS, "mapguard: a SIGBUS outside registered mappings keeps its default action");

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return test_done();
}
