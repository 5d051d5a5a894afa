#include "progress.h"
#include "io.h"

#include <stdio.h>
#include <unistd.h>

void progress_init(Progress *p, const char *label, uint64_t total, int mode)
{
	p->enabled = mode == PROGRESS_FORCE || (mode == PROGRESS_AUTO && isatty(2));
	p->label = label;
	p->total = total;
	p->t0 = io_now();
	p->last = 0;
	p->drawn = 0;
}

static void draw(Progress *p, uint64_t done, const char *extra, double now)
{
	double el = now - p->t0;
	fprintf(stderr, "\r%s %llu", p->label, (unsigned long long)done);
	if (p->total) {
		fprintf(stderr, "/%llu (%.0f%%)", (unsigned long long)p->total,
			100.0 * (double)done / (double)p->total);
		if (done > 0 && done < p->total) {
			double eta = el * (double)(p->total - done) / (double)done;
			fprintf(stderr, " ETA %dm%02ds", (int)(eta / 60), (int)eta % 60);
		}
	}
	if (extra)
		fprintf(stderr, " %s", extra);
	fputs("\033[K", stderr);
	p->drawn = 1;
}

void progress_update(Progress *p, uint64_t done, const char *extra)
{
	if (!p->enabled)
		return;
	double now = io_now();
	if (p->drawn && now - p->last < 0.1)
		return;
	p->last = now;
	draw(p, done, extra, now);
}

void progress_done(Progress *p, uint64_t done, const char *extra)
{
	if (!p->enabled)
		return;
	draw(p, done, extra, io_now());
	fputc('\n', stderr);
}
