#!/bin/sh
# gcm end to end on a terminal: a temporary git repository, the scripted
# server (tests/gcm_server.py), and the (a)ccept, (e)dit, (r)egenerate,
# (c)ancel loop typed through a pseudo-terminal (tests/gcm_pty.py).
. "$TOP/tests/lib.sh"
GCM=$BIN/gcm
[ -x "$GCM" ] || { fail gcm-built "$GCM missing"; finish; }

unset GCM_API_KEY OPENAI_API_KEY GCM_MODEL GCM_API_BASE OPENAI_BASE_URL XDG_CONFIG_HOME \
	http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy GIT_DIR GIT_WORK_TREE \
	VISUAL EDITOR GIT_EDITOR
export HOME="$T/home" TMPDIR="$T/tmp" no_proxy=127.0.0.1 NO_PROXY=127.0.0.1 TERM=dumb
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=Tester GIT_AUTHOR_EMAIL=t@example.com \
	GIT_COMMITTER_NAME=Tester GIT_COMMITTER_EMAIL=t@example.com GCM_RETRY_BASE=0.05
mkdir -p "$HOME" "$TMPDIR"
KEY=sk-gcmtty-$$-Rk4TmWq9Lx
export GCM_API_KEY=$KEY
LOG=$T/server.log
python3 "$TOP/tests/gcm_server.py" serve --port-file "$T/port" --log "$LOG" 2>"$T/server.err" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$T"' EXIT
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$T/port" ] || { fail gcm-server "did not start: $(cat "$T/server.err")"; finish; }
S=http://127.0.0.1:$(cat "$T/port")/s
q() { python3 "$TOP/tests/gcm_server.py" q "$LOG" "$1"; }
nreq() { q "len([r for r in reqs if r['scenario'] == '$1'])"; }
expect() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "wanted '$2', got '$3'"; fi; }
has() { if grep -q -- "$2" "$T/tty"; then ok "$1"; else fail "$1" "no '$2' in: $(tr '\r\n' '  ' <"$T/tty" | tail -c 300)"; fi; }
ASK='(c)ancel? '
# pty STEP... -- ARGS: gcm on a terminal with the staged diff on stdin
pty() { python3 "$TOP/tests/gcm_pty.py" --stdin "$T/staged.diff" --log "$T/tty" "$@"; }

if ! python3 -c 'import os; os.openpty()' 2>/dev/null; then
	skip gcm-tty "no pseudo-terminals here"
	finish
fi
R=$T/repo
git init -q "$R" && cd "$R" || exit 1
echo one >a.txt && git add a.txt && git commit -q -m init
stage() { echo "$1" >>a.txt && git add a.txt && git diff --cached >"$T/staged.diff"; }
head_msg() { git log -1 --format=%B; }

# a git in front of the real one records how gcm runs it
mkdir -p "$T/wrap"
REALGIT=$(command -v git)
cat >"$T/wrap/git" <<W
#!/bin/sh
if [ "\$1" = commit ]; then
	tr '\0' ' ' </proc/\$\$/cmdline >"$T/git-cmdline"
	tr '\0' '\n' </proc/\$\$/environ >"$T/git-environ"
fi
exec "$REALGIT" "\$@"
W
chmod +x "$T/wrap/git"

# --- a: accept ---
stage two
PATH="$T/wrap:$PATH" pty --cmdline "$T/gcm-cmdline" "$ASK=>a\n" -- "$GCM" --api-base "$S/ok.a/v1"
expect gcm-tty-accept-exit 0 $?
has gcm-tty-shows-proposal "Proposed commit message:"
has gcm-tty-asks "Do you want to (a)ccept, (e)dit, (r)egenerate, or (c)ancel?"
expect gcm-tty-accept-commits "Add widget support #1" "$(head_msg)"
has gcm-tty-accept-git-reports "1 file changed"
expect gcm-tty-accept-clean-tree "" "$(git diff --cached --name-only)"
grep -q "gcm --api-base $S/ok.a/v1" "$T/gcm-cmdline" && ! grep -q -- "$KEY" "$T/gcm-cmdline" &&
	ok gcm-tty-key-not-in-gcm-cmdline || fail gcm-tty-key-not-in-gcm-cmdline "$(cat "$T/gcm-cmdline")"
grep -q "commit -F $TMPDIR/gcm-[A-Za-z0-9]*/COMMIT_MSG" "$T/git-cmdline" && ! grep -q -- "$KEY" "$T/git-cmdline" "$T/git-environ" &&
	ok gcm-tty-key-not-in-git-child || fail gcm-tty-key-not-in-git-child "$(cat "$T/git-cmdline")"

# --- e: edit with a scripted editor ---
cat >"$T/editor" <<'E'
#!/bin/sh
# keeps gcm's comment lines, replaces the subject, adds a body; notes its terminal
[ -t 0 ] && [ -t 1 ] && echo yes >"$(dirname "$0")/editor-on-tty"
basename "$1" >"$(dirname "$0")/editor-file"
{ echo "Edited: count widgets"; echo; echo "Body from the editor."; grep '^#' "$1"; } >"$1.new" && mv "$1.new" "$1"
E
chmod +x "$T/editor"
stage three
GIT_EDITOR=$T/editor pty "$ASK=>e\n" -- "$GCM" --api-base "$S/ok.e/v1"
expect gcm-tty-edit-exit 0 $?
expect gcm-tty-edit-commits "$(printf 'Edited: count widgets\n\nBody from the editor.')" "$(head_msg)"
expect gcm-tty-editor-on-terminal "yes COMMIT_EDITMSG" "$(cat "$T/editor-on-tty" 2>/dev/null) $(cat "$T/editor-file")"
# an editor from git config, with arguments, run the way git runs it
printf '#!/bin/sh\n[ "$1" = --flag ] && shift; echo "Edited with a flag" >"$1"\n' >"$T/editor2"
chmod +x "$T/editor2"
git config core.editor "$T/editor2 --flag"
stage four
pty "$ASK=>e\n" -- "$GCM" --api-base "$S/ok.e2/v1"
expect gcm-tty-edit-core-editor "0 Edited with a flag" "$? $(head_msg)"
git config --unset core.editor
# emptied in the editor: cancelled
stage five
head=$(git rev-parse HEAD)
GIT_EDITOR="sh -c ': >\"\$1\"' -" pty "$ASK=>e\n" -- "$GCM" --api-base "$S/ok.e3/v1"
expect gcm-tty-empty-edit-cancels "1 $head" "$? $(git rev-parse HEAD)"
has gcm-tty-empty-edit-says "Commit cancelled."

# --- r: regenerate, then accept ---
pty "$ASK=>r\n" "$ASK=>a\n" -- "$GCM" --api-base "$S/ok.r/v1"
expect gcm-tty-regenerate "0 Add widget support #2 2" "$? $(head_msg) $(nreq ok.r)"
[ "$(grep -c 'Proposed commit message:' "$T/tty")" = 2 ] && ok gcm-tty-regenerate-shows-again || fail gcm-tty-regenerate-shows-again "$(cat "$T/tty")"

# --- c, EOF, Ctrl-C, other answers: nothing committed ---
stage six
head=$(git rev-parse HEAD)
pty "$ASK=>c\n" -- "$GCM" --api-base "$S/ok.c/v1"
expect gcm-tty-cancel "1 $head" "$? $(git rev-parse HEAD)"
has gcm-tty-cancel-says "Commit cancelled."
pty "$ASK=><EOF>" -- "$GCM" --api-base "$S/ok.eof/v1"
expect gcm-tty-eof-cancels "1 $head" "$? $(git rev-parse HEAD)"
has gcm-tty-eof-says "Commit cancelled."
pty "$ASK=><INT>" -- "$GCM" --api-base "$S/ok.int/v1"
expect gcm-tty-ctrl-c-cancels "1 $head" "$? $(git rev-parse HEAD)"
has gcm-tty-ctrl-c-says "Commit cancelled."
pty "$ASK=>maybe\n" "Please answer a, e, r or c.=>c\n" -- "$GCM" --api-base "$S/ok.other/v1"
expect gcm-tty-other-answer-asks-again "1 $head 2" "$? $(git rev-parse HEAD) $(grep -c 'Do you want to' "$T/tty")"

# --- errors and secrets: nothing committed, no key shown ---
pty -- "$GCM" --api-base "$S/unauthorized/v1"
expect gcm-tty-error "1 $head" "$? $(git rev-parse HEAD)"
has gcm-tty-error-message "gcm: 401 Unauthorized"
pty -- "$GCM" -v --api-base "$S/unauthorized.v/v1"
has gcm-tty-verbose-redacted "Authorization: \[redacted\]"
grep -q -- "$KEY" "$T/tty" && fail gcm-tty-no-key-in-output "the key was shown" || ok gcm-tty-no-key-in-output
echo 'PRIVATE="-----BEGIN OPENSSH PRIVATE KEY-----"' >id.txt && git add id.txt && git diff --cached >"$T/staged.diff"
pty -- "$GCM" --api-base "$S/ok.secret/v1"
expect gcm-tty-secret-refused "1 $head 0" "$? $(git rev-parse HEAD) $(nreq ok.secret)"
has gcm-tty-secret-names-line "gcm: id.txt:1: looks like a private key block"
git rm -q --cached id.txt && rm id.txt

# --- nothing piped: gcm runs git diff --cached itself ---
git config color.ui always
python3 "$TOP/tests/gcm_pty.py" --log "$T/tty" "$ASK=>c\n" -- "$GCM" --api-base "$S/ok.self/v1"
expect gcm-tty-runs-git-diff "1 True" "$? $(q "'+six' in reqs[-1]['body']['messages'][1]['content'] and 'diff --git a/a.txt' in reqs[-1]['body']['messages'][1]['content']")"
expect gcm-tty-git-diff-uncoloured "False" "$(q "chr(27) in reqs[-1]['body']['messages'][1]['content']")"
git config --unset color.ui
git reset -q && git diff --cached >"$T/staged.diff"
python3 "$TOP/tests/gcm_pty.py" --log "$T/tty" -- "$GCM" --api-base "$S/ok.none/v1"
expect gcm-tty-nothing-staged "1 0" "$? $(nreq ok.none)"
has gcm-tty-nothing-staged-says "gcm: nothing staged"

# --- --stream shows the reply as it arrives ---
stage seven
pty "$ASK=>c\n" -- "$GCM" --stream --api-base "$S/stream/v1"
tr -d '\r' <"$T/tty" | awk '/^Add streaming widget support$/ { s = NR } /^Proposed commit message:/ { p = NR } END { exit !(s && p && s < p) }' &&
	ok gcm-tty-stream-shown-first || fail gcm-tty-stream-shown-first "$(tr '\r\n' '  ' <"$T/tty")"

# --- the key is in no file ---
if grep -rl -- "$KEY" "$R" "$HOME" "$TMPDIR" "$T/tty" >/dev/null 2>&1; then fail gcm-tty-key-in-no-file "$(grep -rl -- "$KEY" "$R" "$HOME" "$TMPDIR" | head -1)"
else ok gcm-tty-key-in-no-file; fi
finish
