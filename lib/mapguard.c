/* See mapguard.h.  The handler may only call async-signal-safe functions:
 * it formats the message itself and writes it with write(2). */
#include "mapguard.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "io.h"

static struct {
	_Atomic(uintptr_t) base; /* 0: free; CLAIMED: being filled */
	size_t len;
	char name[256];
} guards[MAPGUARD_MAX];

#define CLAIMED ((uintptr_t)1)

static atomic_flag installed = ATOMIC_FLAG_INIT;

static size_t put(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at < cap)
		buf[at++] = *s++;
	return at;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	uintptr_t a = (uintptr_t)si->si_addr;
	for (int i = 0; i < MAPGUARD_MAX; i++) {
		uintptr_t b = atomic_load(&guards[i].base);
		if (b <= CLAIMED || a < b || a - b >= guards[i].len)
			continue;
		char msg[512], num[24];
		size_t n = 0, k = 0;
		uintptr_t off = a - b;
		do
			num[k++] = (char)('0' + off % 10);
		while ((off /= 10) && k < sizeof num);
		n = put(msg, n, sizeof msg - 1, prog_name());
		n = put(msg, n, sizeof msg - 1, ": ");
		n = put(msg, n, sizeof msg - 1, guards[i].name);
		n = put(msg, n, sizeof msg - 1, ": offset ");
		while (k && n < sizeof msg - 1)
			msg[n++] = num[--k];
		n = put(msg, n, sizeof msg - 1, ": file shrank while mapped");
		msg[n++] = '\n';
		if (write(STDERR_FILENO, msg, n) < 0) {
			/* nothing left to tell */
		}
		io_unlink_temps();
		_exit(EXIT_FAIL);
	}
	/* not ours: the default action, on the same access again */
	signal(sig, SIG_DFL);
}

void mapguard_add(const void *base, size_t len, const char *name)
{
	if (!base || !len)
		return;
	if (!atomic_flag_test_and_set(&installed)) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = on_sigbus;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGBUS, &sa, NULL);
	}
	for (int i = 0; i < MAPGUARD_MAX; i++) {
		uintptr_t free_slot = 0;
		if (!atomic_compare_exchange_strong(&guards[i].base, &free_slot, CLAIMED))
			continue;
		/* fill the claimed slot, then publish it: the handler skips it till then */
		guards[i].len = len;
		strncpy(guards[i].name, name ? name : "?", sizeof guards[i].name - 1);
		guards[i].name[sizeof guards[i].name - 1] = '\0';
		atomic_store(&guards[i].base, (uintptr_t)base);
		return;
	}
}

void mapguard_remove(const void *base)
{
	for (int i = 0; i < MAPGUARD_MAX; i++)
		if (atomic_load(&guards[i].base) == (uintptr_t)base) {
			atomic_store(&guards[i].base, 0);
			return;
		}
}
