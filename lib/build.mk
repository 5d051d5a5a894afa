LIB_SRCS += lib/err.c lib/opts.c lib/io.c lib/progress.c lib/stream.c lib/mapguard.c
