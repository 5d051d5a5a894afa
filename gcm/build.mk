# gcm: the commit-message writer.  Library objects (no main) go into the
# shared archive; gcm/gcm.c is the tool.
LIB_SRCS += gcm/reply.c gcm/tokens.c gcm/diff.c gcm/secrets.c gcm/key.c gcm/request.c \
	gcm/http.c gcm/client.c gcm/git.c gcm/hook.c gcm/loop.c
PROGRAMS += gcm
PROG_gcm := gcm/gcm.c
