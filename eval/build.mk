# eval/: gpt-eval (loss, perplexity, bits per byte; HellaSwag).
LIB_SRCS += eval/eval.c
PROGRAMS += gpt-eval
PROG_gpt-eval := eval/gpt-eval.c
