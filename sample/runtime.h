/* Run-time settings that the OpenMP and OpenBLAS libraries read from the
 * environment before main runs, chosen for inference on a shared machine. */
#ifndef GPTKIT_RUNTIME_H
#define GPTKIT_RUNTIME_H

/* Unless the user set them: OMP_WAIT_POLICY=passive (idle threads sleep
 * instead of spinning at the many barriers of decoding, which on a busy
 * machine slowed generation six times over), and OPENBLAS_CORETYPE for CPUs
 * newer than the OpenBLAS build knows (Debian 12's 0.3.21 falls back to
 * its SSE3 "Prescott" kernels on them, 2.5 times slower: SkylakeX where
 * AVX-512 is present, Haswell where AVX2 is).  The libraries read these
 * when they load, so when anything changes the program starts itself again
 * (execv of /proc/self/exe, once); if that fails it goes on as it is. */
void runtime_tune(char **argv);

#endif
