#include "opts.h"
#include "err.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void opt_help(const char *usage)
{
	fputs(usage, stdout);
	exit(EXIT_OK);
}

void opt_version(void)
{
	printf("%s (gptkit) %s\n", prog_name(), GPTKIT_VERSION);
	exit(EXIT_OK);
}

long long opt_int(const char *arg, const char *name, long long min, long long max)
{
	char *end;
	errno = 0;
	long long v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end)
		usage_error("%s: '%s' is not an integer", name, arg);
	if (v < min || v > max)
		usage_error("%s: %lld is outside %lld..%lld", name, v, min, max);
	return v;
}

double opt_double(const char *arg, const char *name, double min, double max)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || isnan(v))
		usage_error("%s: '%s' is not a number", name, arg);
	if (v < min || v > max)
		usage_error("%s: %g is outside %g..%g", name, v, min, max);
	return v;
}

int opt_choice(const char *arg, const char *name, const char *const *choices)
{
	for (int i = 0; choices[i]; i++)
		if (strcmp(arg, choices[i]) == 0)
			return i;
	char list[256] = "";
	for (int i = 0; choices[i]; i++) {
		strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
		strncat(list, choices[i], sizeof list - strlen(list) - 1);
	}
	usage_error("%s: '%s' is not one of %s", name, arg, list);
}

int opt_getopt(int argc, char *const argv[], const char *shortopts,
	       const struct option *longopts, int *longindex)
{
	char spec[128];
	/* a leading ':' makes a missing argument return ':' rather than '?' */
	snprintf(spec, sizeof spec, ":%s", shortopts[0] == ':' ? shortopts + 1 : shortopts);
	opterr = 0;
	int c = getopt_long(argc, argv, spec, longopts, longindex);
	if (c == '?' || c == ':') {
		const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
		int is_long = arg[0] == '-' && arg[1] == '-';
		if (c == ':') {
			if (is_long)
				usage_error("option '%s' needs a value", arg);
			usage_error("option '-%c' needs a value", optopt);
		}
		if (is_long) {
			const char *eq = strchr(arg, '=');
			if (eq)
				usage_error("option '%.*s' takes no argument", (int)(eq - arg), arg);
			usage_error("unknown option '%s'", arg);
		}
		usage_error("unknown option '-%c'", optopt);
	}
	return c;
}
