# toktrain/: tok-train, the byte-level BPE trainer (library part in the archive).
LIB_SRCS += toktrain/bpe_count.c toktrain/bpe_train.c toktrain/bpe_export.c
PROGRAMS += tok-train
PROG_tok-train := toktrain/tok-train.c
ALL_CFLAGS += -Itoktrain
