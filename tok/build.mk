# tok/: the tokenizer library, the built-in encodings, tok-encode, tok-decode.
LIB_SRCS += tok/pretok.c tok/table.c tok/tok.c tok/bpe.c tok/load.c tok/tokfile.c tok/builtin.c
PROGRAMS += tok-encode tok-decode
PROG_tok-encode := tok/tok-encode.c
PROG_tok-decode := tok/tok-decode.c

# The built-in encodings: each .tiktoken file is checked against its pinned
# sha256 (tok/encodings/SHA256SUMS), then turned into a table block that
# tok/builtin.c embeds with .incbin.
TOK_GEN := $(BUILD)/gen/tok
TOK_TABLES := $(TOK_GEN)/gpt2.tab $(TOK_GEN)/p50k_base.tab $(TOK_GEN)/cl100k_base.tab \
	      $(TOK_GEN)/o200k_base.tab $(TOK_GEN)/bytes.tab
$(TOK_GEN)/gen_table: tok/gen_table.c tok/table.c tok/pretok.c lib/io.c lib/err.c tok/table.h tok/hash.h tok/unicode_tab.h
	@mkdir -p $(dir $@)
	$(HOSTCC) -std=c11 -D_GNU_SOURCE -O2 -Ilib -Itok tok/gen_table.c tok/table.c tok/pretok.c lib/io.c lib/err.c -o $@
HOSTCC ?= cc
$(TOK_GEN)/sha256.ok: tok/encodings/SHA256SUMS tok/encodings/*.tiktoken
	@mkdir -p $(dir $@)
	cd tok/encodings && sha256sum --quiet -c SHA256SUMS
	@touch $@
$(TOK_GEN)/%.tab: tok/encodings/%.tiktoken $(TOK_GEN)/gen_table $(TOK_GEN)/sha256.ok
	$(TOK_GEN)/gen_table $* $(TOK_PRETOK_$*) $< $@ $(TOK_SPECIAL_$*)
$(TOK_GEN)/bytes.tab: $(TOK_GEN)/gen_table
	$(TOK_GEN)/gen_table bytes none - $@
TOK_PRETOK_gpt2 := gpt2
TOK_PRETOK_p50k_base := gpt2
TOK_PRETOK_cl100k_base := cl100k
TOK_PRETOK_o200k_base := o200k
TOK_SPECIAL_gpt2 := '<|endoftext|>=50256'
TOK_SPECIAL_p50k_base := '<|endoftext|>=50256'
TOK_SPECIAL_cl100k_base := '<|endoftext|>=100257' '<|fim_prefix|>=100258' '<|fim_middle|>=100259' \
	'<|fim_suffix|>=100260' '<|endofprompt|>=100276'
TOK_SPECIAL_o200k_base := '<|endoftext|>=199999' '<|endofprompt|>=200018'
$(BUILD)/tok/builtin.o: $(TOK_TABLES)
$(BUILD)/tok/builtin.o: ALL_CFLAGS += -DTOK_TABLE_DIR='"$(TOK_GEN)"'

# tests/tok_each: a helper of tests/tiktoken.sh (many strings, each encoded alone)
$(BUILD)/tests/tok_each: $(BUILD)/tests/tok_each.o $(BUILD)/libgptkit.a
	$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@
test: $(BUILD)/tests/tok_each
