/* gcm's git hook: a prepare-commit-msg hook that fills in the message for a
 * plain `git commit`.  It is only ever written where no other hook is, and
 * only a hook gcm wrote is removed. */
#ifndef GCM_HOOK_H
#define GCM_HOOK_H

#include "err.h"

/* The first line after #! that marks a hook as gcm's. */
#define GCM_HOOK_MARK "# gcm prepare-commit-msg hook"

/* Write the hook at hook_path running gcm_path; -1 (file untouched) when
 * another hook is there.  Rewriting gcm's own hook is fine. */
int gcm_hook_install(const char *hook_path, const char *gcm_path, Error *e);
/* Remove gcm's hook; -1 when there is none or it is another hook. */
int gcm_hook_uninstall(const char *hook_path, Error *e);

#endif
