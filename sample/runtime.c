/* See runtime.h. */
#include "runtime.h"

#include <stdlib.h>
#include <unistd.h>

void runtime_tune(char **argv)
{
	if (getenv("GPTKIT_TUNED"))
		return;
	int changed = 0;
	if (!getenv("OMP_WAIT_POLICY"))
		changed |= setenv("OMP_WAIT_POLICY", "passive", 1) == 0;
#if defined(__x86_64__)
	if (!getenv("OPENBLAS_CORETYPE")) {
		__builtin_cpu_init();
		const char *core = __builtin_cpu_supports("avx512f") ? "SkylakeX" :
				   __builtin_cpu_supports("avx2") ? "Haswell" : NULL;
		if (core)
			changed |= setenv("OPENBLAS_CORETYPE", core, 1) == 0;
	}
#endif
	if (changed && setenv("GPTKIT_TUNED", "1", 1) == 0)
		execv("/proc/self/exe", argv);
}
