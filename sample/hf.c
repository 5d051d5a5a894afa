/* Hugging Face GPT-2 <-> gptkit parameters; see hf.h. */
#include "hf.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "io.h"

/* The 16 tensors of gpt2.h in order: the HF name (per layer with %d), and
 * whether HF stores it transposed (Conv1D keeps weights as (in, out)). */
static const struct {
	const char *hf;
	int layered, transposed;
} map[GPT2_NUM_PARAM_TENSORS] = {
	{ "wte.weight", 0, 0 },
	{ "wpe.weight", 0, 0 },
	{ "h.%d.ln_1.weight", 1, 0 },
	{ "h.%d.ln_1.bias", 1, 0 },
	{ "h.%d.attn.c_attn.weight", 1, 1 },
	{ "h.%d.attn.c_attn.bias", 1, 0 },
	{ "h.%d.attn.c_proj.weight", 1, 1 },
	{ "h.%d.attn.c_proj.bias", 1, 0 },
	{ "h.%d.ln_2.weight", 1, 0 },
	{ "h.%d.ln_2.bias", 1, 0 },
	{ "h.%d.mlp.c_fc.weight", 1, 1 },
	{ "h.%d.mlp.c_fc.bias", 1, 0 },
	{ "h.%d.mlp.c_proj.weight", 1, 1 },
	{ "h.%d.mlp.c_proj.bias", 1, 0 },
	{ "ln_f.weight", 0, 0 },
	{ "ln_f.bias", 0, 0 },
};

/* The gptkit shape of tensor i for one layer: rows x cols (rows = 1 for vectors). */
static void shape_of(const GPT2Config *c, int i, int64_t *rows, int64_t *cols)
{
	int64_t C = c->channels;
	switch (i) {
	case 0: *rows = c->vocab_size; *cols = C; break;   /* wte, unpadded */
	case 1: *rows = c->max_seq_len; *cols = C; break;  /* wpe */
	case 4: *rows = 3 * C; *cols = C; break;           /* qkvw */
	case 5: *rows = 1; *cols = 3 * C; break;           /* qkvb */
	case 6: *rows = C; *cols = C; break;               /* attprojw */
	case 10: *rows = 4 * C; *cols = C; break;          /* fcw */
	case 11: *rows = 1; *cols = 4 * C; break;          /* fcb */
	case 12: *rows = C; *cols = 4 * C; break;          /* fcprojw */
	default: *rows = 1; *cols = C; break;              /* LayerNorms, other biases */
	}
}

/* ------------------------------------------------------------------ config */

static int get_int(json_t *root, const char *key, int dflt, int *out, const char *name, Error *e)
{
	json_t *v = json_object_get(root, key);
	if (!v || json_is_null(v)) {
		if (dflt < 0)
			return err_set(e, "%s: config lacks \"%s\"", name, key);
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > (1 << 24))
		return err_set(e, "%s: config \"%s\" is not a positive integer", name, key);
	*out = (int)json_integer_value(v);
	return 0;
}

static int want_bool(json_t *root, const char *key, int want, const char *name, Error *e)
{
	json_t *v = json_object_get(root, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v) || json_is_true(v) != want)
		return err_set(e, "%s: config \"%s\" must be %s for GPT-2", name, key, want ? "true" : "false");
	return 0;
}

int hf_config_parse(const char *text, size_t len, const char *name, GPT2Config *c, Error *e)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je);
	if (!root)
		return err_set(e, "%s: JSON at offset %d: %s", name, je.position, je.text);
	int rc = -1;
	if (!json_is_object(root)) {
		err_set(e, "%s: not a JSON object", name);
		goto out;
	}
	json_t *mt = json_object_get(root, "model_type");
	if (!json_is_string(mt) || strcmp(json_string_value(mt), "gpt2") != 0) {
		err_set(e, "%s: model_type is %s%.40s%s, not \"gpt2\"", name, json_is_string(mt) ? "\"" : "",
			json_is_string(mt) ? json_string_value(mt) : "missing", json_is_string(mt) ? "\"" : "");
		goto out;
	}
	int V = 0, T = 0, C = 0, L = 0, NH = 0, inner = 0;
	if (get_int(root, "vocab_size", -1, &V, name, e) || get_int(root, "n_embd", -1, &C, name, e) ||
	    get_int(root, "n_layer", -1, &L, name, e) || get_int(root, "n_head", -1, &NH, name, e))
		goto out;
	if (get_int(root, "n_positions", 0, &T, name, e))
		goto out;
	if (T == 0 && get_int(root, "n_ctx", -1, &T, name, e))
		goto out;
	if (get_int(root, "n_inner", 4 * C, &inner, name, e))
		goto out;
	if (inner != 4 * C) {
		err_set(e, "%s: config n_inner %d is not 4 * n_embd (%d)", name, inner, 4 * C);
		goto out;
	}
	json_t *act = json_object_get(root, "activation_function");
	if (act && (!json_is_string(act) || (strcmp(json_string_value(act), "gelu_new") != 0 &&
					      strcmp(json_string_value(act), "gelu_pytorch_tanh") != 0))) {
		err_set(e, "%s: activation_function %.40s is not GPT-2's gelu_new", name,
			json_is_string(act) ? json_string_value(act) : "(not a string)");
		goto out;
	}
	json_t *eps = json_object_get(root, "layer_norm_epsilon");
	if (eps && (!json_is_number(eps) || fabs(json_number_value(eps) - 1e-5) > 1e-9)) {
		err_set(e, "%s: layer_norm_epsilon must be 1e-5 for GPT-2", name);
		goto out;
	}
	if (want_bool(root, "tie_word_embeddings", 1, name, e) || want_bool(root, "add_cross_attention", 0, name, e) ||
	    want_bool(root, "scale_attn_weights", 1, name, e) ||
	    want_bool(root, "scale_attn_by_inverse_layer_idx", 0, name, e))
		goto out;
	c->vocab_size = V;
	c->padded_vocab_size = gpt2_pad_vocab(V);
	c->max_seq_len = T;
	c->channels = C;
	c->num_layers = L;
	c->num_heads = NH;
	rc = gpt2_config_check(c, name, e);
out:
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------ import */

static const StTensor *find_prefixed(const SafeTensors *st, const char *name)
{
	char full[160];
	snprintf(full, sizeof full, "transformer.%s", name);
	const StTensor *t = st_find(st, full);
	return t ? t : st_find(st, name);
}

/* Names HF may store beside the weights that carry no parameters. */
static int is_buffer(const char *name)
{
	const char *s = strrchr(name, '.');
	return s && (strcmp(s, ".bias") == 0 || strcmp(s, ".masked_bias") == 0) && strstr(name, ".attn.") &&
	       !strstr(name, "c_attn") && !strstr(name, "c_proj");
}

int hf_import(const SafeTensors *st, const GPT2Config *c, float *params, Error *e)
{
	GPT2Params p;
	gpt2_params_point(&p, params, c);
	float **dst = (float **)&p;
	size_t sizes[GPT2_NUM_PARAM_TENSORS];
	gpt2_param_sizes(c, sizes);
	memset(params, 0, gpt2_num_params(c) * sizeof(float));
	char *used = calloc((size_t)st->n + 1, 1);
	float *tmp = NULL;
	size_t tmp_cap = 0;
	int rc = -1;
	if (!used)
		return err_set(e, "%s: out of memory", st->name);
	for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
		int nl = map[i].layered ? c->num_layers : 1;
		int64_t rows, cols;
		shape_of(c, i, &rows, &cols);
		for (int l = 0; l < nl; l++) {
			char name[128];
			snprintf(name, sizeof name, map[i].hf, l);
			const StTensor *t = find_prefixed(st, name);
			if (!t) {
				err_set(e, "%s: tensor '%s' is missing", st->name, name);
				goto out;
			}
			used[t - st->tensors] = 1;
			/* the HF shape: vectors 1-D, Conv1D (cols, rows), embeddings (rows, cols) */
			int64_t want[2] = { 0, 0 };
			int wnd = rows == 1 ? 1 : 2;
			if (wnd == 1)
				want[0] = cols;
			else if (map[i].transposed)
				want[0] = cols, want[1] = rows;
			else
				want[0] = rows, want[1] = cols;
			if (t->ndim != wnd || t->shape[0] != want[0] || (wnd == 2 && t->shape[1] != want[1])) {
				char got[96] = "", w[64];
				for (int d = 0; d < t->ndim && d < 4; d++)
					snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "",
						 (long long)t->shape[d]);
				if (wnd == 1)
					snprintf(w, sizeof w, "%lld", (long long)want[0]);
				else
					snprintf(w, sizeof w, "%lld, %lld", (long long)want[0], (long long)want[1]);
				err_set(e, "%s: tensor '%s' has shape [%s], the config needs [%s]", st->name, name, got, w);
				goto out;
			}
			size_t n = (size_t)(rows * cols);
			float *out = dst[i] + (size_t)l * n;
			if (!map[i].transposed) {
				if (st_read_f32(st, t, out, e))
					goto out;
				continue;
			}
			if (tmp_cap < n) {
				free(tmp);
				tmp = malloc(n * sizeof *tmp);
				tmp_cap = n;
				if (!tmp) {
					err_set(e, "%s: out of memory", st->name);
					goto out;
				}
			}
			if (st_read_f32(st, t, tmp, e))
				goto out;
			/* tmp is (cols, rows); out is (rows, cols) */
			for (int64_t r = 0; r < rows; r++)
				for (int64_t k = 0; k < cols; k++)
					out[r * cols + k] = tmp[k * rows + r];
		}
	}
	/* The head must be the embedding (GPT-2 ties them). */
	const StTensor *head = st_find(st, "lm_head.weight");
	if (head) {
		used[head - st->tensors] = 1;
		size_t n = (size_t)c->vocab_size * c->channels;
		if (head->ndim != 2 || head->shape[0] != c->vocab_size || head->shape[1] != c->channels) {
			err_set(e, "%s: tensor 'lm_head.weight' does not have the shape of wte", st->name);
			goto out;
		}
		free(tmp);
		tmp = malloc(n * sizeof *tmp);
		if (!tmp || st_read_f32(st, head, tmp, e)) {
			if (!tmp)
				err_set(e, "%s: out of memory", st->name);
			goto out;
		}
		if (memcmp(tmp, p.wte, n * sizeof *tmp) != 0) {
			err_set(e, "%s: lm_head.weight differs from wte.weight; gptkit's GPT-2 ties them", st->name);
			goto out;
		}
	}
	for (int i = 0; i < st->n; i++) {
		if (used[i])
			continue;
		const char *nm = st->tensors[i].name;
		if (strncmp(nm, "transformer.", 12) == 0)
			nm += 12;
		if (!is_buffer(nm)) {
			err_set(e, "%s: tensor '%s' is not part of a GPT-2 of this shape", st->name, st->tensors[i].name);
			goto out;
		}
	}
	rc = 0;
out:
	free(tmp);
	free(used);
	return rc;
}

int hf_is_model_path(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return 1;
	size_t n = strlen(path);
	return n >= 12 && strcmp(path + n - 12, ".safetensors") == 0;
}

int hf_load(const char *path, GPT2Config *c, float **params, Error *e)
{
	char cfg[4096], st_path[4096];
	struct stat sb;
	if (stat(path, &sb))
		return err_errno(e, "%s", path);
	if (S_ISDIR(sb.st_mode)) {
		snprintf(cfg, sizeof cfg, "%s/config.json", path);
		snprintf(st_path, sizeof st_path, "%s/model.safetensors", path);
	} else {
		snprintf(st_path, sizeof st_path, "%s", path);
		const char *slash = strrchr(path, '/');
		snprintf(cfg, sizeof cfg, "%.*sconfig.json", slash ? (int)(slash - path + 1) : 0, path);
	}
	uint8_t *text;
	size_t len;
	if (io_read_all(cfg, &text, &len, e))
		return -1;
	int rc = hf_config_parse((const char *)text, len, cfg, c, e);
	free(text);
	if (rc)
		return -1;
	SafeTensors st;
	if (st_open(&st, st_path, e))
		return -1;
	*params = malloc(gpt2_num_params(c) * sizeof(float));
	if (!*params) {
		st_close(&st);
		return err_set(e, "%s: out of memory", st_path);
	}
	if (hf_import(&st, c, *params, e)) {
		free(*params);
		*params = NULL;
		st_close(&st);
		return -1;
	}
	st_close(&st);
	return 0;
}

/* ------------------------------------------------------------------ export */

static int write_config(const char *path, const GPT2Config *c, StDtype dtype, Error *e)
{
	json_t *o = json_object();
	json_object_set_new(o, "architectures", json_pack("[s]", "GPT2LMHeadModel"));
	json_object_set_new(o, "model_type", json_string("gpt2"));
	json_object_set_new(o, "vocab_size", json_integer(c->vocab_size));
	json_object_set_new(o, "n_positions", json_integer(c->max_seq_len));
	json_object_set_new(o, "n_ctx", json_integer(c->max_seq_len));
	json_object_set_new(o, "n_embd", json_integer(c->channels));
	json_object_set_new(o, "n_layer", json_integer(c->num_layers));
	json_object_set_new(o, "n_head", json_integer(c->num_heads));
	json_object_set_new(o, "n_inner", json_null());
	json_object_set_new(o, "activation_function", json_string("gelu_new"));
	json_object_set_new(o, "layer_norm_epsilon", json_real(1e-5));
	json_object_set_new(o, "initializer_range", json_real(0.02));
	json_object_set_new(o, "resid_pdrop", json_real(0.0));
	json_object_set_new(o, "embd_pdrop", json_real(0.0));
	json_object_set_new(o, "attn_pdrop", json_real(0.0));
	json_object_set_new(o, "scale_attn_weights", json_true());
	json_object_set_new(o, "tie_word_embeddings", json_true());
	json_object_set_new(o, "bos_token_id", json_integer(c->vocab_size - 1));
	json_object_set_new(o, "eos_token_id", json_integer(c->vocab_size - 1));
	json_object_set_new(o, "torch_dtype", json_string(dtype == ST_F32 ? "float32" :
							 dtype == ST_F16 ? "float16" : "bfloat16"));
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		return err_set(e, "%s: out of memory", path);
	AtomicFile af;
	if (atomic_open(&af, path, e)) {
		free(s);
		return -1;
	}
	int bad = fputs(s, af.fp) == EOF || fputc('\n', af.fp) == EOF;
	free(s);
	if (bad) {
		atomic_abort(&af);
		return err_errno(e, "%s: write", path);
	}
	return atomic_commit(&af, e);
}

int hf_save(const char *dir, const GPT2Config *c, const float *params, StDtype dtype, Error *e)
{
	if (dtype != ST_F32 && dtype != ST_F16 && dtype != ST_BF16)
		return err_set(e, "%s: can only write F32, F16 or BF16 tensors", dir);
	if (mkdir(dir, 0777) && errno != EEXIST)
		return err_errno(e, "%s", dir);
	GPT2Params p;
	gpt2_params_point(&p, (float *)params, c);
	float *const *src = (float *const *)&p;
	int L = c->num_layers, n = 4 + 12 * L;
	StWriteTensor *t = calloc((size_t)n, sizeof *t);
	char (*names)[128] = calloc((size_t)n, 128);
	size_t esz = st_dtype_size(dtype), total = 0;
	for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
		int64_t rows, cols;
		shape_of(c, i, &rows, &cols);
		total += (size_t)(rows * cols) * (map[i].layered ? L : 1);
	}
	uint8_t *buf = malloc(total * esz), *w = buf;
	int rc = -1, k = 0;
	if (!t || !names || !buf) {
		err_set(e, "%s: out of memory", dir);
		goto out;
	}
	/* Write in HF's order: per layer all its tensors, then ln_f. */
	for (int pass = 0; pass < 3; pass++) {
		int nl = pass == 1 ? L : 1;
		for (int l = 0; l < nl; l++)
			for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
				int want_pass = map[i].layered ? 1 : (i < 2 ? 0 : 2);
				if (want_pass != pass)
					continue;
				int64_t rows, cols;
				shape_of(c, i, &rows, &cols);
				size_t nel = (size_t)(rows * cols);
				const float *s = src[i] + (map[i].layered ? (size_t)l * nel : 0);
				snprintf(names[k], 128, "transformer.");
				snprintf(names[k] + 12, 116, map[i].hf, l);
				t[k].name = names[k];
				t[k].dtype = dtype;
				t[k].data = w;
				if (rows == 1) {
					t[k].ndim = 1;
					t[k].shape[0] = cols;
				} else {
					t[k].ndim = 2;
					t[k].shape[0] = map[i].transposed ? cols : rows;
					t[k].shape[1] = map[i].transposed ? rows : cols;
				}
				for (size_t j = 0; j < nel; j++) {
					/* transposed: element (k, r) of the HF (cols, rows) tensor */
					float v = map[i].transposed ? s[(j % rows) * cols + j / rows] : s[j];
					if (dtype == ST_F32) {
						memcpy(w, &v, 4);
					} else {
						uint16_t h = dtype == ST_F16 ? st_f32_to_f16(v) : ckpt_f32_to_bf16(v);
						memcpy(w, &h, 2);
					}
					w += esz;
				}
				k++;
			}
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	static const char *const meta[] = { "format", "pt" };
	if (st_write(path, t, k, meta, 1, e))
		goto out;
	snprintf(path, sizeof path, "%s/config.json", dir);
	if (write_config(path, c, dtype, e))
		goto out;
	rc = 0;
out:
	free(buf);
	free(names);
	free(t);
	return rc;
}
