#!/bin/sh
# gcm against the scripted Chat Completions server (tests/gcm_server.py),
# without a terminal: what the server received and what gcm printed and did.
. "$TOP/tests/lib.sh"
GCM=$BIN/gcm
[ -x "$GCM" ] || { fail gcm-built "$GCM missing"; finish; }

# --- a clean environment: no real key, config, proxy or terminal use ---
unset GCM_API_KEY OPENAI_API_KEY GCM_MODEL GCM_API_BASE OPENAI_BASE_URL XDG_CONFIG_HOME \
	http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy GIT_DIR GIT_WORK_TREE
export HOME="$T/home" TMPDIR="$T/tmp" no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=Tester GIT_AUTHOR_EMAIL=t@example.com \
	GIT_COMMITTER_NAME=Tester GIT_COMMITTER_EMAIL=t@example.com GCM_RETRY_BASE=0.05
mkdir -p "$HOME" "$TMPDIR"
KEY=sk-gcmtest-$$-Zq8XwVvKp3
LOG=$T/server.log

python3 "$TOP/tests/gcm_server.py" serve --port-file "$T/port" --log "$LOG" 2>"$T/server.err" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$T"' EXIT
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$T/port" ] || { fail gcm-server "did not start: $(cat "$T/server.err")"; finish; }
PORT=$(cat "$T/port")
S=http://127.0.0.1:$PORT/s

q() { python3 "$TOP/tests/gcm_server.py" q "$LOG" "$1"; }
nreq() { q "len([r for r in reqs if r['scenario'] == '$1'])"; }
# expect NAME WANT GOT
expect() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "wanted '$2', got '$3'"; fi; }
# the key must not be in these files
no_key() {
	name=$1; shift
	if grep -l -- "$KEY" "$@" >/dev/null 2>&1; then fail "$name" "the key appears in $(grep -l -- "$KEY" "$@" | head -1)"
	else ok "$name"; fi
}

# A staged-looking diff.
cat >"$T/small.diff" <<'D'
diff --git a/widget.c b/widget.c
index 1111111..2222222 100644
--- a/widget.c
+++ b/widget.c
@@ -1,3 +1,4 @@
 #include <stdio.h>
+int widget_count;
 int main(void)
 {
D
run() { scen=$1; shift; GCM_API_KEY=$KEY "$GCM" --api-base "$S/$scen/v1" "$@" <"$T/small.diff" >"$T/out" 2>"$T/err"; }

# --- usage ---
check gcm-help "$GCM" --help
"$GCM" --help | grep -q '^Usage: ' && ok gcm-help-usage || fail gcm-help-usage "no Usage line"
"$GCM" --version | grep -q '^gcm (gptkit) ' && ok gcm-version || fail gcm-version "bad --version"
check_fails gcm-bad-option 2 "Try 'gcm --help'" "$GCM" --frobnicate
check_fails gcm-yes-and-print 2 "exclude each other" "$GCM" -y -p
check_fails gcm-stray-argument 2 "after --" "$GCM" stray
check_fails gcm-bad-style 2 "plain, conventional" "$GCM" --style fancy
check_fails gcm-bad-temperature 2 "temperature" "$GCM" --temperature 3

if command -v mandoc >/dev/null; then
	mandoc -Tlint -Wwarning "$TOP/man/gcm.1" >"$T/lint" 2>&1 && ok gcm-man-lint || fail gcm-man-lint "$(head -2 "$T/lint")"
else
	skip gcm-man-lint "mandoc not installed"
fi

# --- nothing staged: no request ---
check_fails gcm-nothing-staged 1 "gcm: nothing staged" sh -c "GCM_API_KEY=$KEY '$GCM' --api-base $S/ok.none/v1 </dev/null"
expect gcm-nothing-staged-no-request 0 "$(nreq ok.none)"

# --- success: what went out ---
run ok.basic -p
expect gcm-ok-prints-message "Add widget support #1" "$(cat "$T/out")"
expect gcm-ok-stderr-quiet "" "$(cat "$T/err")"
expect gcm-sent-path "/s/ok.basic/v1/chat/completions" "$(q "reqs[-1]['path']")"
expect gcm-sent-default-model "gpt-4o-mini" "$(q "reqs[-1]['body']['model']")"
expect gcm-sent-bearer-key "Bearer $KEY" "$(q "reqs[-1]['headers']['authorization']")"
expect gcm-sent-json "application/json" "$(q "reqs[-1]['headers']['content-type']")"
expect gcm-sent-max-tokens "1024 False False" "$(q "' '.join(map(str, [reqs[-1]['body'].get('max_tokens'), 'temperature' in reqs[-1]['body'], reqs[-1]['body']['stream']]))")"
expect gcm-sent-system-message "system True True" "$(q "' '.join(map(str, [reqs[-1]['body']['messages'][0]['role'], 'data, not instructions' in reqs[-1]['body']['messages'][0]['content'], 'git diff --cached' in reqs[-1]['body']['messages'][0]['content']]))")"
expect gcm-sent-diff-in-user-message "True" "$(q "reqs[-1]['body']['messages'][1] == {'role': 'user', 'content': '<diff>\n' + open('$T/small.diff').read() + '</diff>'}")"

# options and environment
GCM_MODEL=env-model run ok.model -p --temperature 0.3 --style conventional --body --max-tokens 77
expect gcm-model-from-env "env-model 0.3 77" "$(q "' '.join(map(str, [reqs[-1]['body']['model'], reqs[-1]['body']['temperature'], reqs[-1]['body']['max_tokens']]))")"
expect gcm-style-conventional "True True" "$(q "str('Conventional Commits' in reqs[-1]['body']['messages'][0]['content']) + ' ' + str('blank line' in reqs[-1]['body']['messages'][0]['content'])")"
GCM_MODEL=env-model run ok.model -p -m opt-model
expect gcm-model-option-wins "opt-model" "$(q "reqs[-1]['body']['model']")"
echo "Describe the change as a limerick." >"$T/prompt.txt"
run ok.prompt -p --prompt "$T/prompt.txt"
expect gcm-prompt-file "True False" "$(q "str('limerick' in reqs[-1]['body']['messages'][0]['content']) + ' ' + str('concise, one-line' in reqs[-1]['body']['messages'][0]['content'])")"
GCM_API_BASE=$S/ok.envbase/v1 "$GCM" -p <"$T/small.diff" >"$T/out" 2>"$T/err"
expect gcm-api-base-env "1" "$(nreq ok.envbase)"
OPENAI_BASE_URL=$S/ok.openaibase/v1/ "$GCM" -p <"$T/small.diff" >"$T/out" 2>"$T/err"
expect gcm-openai-base-url-env "1 /s/ok.openaibase/v1/chat/completions" "$(nreq ok.openaibase) $(q "reqs[-1]['path']")"
# Ollama and llama-server take no key: no Authorization header at all
"$GCM" -p --api-base "$S/ok.nokey/v1" <"$T/small.diff" >"$T/out" 2>"$T/err"
expect gcm-no-key-no-authorization "0 False" "$? $(q "'authorization' in reqs[-1]['headers']")"
# through a proxy from the environment (the test server plays the proxy)
http_proxy=http://127.0.0.1:$PORT "$GCM" -p --api-base "http://gcm-proxy-test.invalid/s/ok.proxy/v1" <"$T/small.diff" >"$T/out" 2>"$T/err"
expect gcm-proxy-env "0 True http://gcm-proxy-test.invalid/s/ok.proxy/v1/chat/completions" "$? $(q "reqs[-1]['proxied']") $(q "reqs[-1]['target']")"

# --- the key file ---
mkdir -p "$HOME/.config/gcm"
printf '%s\n' "$KEY-file" >"$HOME/.config/gcm/key"
chmod 644 "$HOME/.config/gcm/key"
check_fails gcm-key-file-0644-refused 1 "key: mode 0644" sh -c "'$GCM' -p --api-base $S/ok.keyfile/v1 <'$T/small.diff'"
chmod 600 "$HOME/.config/gcm/key"
"$GCM" -p --api-base "$S/ok.keyfile/v1" <"$T/small.diff" >"$T/out" 2>"$T/err"
expect gcm-key-file-0600-used "Bearer $KEY-file" "$(q "reqs[-1]['headers']['authorization']")"
rm -f "$HOME/.config/gcm/key"

# --- streaming ---
run stream -p --stream
expect gcm-stream-message "0 Add streaming widget support" "$? $(cat "$T/out")"
expect gcm-stream-requested "True True" "$(q "str(reqs[-1]['body']['stream']) + ' ' + str('text/event-stream' in reqs[-1]['headers']['accept'])")"

# --- errors: one line, exit 1, never the key ---
run unauthorized -p
expect gcm-401-exit 1 $?
grep -q '^gcm: 401 Unauthorized: the server refused the API key from GCM_API_KEY' "$T/err" && ok gcm-401-message || fail gcm-401-message "$(cat "$T/err")"
no_key gcm-401-key-not-echoed "$T/err" "$T/out"
run forbidden -p
grep -q '^gcm: 403 Forbidden' "$T/err" && [ "$(wc -l <"$T/err")" -eq 1 ] && ok gcm-403 || fail gcm-403 "$(cat "$T/err")"
run notfound -p -m no-such-model
grep -q "^gcm: 404 Not Found: unknown model 'no-such-model'" "$T/err" && ok gcm-404 || fail gcm-404 "$(cat "$T/err")"
run badrequest -p
grep -q "^gcm: 400 Bad Request: 'messages' must contain the word 'json'$" "$T/err" && ok gcm-400-server-message || fail gcm-400-server-message "$(cat "$T/err")"
run badjson -p
grep -q '^gcm: the reply is not the expected JSON' "$T/err" && [ ! -s "$T/out" ] && ok gcm-malformed-json || fail gcm-malformed-json "$(cat "$T/err")"
run wrongshape -p
grep -q '^gcm: the reply is not the expected JSON: no "choices"' "$T/err" && ok gcm-unexpected-json || fail gcm-unexpected-json "$(cat "$T/err")"
start=$(date +%s)
run slow -p --timeout 1
rc=$?
secs=$(( $(date +%s) - start ))
grep -q 'timed out (--timeout 1)' "$T/err" && [ $rc -eq 1 ] && [ $secs -lt 3 ] && ok gcm-timeout || fail gcm-timeout "rc $rc after ${secs}s: $(cat "$T/err")"
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
GCM_API_KEY=$KEY "$GCM" -p --api-base "http://127.0.0.1:$closed/v1" <"$T/small.diff" >"$T/out" 2>"$T/err"
grep -q 'cannot connect (refused or unreachable)' "$T/err" && ok gcm-connection-refused || fail gcm-connection-refused "$(cat "$T/err")"
GCM_API_KEY=$KEY timeout 20 "$GCM" -p --timeout 5 --api-base "http://gcm-test.invalid/v1" <"$T/small.diff" >"$T/out" 2>"$T/err"
grep -q '^gcm: http://gcm-test.invalid/v1/chat/completions: cannot resolve the host name (DNS)' "$T/err" && ok gcm-dns-error || fail gcm-dns-error "$(cat "$T/err")"
GCM_API_KEY=$KEY "$GCM" -p --api-base "https://127.0.0.1:$PORT/s/ok.tls/v1" <"$T/small.diff" >"$T/out" 2>"$T/err"
grep -q 'TLS failed' "$T/err" && ok gcm-tls-error || fail gcm-tls-error "$(cat "$T/err")"

# --- retries ---
run ratelimit -p
rc=$?
expect gcm-429-retry-after-then-success "0 Add rate-limited widget 2" "$rc $(cat "$T/out") $(nreq ratelimit)"
expect gcm-429-waited-retry-after "True" "$(q "[r['t'] for r in reqs if r['scenario'] == 'ratelimit'][1] - [r['t'] for r in reqs if r['scenario'] == 'ratelimit'][0] >= 0.9")"
run ratelimit_long -p
grep -q 'asks to wait 3600 s' "$T/err" && [ "$(nreq ratelimit_long)" = 1 ] && ok gcm-429-long-wait-gives-up || fail gcm-429-long-wait-gives-up "$(cat "$T/err")"
run server_error -p
expect gcm-500-then-success "0 Add widget after a server error 2" "$? $(cat "$T/out") $(nreq server_error)"
run unavailable -p
expect gcm-503-three-retries "1 4" "$? $(nreq unavailable)"
grep -q '^gcm: server error 503, after 4 attempts: Service unavailable' "$T/err" && ok gcm-503-message || fail gcm-503-message "$(tail -1 "$T/err")"
run unavailable.once -p --retries 1
expect gcm-retries-option "2" "$(nreq unavailable.once)"
run reset -p
expect gcm-connection-reset-retried "0 Add widget after a reset 2" "$? $(cat "$T/out") $(nreq reset)"

# --- what servers do to requests and replies ---
run think -p
expect gcm-think-and-fences-removed "Fix the widget frobnicator" "$(cat "$T/out")"
run maxtokens -p -m o3-mini
expect gcm-max-completion-tokens-retry "0 Add reasoning widget 2" "$? $(cat "$T/out") $(nreq maxtokens)"
expect gcm-max-completion-tokens-sent "1024 None 1024" "$(q "' '.join(str(r['body'].get(k)) for r, k in [(reqs[-2], 'max_tokens'), (reqs[-1], 'max_tokens'), (reqs[-1], 'max_completion_tokens')])")"
run empty -p
expect gcm-empty-regenerated-once "0 Add widget on the second try 2" "$? $(cat "$T/out") $(nreq empty)"
run always_empty -p
grep -q 'empty message twice' "$T/err" && [ "$(nreq always_empty)" = 2 ] && ok gcm-empty-twice-fails || fail gcm-empty-twice-fails "$(cat "$T/err")"
run long -p
grep -q '^gcm: warning: the subject is 92 characters, over 72$' "$T/err" && [ -s "$T/out" ] && ok gcm-long-subject-warning || fail gcm-long-subject-warning "$(cat "$T/err")"
run body -p --body
expect gcm-body-message "$(printf 'Add widget support\n\nThe widget needs support because users asked.\nIt is small.')" "$(cat "$T/out")"
run escape -p
expect gcm-terminal-escapes-removed "Add widget support" "$(cat "$T/out")"

# --- large diffs: cut to the token budget ---
python3 - "$T/big.diff" <<'P'
import sys
out = []
def head(p):
    out.append(f"diff --git a/{p} b/{p}\nindex 1111111..2222222 100644\n--- a/{p}\n+++ b/{p}\n")
head("src/small.c")
out.append("@@ -1,2 +1,3 @@\n int a;\n+int small_change;\n int b;\n")
head("src/big.c")
for h in range(30):
    out.append(f"@@ -{h*50+1},5 +{h*50+1},25 @@\n")
    out.extend(f"+\tstatic int big_{h}_{i} = frobnicate({h}, {i}, \"widget\");\n" for i in range(20))
head("package-lock.json")
out.append("@@ -1,1 +1,400 @@\n")
out.extend(f'+    "node_modules/pkg-{i}": {{"version": "1.{i}.0", "integrity": "sha512-abc{i}"}},\n' for i in range(400))
open(sys.argv[1], "w").write("".join(out))
P
GCM_API_KEY=$KEY "$GCM" -p --api-base "$S/ok.budget/v1" --max-diff-tokens 1500 <"$T/big.diff" >"$T/out" 2>"$T/err"
expect gcm-budget-success 0 $?
q "reqs[-1]['body']['messages'][1]['content'].split('\n', 1)[1].rsplit('\n', 1)[0] + '\n'" >"$T/sent.diff"
for f in src/small.c src/big.c package-lock.json; do
	grep -q "^diff --git a/$f b/$f" "$T/sent.diff" || fail gcm-budget-headers "no header for $f"
done
grep -q '^+int small_change;' "$T/sent.diff" && ! grep -q 'node_modules/pkg-0' "$T/sent.diff" && grep -q 'big_0_0' "$T/sent.diff" &&
	! grep -q 'big_29_19' "$T/sent.diff" && ok gcm-budget-cut-largest-and-lock || fail gcm-budget-cut-largest-and-lock "unexpected cut"
grep -q '^ package-lock.json | 401 lines left out (+400 -0), lock file$' "$T/sent.diff" && grep -q '^ src/big.c | ' "$T/sent.diff" &&
	ok gcm-budget-summary-sent || fail gcm-budget-summary-sent "$(tail -3 "$T/sent.diff")"
grep -q '^gcm: the diff has [0-9]* tokens, over the budget of 1500; left out:$' "$T/err" && grep -q 'package-lock.json' "$T/err" &&
	ok gcm-budget-stderr-says-what || fail gcm-budget-stderr-says-what "$(head -2 "$T/err")"
# count the sent diff with tiktoken, independently of gptkit's tokenizer (its
# encodings come from tok/encodings through tiktoken's cache: no download)
mkdir -p "$T/tiktoken"
for e in o200k_base cl100k_base; do
	h=$(python3 -c "import hashlib; print(hashlib.sha1(b'https://openaipublic.blob.core.windows.net/encodings/$e.tiktoken').hexdigest())")
	cp "$TOP/tok/encodings/$e.tiktoken" "$T/tiktoken/$h"
done
export TIKTOKEN_CACHE_DIR=$T/tiktoken
if venv tiktoken 2>/dev/null; then
	n=$("$PY" -c 'import sys, tiktoken; print(len(tiktoken.get_encoding("o200k_base").encode(open(sys.argv[1]).read())))' "$T/sent.diff")
	[ "$n" -le 1500 ] && [ "$n" -ge 1200 ] && ok gcm-budget-tiktoken-count || fail gcm-budget-tiktoken-count "$n tokens sent for a budget of 1500"
	n=$("$PY" -c 'import sys, tiktoken; print(len(tiktoken.get_encoding("cl100k_base").encode(open(sys.argv[1]).read())))' "$T/sent.diff")
	GCM_API_KEY=$KEY "$GCM" -p --api-base "$S/ok.budget/v1" --max-diff-tokens 1500 --encoding cl100k_base <"$T/big.diff" >"$T/out" 2>"$T/err"
	q "reqs[-1]['body']['messages'][1]['content'].split('\n', 1)[1].rsplit('\n', 1)[0] + '\n'" >"$T/sent2.diff"
	n=$("$PY" -c 'import sys, tiktoken; print(len(tiktoken.get_encoding("cl100k_base").encode(open(sys.argv[1]).read())))' "$T/sent2.diff")
	[ "$n" -le 1500 ] && [ "$n" -ge 1200 ] && ok gcm-budget-encoding-option || fail gcm-budget-encoding-option "$n cl100k tokens"
else
	skip gcm-budget-tiktoken-count "tiktoken not installable"
fi
# the context window exceeded: once more with half of the diff
run_big() { scen=$1; shift; GCM_API_KEY=$KEY "$GCM" --api-base "$S/$scen/v1" "$@" <"$T/big.diff" >"$T/out" 2>"$T/err"; }
run_big context -p --max-diff-tokens 4000
expect gcm-context-retry-half "0 Add widget within context 2" "$? $(cat "$T/out") $(nreq context)"
grep -q 'half of it' "$T/err" && ok gcm-context-retry-said || fail gcm-context-retry-said "$(cat "$T/err")"
expect gcm-context-second-request-smaller "True" "$(q "len(reqs[-1]['body']['messages'][1]['content']) < 0.6 * len(reqs[-2]['body']['messages'][1]['content'])")"

# --- secrets: refused before anything leaves ---
cat >"$T/secret.diff" <<'D'
diff --git a/deploy/settings.py b/deploy/settings.py
index 1111111..2222222 100644
--- a/deploy/settings.py
+++ b/deploy/settings.py
@@ -10,2 +10,3 @@
 REGION = "eu-west-1"
+AWS_ACCESS_KEY_ID = "AKIAQWERTYUIOPASDFGH"
 BUCKET = "b"
D
GCM_API_KEY=$KEY "$GCM" -p --api-base "$S/ok.secret/v1" <"$T/secret.diff" >"$T/out" 2>"$T/err"
expect gcm-secret-refused "1 0" "$? $(nreq ok.secret)"
grep -q '^gcm: deploy/settings.py:11: looks like an AWS access key id$' "$T/err" && grep -q -- '--allow-secrets' "$T/err" &&
	! grep -q AKIAQWERTY "$T/err" && ok gcm-secret-names-file-and-line || fail gcm-secret-names-file-and-line "$(cat "$T/err")"
GCM_API_KEY=$KEY "$GCM" -p --allow-secrets --api-base "$S/ok.secret/v1" <"$T/secret.diff" >"$T/out" 2>"$T/err"
expect gcm-allow-secrets "0 1" "$? $(nreq ok.secret)"

# --- -v: a trace without the key ---
run ok.verbose -p -v
grep -q '^> POST /s/ok.verbose/v1/chat/completions' "$T/err" && grep -q '^> Authorization: \[redacted\]$' "$T/err" &&
	grep -q '^< HTTP/1.[01] 200' "$T/err" && ok gcm-verbose-trace || fail gcm-verbose-trace "$(head -5 "$T/err")"
no_key gcm-verbose-no-key "$T/err" "$T/out"
run unauthorized.v -p -v
no_key gcm-verbose-401-no-key "$T/err" "$T/out"

# --- committing without a terminal ---
R=$T/repo
git init -q "$R" && cd "$R" && echo one >a.txt && git add a.txt && git commit -q -m init && echo two >>a.txt && git add a.txt
# a git in front of the real one records how gcm runs it, and what gcm's own command line is
mkdir -p "$T/wrap"
REALGIT=$(command -v git)
cat >"$T/wrap/git" <<W
#!/bin/sh
if [ "\$1" = commit ]; then
	tr '\0' ' ' </proc/\$\$/cmdline >"$T/git-cmdline"
	tr '\0' '\n' </proc/\$\$/environ >"$T/git-environ"
	tr '\0' ' ' </proc/\$PPID/cmdline >"$T/gcm-cmdline"
	cat "\$3" >"$T/git-msgfile"
fi
exec "$REALGIT" "\$@"
W
chmod +x "$T/wrap/git"
head0=$(git rev-parse HEAD)
git diff --cached | GCM_API_KEY=$KEY "$GCM" --api-base "$S/ok.print/v1" >"$T/out" 2>"$T/err"
expect gcm-no-terminal-prints "0 Add widget support #1 $head0" "$? $(cat "$T/out") $(git rev-parse HEAD)"
git diff --cached | GCM_API_KEY=$KEY PATH="$T/wrap:$PATH" "$GCM" -y --api-base "$S/ok.yes/v1" -- --signoff >"$T/out" 2>"$T/err"
expect gcm-yes-commits "0" "$?"
expect gcm-yes-message "Add widget support #1" "$(git log -1 --format=%s)"
git log -1 --format=%b | grep -q '^Signed-off-by: Tester <t@example.com>' && ok gcm-args-after-dashdash || fail gcm-args-after-dashdash "$(git log -1 --format=%B)"
grep -q "sh $T/wrap/git commit -F $TMPDIR/gcm-[A-Za-z0-9]*/COMMIT_MSG --signoff $" "$T/git-cmdline" && ok gcm-git-commit-argv ||
	fail gcm-git-commit-argv "$(cat "$T/git-cmdline")"
no_key gcm-key-not-in-git-argv-or-env "$T/git-cmdline" "$T/git-environ" "$T/gcm-cmdline"
grep -q "^$GCM -y --api-base" "$T/gcm-cmdline" && ok gcm-own-cmdline-seen || fail gcm-own-cmdline-seen "$(cat "$T/gcm-cmdline")"
expect gcm-tmp-message-removed "" "$(ls "$TMPDIR")"
echo three >>a.txt && git add a.txt
head1=$(git rev-parse HEAD)
git diff --cached | GCM_API_KEY=$KEY "$GCM" -y --api-base "$S/ok.fail/v1" -- --no-such-git-option >"$T/out" 2>"$T/err"
rc=$?
grep -q '^gcm: git commit failed (exit 129); nothing committed$' "$T/err" && [ $rc -eq 1 ] && [ "$(git rev-parse HEAD)" = "$head1" ] &&
	ok gcm-git-failure-reported || fail gcm-git-failure-reported "rc $rc: $(tail -1 "$T/err")"
git diff --cached | GCM_API_KEY=$KEY "$GCM" -y --api-base "$S/unauthorized.commit/v1" >"$T/out" 2>"$T/err"
expect gcm-error-commits-nothing "1 $head1" "$? $(git rev-parse HEAD)"

# --- the prepare-commit-msg hook ---
"$GCM" --hook install >"$T/out" 2>"$T/err"
expect gcm-hook-install "0 installed .git/hooks/prepare-commit-msg" "$? $(cat "$T/out")"
GCM_API_KEY=$KEY GCM_API_BASE=$S/ok.hook/v1 GIT_EDITOR=true git commit -q >"$T/out" 2>"$T/err"
expect gcm-hook-fills-message "0 Add widget support #1" "$? $(git log -1 --format=%B)"
echo four >>a.txt && git add a.txt
GCM_API_KEY=$KEY GCM_API_BASE=$S/ok.hook/v1 git commit -q -m "my own message" >"$T/out" 2>"$T/err"
expect gcm-hook-leaves-m-alone "my own message 1" "$(git log -1 --format=%B) $(nreq ok.hook)"
"$GCM" --hook uninstall >"$T/out" 2>"$T/err"
expect gcm-hook-uninstall "0 removed .git/hooks/prepare-commit-msg" "$? $(cat "$T/out")"
[ ! -e .git/hooks/prepare-commit-msg ] && ok gcm-hook-removed || fail gcm-hook-removed "still there"
printf '#!/bin/sh\necho mine\n' >.git/hooks/prepare-commit-msg
check_fails gcm-hook-other-kept 1 "another prepare-commit-msg hook is installed; not overwriting it" "$GCM" --hook install
grep -q 'echo mine' .git/hooks/prepare-commit-msg && ok gcm-hook-other-untouched || fail gcm-hook-other-untouched "overwritten"
check_fails gcm-hook-other-not-removed 1 "not gcm's hook" "$GCM" --hook uninstall
cd "$T" && check_fails gcm-hook-outside-repo 1 "not in a git repository" "$GCM" --hook install

# --- the key is in no file gcm wrote ---
no_key gcm-key-in-no-file $(find "$R" "$HOME" "$TMPDIR" -type f)
finish
