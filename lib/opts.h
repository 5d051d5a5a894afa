/* Option handling shared by every program: --help, --version, and checked
 * conversion of option arguments (a bad value is a usage error, exit 2). */
#ifndef GPTKIT_OPTS_H
#define GPTKIT_OPTS_H

#define GPTKIT_VERSION "0.1.0"

struct option;
/* getopt_long that reports its own errors the gptkit way: an unknown option
 * or a missing argument is one line plus the --help hint, exit 2.  Callers
 * never see '?' or ':'.  Use it in place of getopt_long. */
int opt_getopt(int argc, char *const argv[], const char *shortopts,
	       const struct option *longopts, int *longindex);

/* Print `usage` to stdout and exit 0 (for --help). */
void opt_help(const char *usage) __attribute__((noreturn));
/* Print `prog (gptkit) VERSION` to stdout and exit 0 (for --version). */
void opt_version(void) __attribute__((noreturn));
/* Integer / float option arguments, range-checked; `name` is the option as
 * the user typed it ("-j", "--steps") for the error message. */
long long opt_int(const char *arg, const char *name, long long min, long long max);
double opt_double(const char *arg, const char *name, double min, double max);
/* Match arg against a NULL-terminated list; returns the index or usage error. */
int opt_choice(const char *arg, const char *name, const char *const *choices);

#endif
