/* export.c - a model as a GGUF file that llama.cpp and this engine's GGUF loader both read: the
 * architecture's keys and tensors under llama.cpp's names (arch.c's table), its weights in the
 * types they have. The benchmark writes its random-weight presets this way, so that the peer
 * (llama.cpp's wasm build) and this engine measure the same file.
 *
 * Only a model without a tokenizer (model/random.c) is written: its vocabulary is a stand-in of
 * cfg.vocab_size SentencePiece pieces, <unk> <s> </s>, the 256 byte pieces <0x00>..<0xFF>, then
 * "▁w0", "▁w1", ..., so text is encoded through the byte pieces. What a GGUF file cannot say is
 * lost: a llama file is read with adjacent RoPE pairs (llama.cpp permutes Q/K when converting),
 * llama 3 RoPE scaling and a gemma3 window pattern other than 5:1 are not written. */
#include "model.h"

#include "../readers/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_piece(sp_gguf_piece *pieces, int32_t *n, int32_t cap, const void *data, uint64_t bytes) {
    if (*n < cap) pieces[*n] = (sp_gguf_piece){(const uint8_t *)data, bytes, 0};
    (*n)++;
}

/* The stand-in vocabulary (above) as tokenizer.ggml.* keys. */
static void write_vocab(sp_gguf_writer *w, int32_t n_vocab) {
    char s[32];
    sp_gguf_w_str(w, "tokenizer.ggml.model", "llama");
    sp_gguf_w_array(w, "tokenizer.ggml.tokens", SP_GGUF_STRING, (uint64_t)n_vocab);
    for (int32_t i = 0; i < n_vocab; i++) {
        if (i < 3) snprintf(s, sizeof(s), "%s", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
        else if (i < 3 + 256) snprintf(s, sizeof(s), "<0x%02X>", i - 3);
        else snprintf(s, sizeof(s), "\xe2\x96\x81w%d", i - 3 - 256);
        sp_gguf_w_item_str(w, s, strlen(s));
    }
    sp_gguf_w_array(w, "tokenizer.ggml.scores", SP_GGUF_FLOAT32, (uint64_t)n_vocab);
    for (int32_t i = 0; i < n_vocab; i++) {
        const float score = i < 3 + 256 ? 0.0f : -(float)(i - 3 - 256 + 1);
        sp_gguf_w_items(w, &score, 4);
    }
    sp_gguf_w_array(w, "tokenizer.ggml.token_type", SP_GGUF_INT32, (uint64_t)n_vocab);
    for (int32_t i = 0; i < n_vocab; i++) {
        const int32_t type = i == 0 ? 2 /* unknown */ : i < 3 ? 3 /* control */ : i < 3 + 256 ? 6 /* byte */ : 1 /* normal */;
        sp_gguf_w_items(w, &type, 4);
    }
    sp_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", 1);
    sp_gguf_w_u32(w, "tokenizer.ggml.eos_token_id", 2);
    sp_gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    sp_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", 1);
}

sp_status sp_model_gguf(const sp_model *m, uint8_t **header, size_t *header_size, sp_gguf_piece *pieces, int32_t *n_pieces,
                        sp_error *err) {
    const sp_config *c = &m->cfg;
    const sp_arch *a = sp_arch_get((sp_arch_id)c->arch);
    const int32_t cap = *n_pieces;
    *header = NULL;
    *n_pieces = 0;
    if (!a) return sp_error_set(err, SP_ERR_UNSUPPORTED, "gguf export: unknown architecture %d", c->arch);
    if (m->tok.vocab_size > 0) return sp_error_set(err, SP_ERR_UNSUPPORTED, "gguf export: only models without a tokenizer (random weights) are written");
    if (c->vocab_size < 3 + 256 + 1) return sp_error_set(err, SP_ERR_SHAPE, "gguf export: a vocabulary of %d is below the 260 pieces of the stand-in vocabulary", c->vocab_size);

    sp_gguf_writer w = {0};
    char k[96];
#define KEY(s) (snprintf(k, sizeof(k), "%s.%s", a->gguf_name, (s)), k)
    sp_gguf_w_str(&w, "general.architecture", a->gguf_name);
    sp_gguf_w_str(&w, "general.name", m->name);
    sp_gguf_w_u32(&w, KEY("context_length"), (uint32_t)c->ctx_len);
    sp_gguf_w_u32(&w, KEY("embedding_length"), (uint32_t)c->dim);
    sp_gguf_w_u32(&w, KEY("block_count"), (uint32_t)c->n_layers);
    sp_gguf_w_u32(&w, KEY("feed_forward_length"), (uint32_t)c->hidden_dim);
    sp_gguf_w_u32(&w, KEY("attention.head_count"), (uint32_t)c->n_heads);
    sp_gguf_w_u32(&w, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_heads);
    sp_gguf_w_f32(&w, KEY(a->gguf_eps_key), c->norm_eps);
    if (!c->learned_pos) {
        sp_gguf_w_f32(&w, KEY("rope.freq_base"), c->rope_theta);
        sp_gguf_w_u32(&w, KEY("rope.dimension_count"), (uint32_t)c->head_dim);
        sp_gguf_w_u32(&w, KEY("attention.key_length"), (uint32_t)c->head_dim);
        sp_gguf_w_u32(&w, KEY("attention.value_length"), (uint32_t)c->head_dim);
    }
    if (c->rope_scaling == SP_ROPE_SCALE_LINEAR) {
        sp_gguf_w_str(&w, KEY("rope.scaling.type"), "linear");
        sp_gguf_w_f32(&w, KEY("rope.scaling.factor"), c->rope_factor);
    }
    if (c->sliding_window > 0) sp_gguf_w_u32(&w, KEY("attention.sliding_window"), (uint32_t)c->sliding_window);
    if (c->logit_softcap > 0.0f) sp_gguf_w_f32(&w, KEY("final_logit_softcapping"), c->logit_softcap);
#undef KEY
    write_vocab(&w, c->vocab_size);

    /* the tensors in the table's order, globals first: what random.c and the loaders walk */
    for (int32_t l = -1; l < c->n_layers; l++)
        for (int32_t i = 0; i < a->n_tensors; i++) {
            const sp_tensor_desc *d = &a->tensors[i];
            if ((l < 0) == !!(d->flags & SP_T_LAYER) || !d->gguf) continue;
            const char *base = d->flags & SP_T_LAYER ? (const char *)&m->layers[l] : (const char *)m;
            const int32_t parts = d->flags & SP_T_FUSED_QKV ? 3 : 1;
            char name[96];
            snprintf(name, sizeof(name), d->gguf, l);
            uint64_t dims[2], nbytes = 0;
            uint32_t type = SP_DTYPE_F32;
            if (d->flags & SP_T_VEC) {
                const float *const *vp = (const float *const *)(base + d->offset);
                if (!vp[0]) continue; /* optional and absent */
                dims[0] = (uint64_t)sp_arch_dim(c, d->rows);
                for (int32_t p = 0; p < parts; p++) {
                    const uint64_t n = parts == 1 ? dims[0] : (uint64_t)(p == 0 ? c->q_dim : c->kv_dim);
                    put_piece(pieces, n_pieces, cap, vp[p], 4 * n);
                    nbytes += 4 * n;
                }
                sp_gguf_w_tensor(&w, name, 1, dims, SP_DTYPE_F32, nbytes);
            } else {
                if ((d->flags & SP_T_OUTPUT) && c->tied) continue; /* a tied head is the embedding */
                const sp_mat *mat = (const sp_mat *)(base + d->offset);
                if (!mat->data) continue;
                type = mat->type;
                dims[0] = (uint64_t)mat->cols;
                dims[1] = 0;
                for (int32_t p = 0; p < parts; p++) {
                    if (mat[p].type != type) {
                        sp_buf_free(&w.kv);
                        sp_buf_free(&w.ti);
                        return sp_error_set(err, SP_ERR_UNSUPPORTED, "gguf export: the parts of '%s' have different types", name);
                    }
                    const uint64_t bytes = (uint64_t)mat[p].rows * mat[p].row_bytes;
                    put_piece(pieces, n_pieces, cap, mat[p].data, bytes);
                    nbytes += bytes;
                    dims[1] += (uint64_t)mat[p].rows;
                }
                sp_gguf_w_tensor(&w, name, 2, dims, type, nbytes);
            }
            if (*n_pieces <= cap) pieces[*n_pieces - 1].pad = sp_gguf_pad(nbytes);
        }
    if (*n_pieces > cap) {
        sp_buf_free(&w.kv);
        sp_buf_free(&w.ti);
        return sp_error_set(err, SP_ERR_INVALID_ARG, "gguf export: %d pieces do not fit the %d given", *n_pieces, cap);
    }
    *header = sp_gguf_w_finish(&w, header_size, err);
    return *header ? SP_OK : SP_ERR_NOMEM;
}
