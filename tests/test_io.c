/* Unit tests of lib/io.c: atomic output files and whole-file reads. */
#include "io.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	char dir[] = "/tmp/gptkit-io.XXXXXX", path[256], cmd[300];
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof path, "%s/out.txt", dir);
	Error e;
	AtomicFile af;

	FILE *f = fopen(path, "w");
	fputs("old", f);
	fclose(f);
	CHECK(atomic_open(&af, path, &e) == 0, "atomic_open");
	fputs("new contents", af.fp);
	fflush(af.fp);
	uint8_t *buf;
	size_t len;
	/* until committed, the old file is what readers see */
	CHECK(io_read_all(path, &buf, &len, &e) == 0 && len == 3 && memcmp(buf, "old", 3) == 0, "old_visible_until_commit");
	free(buf);
	CHECK(atomic_commit(&af, &e) == 0, "atomic_commit");
	CHECK(io_read_all(path, &buf, &len, &e) == 0 && len == 12 && buf[len] == 0, "new_after_commit");
	free(buf);

	CHECK(atomic_open(&af, path, &e) == 0, "atomic_open_again");
	fputs("half-written", af.fp);
	atomic_abort(&af);
	CHECK(io_read_all(path, &buf, &len, &e) == 0 && len == 12 && memcmp(buf, "new contents", 12) == 0, "abort_keeps_old");
	free(buf);
	snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 1", dir);
	CHECK(system(cmd) == 0, "abort_leaves_no_temporary");

	snprintf(path, sizeof path, "%s/no/such/dir/x", dir);
	CHECK(atomic_open(&af, path, &e) == -1 && strstr(e.msg, "No such file"), "unwritable_reports");
	CHECK(io_read_all(path, &buf, &len, &e) == -1 && strstr(e.msg, path), "missing_names_file");

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	system(cmd);
	return test_done();
}
