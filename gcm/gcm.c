/* gcm: write a commit message for the staged changes with an LLM (any
 * OpenAI-compatible Chat Completions server), then accept, edit,
 * regenerate or cancel.  The tool: options, the terminal, and wiring; the
 * work is in the gcm library beside it. */
#include "client.h"
#include "err.h"
#include "git.h"
#include "hook.h"
#include "io.h"
#include "key.h"
#include "loop.h"
#include "opts.h"
#include "secrets.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"Usage: git diff --cached | gcm [options] [-- git-commit-options]\n"
	"       gcm [options]            (runs git diff --cached itself)\n"
	"       gcm --hook install|uninstall\n"
	"Write a one-line commit message for the staged changes with an LLM, then\n"
	"(a)ccept, (e)dit, (r)egenerate or (c)ancel on the terminal.\n"
	"\n"
	"  -m, --model NAME         model (GCM_MODEL; default gpt-4o-mini)\n"
	"      --api-base URL       server (GCM_API_BASE, OPENAI_BASE_URL;\n"
	"                           default https://api.openai.com/v1)\n"
	"      --temperature T      sampling temperature, 0..2 (default: the server's)\n"
	"      --max-tokens N       longest reply in tokens (default 1024)\n"
	"      --style STYLE        plain or conventional (Conventional Commits)\n"
	"      --body               a subject line and a short body\n"
	"      --prompt FILE        replace the built-in instruction with FILE\n"
	"      --max-diff-tokens N  cut the diff to N tokens (default 12000)\n"
	"      --encoding NAME      o200k_base or cl100k_base (default: by model)\n"
	"      --timeout SECONDS    whole request (default 60; connecting: 10)\n"
	"      --retries N          on 429, 5xx and resets (default 3)\n"
	"      --stream             show the reply as it arrives, on a terminal\n"
	"      --allow-secrets      send a diff that seems to hold secrets\n"
	"  -y, --yes                commit without asking\n"
	"  -p, --print              print the message, commit nothing (the\n"
	"                           default without a terminal)\n"
	"      --hook ACTION        install or uninstall a prepare-commit-msg hook\n"
	"  -v, --verbose            trace the HTTP exchange on stderr (key redacted)\n"
	"  -h, --help               this help\n"
	"      --version            version\n"
	"The key comes from GCM_API_KEY, OPENAI_API_KEY or ~/.config/gcm/key (mode 0600).\n"
	"Exit status: 0 committed or printed, 1 error or cancelled, 2 usage.\n";

enum {
	OPT_API_BASE = 256, OPT_TEMPERATURE, OPT_MAX_TOKENS, OPT_STYLE, OPT_BODY, OPT_PROMPT,
	OPT_MAX_DIFF, OPT_ENCODING, OPT_TIMEOUT, OPT_RETRIES, OPT_STREAM, OPT_ALLOW_SECRETS,
	OPT_HOOK, OPT_VERSION,
};

static const struct option longopts[] = {
	{"model", required_argument, 0, 'm'},
	{"api-base", required_argument, 0, OPT_API_BASE},
	{"temperature", required_argument, 0, OPT_TEMPERATURE},
	{"max-tokens", required_argument, 0, OPT_MAX_TOKENS},
	{"style", required_argument, 0, OPT_STYLE},
	{"body", no_argument, 0, OPT_BODY},
	{"prompt", required_argument, 0, OPT_PROMPT},
	{"max-diff-tokens", required_argument, 0, OPT_MAX_DIFF},
	{"encoding", required_argument, 0, OPT_ENCODING},
	{"timeout", required_argument, 0, OPT_TIMEOUT},
	{"retries", required_argument, 0, OPT_RETRIES},
	{"stream", no_argument, 0, OPT_STREAM},
	{"allow-secrets", no_argument, 0, OPT_ALLOW_SECRETS},
	{"yes", no_argument, 0, 'y'},
	{"print", no_argument, 0, 'p'},
	{"hook", required_argument, 0, OPT_HOOK},
	{"verbose", no_argument, 0, 'v'},
	{"help", no_argument, 0, 'h'},
	{"version", no_argument, 0, OPT_VERSION},
	{0, 0, 0, 0},
};

/* Ctrl-C, the state a signal handler may touch.  While gcm waits for an
 * answer (prompt_fd is the terminal) it cancels at once: a flag checked
 * before a blocking read could be set just after the check.  Otherwise it
 * sets the flag, which the HTTP transfer and the loop look at. */
static volatile sig_atomic_t interrupted;
static volatile sig_atomic_t prompt_fd = -1;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
	if (prompt_fd >= 0) {
		static const char msg[] = "\nCommit cancelled.\n";
		ssize_t w = write(prompt_fd, msg, sizeof msg - 1);
		(void)w;
		_exit(EXIT_FAIL);
	}
}

/* Callbacks do work, not wait for an answer: Ctrl-C only sets the flag. */
#define WORK_BEGIN sig_atomic_t saved_fd = prompt_fd; prompt_fd = -1
#define WORK_END prompt_fd = saved_fd

/* What the loop's callbacks need. */
typedef struct {
	GcmClient *client;
	int tty_fd;              /* the terminal, or -1 */
	char *tmpdir;            /* message files live here */
	char **extra;            /* git commit arguments after -- */
	int nextra;
} Session;

static int generate(Session *s, char **msg, Error *e)
{
	if (gcm_client_generate(s->client, msg, e))
		return -1;
	size_t w = gcm_subject_width(*msg);
	if (w > 72)
		warnx_("warning: the subject is %zu characters, over 72", w);
	return 0;
}

static int do_generate(void *ctx, char **msg, Error *e)
{
	WORK_BEGIN;
	int rc = generate(ctx, msg, e);
	WORK_END;
	return rc;
}

static int ensure_tmpdir(Session *s, Error *e)
{
	if (!s->tmpdir && !(s->tmpdir = gcm_tmpdir(e)))
		return -1;
	return 0;
}

static int commit(Session *s, const char *msg, Error *e)
{
	if (ensure_tmpdir(s, e))
		return -1;
	char *path = gcm_write_msg(s->tmpdir, "COMMIT_MSG", msg, NULL, e);
	if (!path)
		return -1;
	int in = s->tty_fd >= 0 ? s->tty_fd : open("/dev/null", O_RDONLY | O_CLOEXEC);
	int st = gcm_git_commit(path, s->extra, s->nextra, in, e);
	if (s->tty_fd < 0 && in >= 0)
		close(in);
	unlink(path);
	free(path);
	if (st < 0)
		return -1;
	if (st != 0)
		return err_set(e, "git commit failed (exit %d); nothing committed", st);
	return 0;
}

static int do_commit(void *ctx, const char *msg, Error *e)
{
	WORK_BEGIN;
	int rc = commit(ctx, msg, e);
	WORK_END;
	return rc;
}

static int edit(Session *s, const char *msg, char **edited, Error *e)
{
	if (ensure_tmpdir(s, e))
		return -1;
	char *editor = gcm_git_editor(e);
	if (!editor)
		return -1;
	char *path = gcm_write_msg(s->tmpdir, "COMMIT_EDITMSG", msg,
				   "\n# Edit the commit message. Lines starting with '#' are ignored;\n"
				   "# an empty message cancels the commit.\n", e);
	int rc = -1;
	if (path && gcm_edit_file(editor, path, s->tty_fd, e) == 0 && (*edited = gcm_read_msg(path, e)))
		rc = 0;
	interrupted = 0;    /* a Ctrl-C inside the editor was the editor's */
	if (path)
		unlink(path);
	free(path);
	free(editor);
	return rc;
}

static int do_edit(void *ctx, const char *msg, char **edited, Error *e)
{
	WORK_BEGIN;
	int rc = edit(ctx, msg, edited, e);
	WORK_END;
	return rc;
}

/* The staged diff: stdin, or git diff --cached when stdin is a terminal. */
static char *read_diff(size_t *len)
{
	Error e;
	if (isatty(0)) {
		/* the diff as the model should see it, whatever the user's config */
		char *argv[] = {"git", "diff", "--cached", "--no-color", "--no-ext-diff", NULL};
		char *out;
		int st = gcm_run_capture(argv, -1, &out, len, &e);
		if (st < 0)
			die_err(&e);
		if (st != 0)
			die("git diff --cached failed (exit %d)", st);
		return out;
	}
	uint8_t *buf;
	if (io_read_all("-", &buf, len, &e))
		die_err(&e);
	return (char *)buf;
}

static int blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\n' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

static int hook_main(const char *action)
{
	Error e;
	char *argv[] = {"git", "rev-parse", "--git-path", "hooks/prepare-commit-msg", NULL};
	char *path;
	size_t len;
	int st = gcm_run_capture(argv, -1, &path, &len, &e);
	if (st < 0)
		die_err(&e);
	while (len && path[len - 1] == '\n')
		path[--len] = 0;
	if (st != 0 || !len)
		die("--hook: not in a git repository");
	if (strcmp(action, "install") == 0) {
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n < 0)
			die_errno("/proc/self/exe");
		self[n] = 0;
		if (gcm_hook_install(path, self, &e))
			die_err(&e);
		printf("installed %s\n", path);
	} else {
		if (gcm_hook_uninstall(path, &e))
			die_err(&e);
		printf("removed %s\n", path);
	}
	free(path);
	return EXIT_OK;
}

/* Stop, naming file and line, when the diff seems to hold secrets. */
static void refuse_secrets(const char *diff, size_t len)
{
	GcmSecret hits[10];
	size_t n = gcm_secrets_scan(diff, len, hits, 10);
	if (!n)
		return;
	for (size_t i = 0; i < n && i < 10; i++)
		warnx_("%s:%zu: looks like %s", hits[i].path, hits[i].line, hits[i].what);
	die("the diff seems to hold %s; not sending it (--allow-secrets sends it anyway)",
	    n == 1 ? "a secret" : "secrets");
}

/* The terminal for the questions: gcm asks when it can open /dev/tty and
 * stdout or stderr is a terminal.  Two streams, since C forbids reading
 * after writing on one stream without a seek.  Returns the fd or -1. */
static int open_terminal(int wanted, FILE **out, FILE **in)
{
	*out = *in = NULL;
	if (!wanted || !(isatty(1) || isatty(2)))
		return -1;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	int fd2 = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	*out = fd2 >= 0 ? fdopen(fd2, "w") : NULL;
	*in = *out ? fdopen(fd, "r") : NULL;
	if (!*in)
		die_errno("/dev/tty");
	return fd;
}

static const char *env_or(const char *a, const char *b, const char *def)
{
	const char *v = getenv(a);
	if (v && v[0])
		return v;
	v = b ? getenv(b) : NULL;
	return v && v[0] ? v : def;
}

int main(int argc, char **argv)
{
	const char *model = NULL, *base = NULL, *prompt_file = NULL, *encoding = NULL, *hook = NULL;
	double temperature = -1;
	long max_tokens = 1024, max_diff = 12000, timeout = 60, retries = 3;
	int style = GCM_STYLE_PLAIN, body = 0, stream = 0, allow_secrets = 0, yes = 0, print = 0, verbose = 0;
	static const char *const styles[] = {"plain", "conventional", NULL};
	static const char *const hooks[] = {"install", "uninstall", NULL};
	static const char *const encodings[] = {"o200k_base", "cl100k_base", NULL};
	int c;
	while ((c = opt_getopt(argc, argv, "m:ypvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case OPT_API_BASE: base = optarg; break;
		case OPT_TEMPERATURE: temperature = opt_double(optarg, "--temperature", 0, 2); break;
		case OPT_MAX_TOKENS: max_tokens = (long)opt_int(optarg, "--max-tokens", 1, 1000000); break;
		case OPT_STYLE: style = opt_choice(optarg, "--style", styles); break;
		case OPT_BODY: body = 1; break;
		case OPT_PROMPT: prompt_file = optarg; break;
		case OPT_MAX_DIFF: max_diff = (long)opt_int(optarg, "--max-diff-tokens", 1, 100000000); break;
		case OPT_ENCODING: encoding = encodings[opt_choice(optarg, "--encoding", encodings)]; break;
		case OPT_TIMEOUT: timeout = (long)opt_int(optarg, "--timeout", 1, 86400); break;
		case OPT_RETRIES: retries = (long)opt_int(optarg, "--retries", 0, 100); break;
		case OPT_STREAM: stream = 1; break;
		case OPT_ALLOW_SECRETS: allow_secrets = 1; break;
		case 'y': yes = 1; break;
		case 'p': print = 1; break;
		case OPT_HOOK: hook = hooks[opt_choice(optarg, "--hook", hooks)]; break;
		case 'v': verbose = 1; break;
		case 'h': opt_help(usage);
		case OPT_VERSION: opt_version();
		default: usage_error("unknown option");
		}
	}
	int nextra = argc - optind;
	if (nextra > 0 && strcmp(argv[optind - 1], "--") != 0)
		usage_error("unexpected argument '%s' (git commit options go after --)", argv[optind]);
	if (yes && print)
		usage_error("-y and -p exclude each other");
	if (hook)
		return hook_main(hook);

	Error e;
	char *prompt = NULL;
	if (prompt_file) {
		uint8_t *buf;
		size_t n;
		if (io_read_all(prompt_file, &buf, &n, &e))
			die_err(&e);
		prompt = (char *)buf;
		if (blank(prompt, n))
			die("%s: the prompt is empty", prompt_file);
	}
	model = model ? model : env_or("GCM_MODEL", NULL, "gpt-4o-mini");
	base = base ? base : env_or("GCM_API_BASE", "OPENAI_BASE_URL", "https://api.openai.com/v1");
	char *base_trim = strdup(base);
	if (!base_trim)
		die("out of memory");
	for (size_t n = strlen(base_trim); n && base_trim[n - 1] == '/'; n--)
		base_trim[n - 1] = 0;
	/* the first backoff wait; tests set it small (documented in gcm(1)) */
	double backoff = atof(env_or("GCM_RETRY_BASE", NULL, "1"));
	if (!(backoff >= 0 && backoff <= 60))
		backoff = 1;

	size_t diff_len;
	char *diff = read_diff(&diff_len);
	if (blank(diff, diff_len))
		die("nothing staged");

	if (!allow_secrets)
		refuse_secrets(diff, diff_len);

	GcmKey key;
	if (gcm_key_load(&key, &e))
		die_err(&e);
	GcmTokens *tokens = gcm_tokens_open(encoding ? encoding : gcm_encoding_for_model(model), &e);
	if (!tokens)
		die_err(&e);

	FILE *tty, *tty_in;
	int tty_fd = open_terminal(!yes && !print, &tty, &tty_in);
	int interactive = tty_fd >= 0;
	struct sigaction sa = {.sa_handler = on_sigint};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);    /* no SA_RESTART: a read on the terminal returns */
	curl_global_init(CURL_GLOBAL_DEFAULT);

	GcmClient client = {
		.base = base_trim, .key = key.key, .key_source = key.source,
		.req = {.model = model, .style = style, .body = body, .instruction = prompt,
			.temperature = temperature, .max_tokens = (int)max_tokens, .stream = stream},
		.max_diff_tokens = (size_t)max_diff, .tokens = tokens,
		.connect_timeout = timeout < 10 ? timeout : 10, .timeout = timeout, .retries = (int)retries,
		.backoff = backoff, .retry_after_max = 120, .trace = verbose ? stderr : NULL, .diag = stderr,
		.show = !stream ? NULL : interactive ? tty : isatty(2) ? stderr : NULL,
		.cancel = (const volatile int *)&interrupted, .diff = diff, .diff_len = diff_len,
	};
	Session s = {.client = &client, .tty_fd = tty_fd, .extra = argv + optind, .nextra = nextra};
	char *msg = NULL;
	int status = EXIT_FAIL;
	if (do_generate(&s, &msg, &e)) {
		if (interrupted) {
			fprintf(tty ? tty : stderr, "\nCommit cancelled.\n");
		} else {
			warnx_("%s", e.msg);
		}
	} else if (interactive) {
		GcmLoop L = {.in = tty_in, .out = tty, .generate = do_generate, .edit = do_edit,
			     .commit = do_commit, .ctx = &s, .interrupted = (const volatile int *)&interrupted};
		prompt_fd = fileno(tty);
		int r = gcm_loop_run(&L, msg, &e);
		prompt_fd = -1;
		if (r == GCM_FAILED)
			warnx_("%s", e.msg);
		status = r == GCM_COMMITTED ? EXIT_OK : EXIT_FAIL;
	} else if (yes) {
		if (do_commit(&s, msg, &e))
			warnx_("%s", e.msg);
		else
			status = EXIT_OK;
		free(msg);
	} else {
		printf("%s\n", msg);
		status = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
		free(msg);
	}

	if (s.tmpdir) {
		rmdir(s.tmpdir);
		free(s.tmpdir);
	}
	if (tty)
		fclose(tty);
	if (tty_in)
		fclose(tty_in);
	gcm_client_free(&client);
	gcm_tokens_free(tokens);
	gcm_key_free(&key);
	free(diff);
	free(prompt);
	free(base_trim);
	curl_global_cleanup();
	return status;
}
