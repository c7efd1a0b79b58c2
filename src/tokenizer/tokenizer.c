/* tokenizer.c - the shared tokenizer core: piece hash table, special-token matcher,
 * encode (SentencePiece-style score merges and HF rank merges), piece/decode, find.
 *
 * Encode pipeline (text is bytes with an explicit length, any content):
 *   SPM (as llama.cpp's llm_tokenizer_spm): split the raw text on special pieces (control,
 *       user-defined and unknown types); each text fragment that starts the input or follows a
 *       special gets a ▁ prefix (add_space_prefix), spaces become ▁, then merges.
 *   BPE (as HF tokenizers): split on non-normalized added tokens, normalize each fragment
 *       (Prepend / Replace steps), split on normalized added tokens, pre-tokenize (Metaspace),
 *       then merges by rank per word.
 * Both merge loops keep the symbols in a linked list and the candidate pairs in a binary heap,
 * so encoding is O(n log n): best pair first (highest score / lowest rank), leftmost on ties.
 * Characters are strict UTF-8; every byte of an invalid sequence is its own symbol, so it
 * goes through byte fallback and decode gives the same bytes back. */
#include "tokenizer_impl.h"
#include "unicode.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- hash table */

static uint32_t tok_hash(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a, then a final avalanche */
    for (size_t i = 0; i < n; i++) { h ^= (uint8_t)s[i]; h *= 16777619u; }
    h ^= h >> 16; h *= 0x7feb352du; h ^= h >> 15; h *= 0x846ca68bu; h ^= h >> 16;
    return h;
}

/* The open-addressing tables hold at most 2^28 keys in a power of two of slots, at most half full. */
#define TOK_TABLE_MAX_KEYS ((size_t)1 << 28)

/* Slots for n_max keys and an arena block of cap slots of slot_bytes each; NULL when too many or
 * out of memory. */
static void *table_slots(sp_arena *a, size_t n_max, size_t slot_bytes, uint32_t *cap, size_t *bytes) {
    if (n_max > TOK_TABLE_MAX_KEYS) return NULL;
    uint32_t c = 16;
    while (c < 2 * n_max + 1) c <<= 1;
    *cap = c;
    return sp_mul_size(c, slot_bytes, bytes) ? sp_arena_alloc(a, *bytes) : NULL;
}

sp_tok_map *sp_tok_map_new(sp_arena *a, size_t n_max) {
    uint32_t cap;
    size_t bytes;
    sp_tok_map *m = (sp_tok_map *)sp_arena_alloc(a, sizeof(sp_tok_map));
    if (!m || !(m->slots = (sp_tok_entry *)table_slots(a, n_max, sizeof(sp_tok_entry), &cap, &bytes))) return NULL;
    m->cap = cap;
    m->n = 0;
    return m;
}

sp_tok_merges *sp_tok_merges_new(sp_arena *a, size_t n_max) {
    uint32_t cap;
    size_t bytes;
    sp_tok_merges *m = (sp_tok_merges *)sp_arena_alloc(a, sizeof(sp_tok_merges));
    if (!m || !(m->slots = (sp_tok_merge *)table_slots(a, n_max, sizeof(sp_tok_merge), &cap, &bytes))) return NULL;
    memset(m->slots, 0xff, bytes); /* every a = UINT32_MAX: empty */
    m->cap = cap;
    m->n = 0;
    return m;
}

/* Insert or overwrite; 0 when full. */
static int merges_put(sp_tok_merges *m, int32_t a, int32_t b, int32_t rank, int32_t id) {
    for (uint32_t i = sp_tok_pair_hash((uint32_t)a, (uint32_t)b) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        sp_tok_merge *e = &m->slots[i];
        if (e->a == UINT32_MAX) {
            if (2 * (m->n + 1) > m->cap) return 0;
            e->a = (uint32_t)a; e->b = (uint32_t)b; e->rank = rank; e->id = id;
            m->n++;
            return 1;
        }
        if (e->a == (uint32_t)a && e->b == (uint32_t)b) { e->rank = rank; e->id = id; return 1; }
    }
}

int sp_tok_map_put(sp_tok_map *m, const char *key, size_t len, int32_t v0, int32_t v1) {
    if (len > UINT32_MAX) return 0;
    uint32_t h = tok_hash(key, len);
    for (uint32_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        sp_tok_entry *e = &m->slots[i];
        if (!e->key) {
            if (2 * (m->n + 1) > m->cap) return 0;
            e->key = key; e->len = (uint32_t)len; e->hash = h; e->v0 = v0; e->v1 = v1;
            m->n++;
            return 1;
        }
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) {
            e->v0 = v0; e->v1 = v1;
            return 1;
        }
    }
}

const sp_tok_entry *sp_tok_map_get(const sp_tok_map *m, const char *key, size_t len) {
    if (!m || len > UINT32_MAX) return NULL;
    uint32_t h = tok_hash(key, len);
    for (uint32_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const sp_tok_entry *e = &m->slots[i];
        if (!e->key) return NULL;
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) return e;
    }
}

int32_t sp_tokenizer_find(const sp_tokenizer *t, const char *piece, size_t len) {
    if (!t || !t->map || (!piece && len)) return -1;
    const sp_tok_entry *e = sp_tok_map_get(t->map, piece ? piece : "", len);
    return e ? e->v0 : -1;
}

/* ---------------------------------------------------------------- helpers */

int sp_tok_parse_byte_piece(const char *s, size_t len) {
    if (len != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>') return -1;
    int hi = sp_hex_digit((uint8_t)s[3]), lo = sp_hex_digit((uint8_t)s[4]);
    return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

void sp_tok_finish(sp_tokenizer *t) {
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char buf[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        const sp_tok_entry *e = sp_tok_map_get(t->map, buf, 6);
        t->byte_ids[b] = (e && e->v1) ? e->v0 : -1;
    }
    uint64_t mx = 0;
    for (int32_t i = 0; i < t->vocab_size; i++)
        if (t->pieces[i].len > mx) mx = t->pieces[i].len;
    t->max_piece_len = mx > INT32_MAX ? INT32_MAX : (int32_t)mx;
    /* end of generation: EOS and the end-of-turn tokens of the chat formats (llama.cpp marks the
     * same texts as end-of-generation) */
    static const char *const eot[] = {"<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|eom_id|>", "<|endoftext|>",
                                      "<|end_of_text|>", NULL};
    t->n_eog = 0;
    if (t->eos_id >= 0) t->eog[t->n_eog++] = t->eos_id;
    for (int k = 0; eot[k]; k++) { /* only as control / user-defined tokens, never as ordinary text pieces */
        int32_t id = sp_tokenizer_find(t, eot[k], strlen(eot[k]));
        if (id >= 0 && (t->types[id] == SP_TT_CONTROL || t->types[id] == SP_TT_USER)) sp_tokenizer_add_eog(t, &id, 1, NULL);
    }
}

sp_status sp_tok_merge_put(sp_tokenizer *t, size_t r, const char *ap, size_t al, const char *bp, size_t bl,
                           char **cat, size_t *cat_cap, const char *where, sp_error *err) {
    const sp_tok_entry *ea = sp_tok_map_get(t->map, ap, al), *eb = sp_tok_map_get(t->map, bp, bl);
    if (!ea || !ea->v1 || !eb || !eb->v1) {
        int bad_a = !ea || !ea->v1;
        size_t bad_len = bad_a ? al : bl;
        return sp_error_set(err, SP_ERR_TOKENIZER, "%s[%zu]: piece '%.*s' is not in the vocab", where, r,
                            (int)(bad_len > 40 ? 40 : bad_len), bad_a ? ap : bp);
    }
    size_t need = al + bl;
    if (need > *cat_cap) {
        char *p = (char *)realloc(*cat, need + 64);
        if (!p) return sp_error_set(err, SP_ERR_NOMEM, "tokenizer: out of memory");
        *cat = p; *cat_cap = need + 64;
    }
    memcpy(*cat, ap, al);
    memcpy(*cat + al, bp, bl);
    const sp_tok_entry *en = sp_tok_map_get(t->map, *cat, need);
    if (!en || !en->v1)
        return sp_error_set(err, SP_ERR_TOKENIZER, "%s[%zu]: merged piece '%.*s' is not in the vocab", where, r,
                            (int)(need > 40 ? 40 : need), *cat);
    /* a repeated pair takes its last rank (HF collects the merges into a map, later ones overwrite) */
    if (!merges_put(t->merges, ea->v0, eb->v0, (int32_t)r, en->v0))
        return sp_error_set(err, SP_ERR_NOMEM, "tokenizer: merge table full");
    return SP_OK;
}

sp_status sp_tokenizer_add_eog(sp_tokenizer *t, const int32_t *ids, int32_t n, sp_error *err) {
    for (int32_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->vocab_size)
            return sp_error_set(err, SP_ERR_TOKENIZER, "end-of-generation token id %d is out of range (vocab %d)", (int)ids[i], (int)t->vocab_size);
        if (sp_tokenizer_is_eog(t, ids[i])) continue;
        if (t->n_eog >= SP_TOK_MAX_EOG)
            return sp_error_set(err, SP_ERR_UNSUPPORTED, "more than %d end-of-generation tokens", SP_TOK_MAX_EOG);
        t->eog[t->n_eog++] = ids[i];
    }
    return SP_OK;
}

int32_t sp_tokenizer_n_special(const sp_tokenizer *t, int suffix) {
    return !t || !t->priv ? 0 : suffix ? t->priv->n_suffix : t->priv->n_prefix;
}

int sp_tokenizer_is_eog(const sp_tokenizer *t, int32_t id) {
    for (int32_t k = 0; k < t->n_eog; k++) if (t->eog[k] == id) return 1;
    return id >= 0 && id == t->eos_id;
}

/* Length of the strict UTF-8 sequence at s[0..n) (RFC 3629: no overlongs, no surrogates,
 * at most U+10FFFF), or 0 when s does not start with one. */
static size_t utf8_len(const uint8_t *s, size_t n) {
    uint8_t b = s[0];
    if (b < 0x80) return 1;
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (b >= 0xC2 && b <= 0xDF) len = 2;
    else if (b >= 0xE0 && b <= 0xEF) { len = 3; if (b == 0xE0) lo = 0xA0; if (b == 0xED) hi = 0x9F; }
    else if (b >= 0xF0 && b <= 0xF4) { len = 4; if (b == 0xF0) lo = 0x90; if (b == 0xF4) hi = 0x8F; }
    else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

static size_t char_len(const char *s, size_t n) {
    size_t l = utf8_len((const uint8_t *)s, n);
    return l ? l : 1;
}

static const char META[] = "\xE2\x96\x81"; /* ▁ U+2581 */
#define META_LEN 3

static int is_ascii_space(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* ---------------------------------------------------------------- special-token matcher */

typedef struct { sp_str pat; int32_t id, idx; uint8_t l, r, w; } tk_special;

static int special_cmp(const void *pa, const void *pb) {
    /* first byte ascending, then longest first, then input order */
    const tk_special *x = (const tk_special *)pa, *y = (const tk_special *)pb;
    uint8_t xa = (uint8_t)x->pat.ptr[0], ya = (uint8_t)y->pat.ptr[0];
    if (xa != ya) return xa < ya ? -1 : 1;
    if (x->pat.len != y->pat.len) return x->pat.len > y->pat.len ? -1 : 1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

sp_status sp_tok_matcher_build(sp_tok_matcher *m, const sp_str *pat, const int32_t *id, const uint8_t *lstrip,
                               const uint8_t *rstrip, const uint8_t *single, int32_t n, sp_arena *a, sp_error *err) {
    memset(m, 0, sizeof(*m));
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) if (pat[i].len > 0) k++;
    if (k == 0) return SP_OK;
    tk_special *sp = (tk_special *)malloc((size_t)k * sizeof(tk_special));
    m->pat = (sp_str *)sp_arena_alloc(a, (size_t)k * sizeof(sp_str));
    m->id = (int32_t *)sp_arena_alloc(a, (size_t)k * sizeof(int32_t));
    m->lstrip = (uint8_t *)sp_arena_alloc(a, (size_t)k);
    m->rstrip = (uint8_t *)sp_arena_alloc(a, (size_t)k);
    m->single = (uint8_t *)sp_arena_alloc(a, (size_t)k);
    if (!sp || !m->pat || !m->id || !m->lstrip || !m->rstrip || !m->single) {
        free(sp);
        memset(m, 0, sizeof(*m));
        return sp_error_set(err, SP_ERR_NOMEM, "tokenizer: out of memory for %d special tokens", (int)k);
    }
    k = 0;
    for (int32_t i = 0; i < n; i++) {
        if (pat[i].len == 0) continue;
        sp[k].pat = pat[i]; sp[k].id = id[i]; sp[k].idx = i;
        sp[k].l = lstrip ? lstrip[i] : 0; sp[k].r = rstrip ? rstrip[i] : 0; sp[k].w = single ? single[i] : 0;
        k++;
    }
    qsort(sp, (size_t)k, sizeof(tk_special), special_cmp);
    for (int32_t j = 0; j < k; j++) {
        m->pat[j] = sp[j].pat; m->id[j] = sp[j].id; m->lstrip[j] = sp[j].l; m->rstrip[j] = sp[j].r;
        m->single[j] = sp[j].w;
    }
    free(sp);
    m->n = k;
    int32_t j = 0;
    for (int b = 0; b < 256; b++) {
        while (j < k && (uint8_t)m->pat[j].ptr[0] < b) j++;
        m->first[b] = j;
    }
    m->first[256] = k;
    return SP_OK;
}

/* a letter, digit or '_' (what HF's single_word tokens may not touch) */
static int is_word_char(uint32_t cp) {
    if (cp == '_') return 1;
    int c = sp_uc_category(cp);
    return ((SP_UC_L_MASK | SP_UC_N_MASK) >> c) & 1;
}

/* the code point that ends at s[end) (scanning back over continuation bytes), or ' ' at the start */
static uint32_t cp_before(const char *s, size_t end) {
    if (end == 0) return ' ';
    size_t st = end - 1;
    while (st > 0 && end - st < 4 && ((uint8_t)s[st] & 0xC0) == 0x80) st--;
    uint32_t cp;
    return sp_utf8_decode((const uint8_t *)s + st, end - st, &cp) == end - st ? cp : ' ';
}

/* Next leftmost-longest match in s[pos..n). floor: lstrip may not reach below it.
 * Returns 1 with [*ms, *me) the span the token consumes and *id. */
static int matcher_next(const sp_tok_matcher *m, const char *s, size_t n, size_t pos, size_t floor,
                        size_t *ms, size_t *me, int32_t *id) {
    if (m->n == 0) return 0;
    for (size_t i = pos; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        for (int32_t j = m->first[c]; j < m->first[c + 1]; j++) {
            size_t L = (size_t)m->pat[j].len;
            if (L > n - i || memcmp(s + i, m->pat[j].ptr, L) != 0) continue;
            if (m->single[j]) {
                uint32_t after = ' ';
                if (i + L < n) sp_utf8_decode((const uint8_t *)s + i + L, n - i - L, &after);
                if (is_word_char(cp_before(s, i)) || is_word_char(after)) continue;
            }
            size_t st = i, en = i + L;
            if (m->lstrip[j]) while (st > floor && is_ascii_space((uint8_t)s[st - 1])) st--;
            if (m->rstrip[j]) while (en < n && is_ascii_space((uint8_t)s[en])) en++;
            *ms = st; *me = en; *id = m->id[j];
            return 1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- encoder state */

typedef struct {
    int32_t start, len;     /* bytes of the word */
    int32_t prev, next;     /* linked list of live symbols, -1 at the ends */
    int32_t id;             /* BPE: token id; SPM: unused */
    int32_t unk;            /* BPE: 1 for an unknown-token symbol (fused with the next unknown) */
} tk_sym;

typedef struct {
    double prio;            /* lower is better: -score (SPM) or rank (BPE) */
    int32_t pos;            /* left symbol */
    int32_t a, b;           /* SPM: left/right lengths; BPE: left/right ids, as when pushed */
    int32_t new_id;         /* BPE: the merged token */
} tk_pair;

typedef struct { char *p; size_t len, cap; } tk_bytes;

typedef struct {
    const sp_tokenizer *t;
    int32_t *ids;           /* [max_ids] caller's output */
    int32_t max_ids;
    int64_t n;              /* ids the full encoding needs so far */
    tk_sym *sym; size_t sym_cap;
    tk_pair *heap; size_t heap_n, heap_cap;
    tk_bytes norm, tmp, word;   /* scratch strings */
    tk_bytes lvl[SP_TOK_MAX_PRE];   /* per pre-tokenizer step: its rewritten piece */
    tk_bytes bl;                /* a word in the byte-level alphabet */
    /* words already encoded in this call -> their ids (words repeat: English text hits ~90%) */
    struct tk_cache_slot { uint32_t hash, klen; size_t koff, ioff; int32_t nids; } *cache;
    size_t cache_cap, cache_n;
    tk_bytes cache_keys;
    int32_t *cache_ids; size_t cache_ids_n, cache_ids_cap;
    int32_t *word_ids; size_t word_ids_cap;     /* the ids of the word just encoded */
    sp_regex_scratch rx;
    sp_error *err;
} tk_enc;

static void enc_free(tk_enc *e) {
    free(e->sym); free(e->heap); free(e->norm.p); free(e->tmp.p); free(e->word.p); free(e->bl.p);
    free(e->cache); free(e->cache_keys.p); free(e->cache_ids); free(e->word_ids);
    for (int k = 0; k < SP_TOK_MAX_PRE; k++) free(e->lvl[k].p);
    sp_regex_scratch_free(&e->rx);
}

static void emit(tk_enc *e, int32_t id) {
    if (e->n < e->max_ids) e->ids[e->n] = id;
    e->n++;
}

static sp_status nomem(tk_enc *e) {
    return sp_error_set(e->err, SP_ERR_NOMEM, "tokenizer: out of memory while encoding");
}

static int bytes_reserve(tk_bytes *b, size_t need) {
    if (need <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) { if (cap > SIZE_MAX / 2) return 0; cap *= 2; }
    char *p = (char *)realloc(b->p, cap);
    if (!p) return 0;
    b->p = p; b->cap = cap;
    return 1;
}

static int bytes_put(tk_bytes *b, const char *s, size_t n) {
    size_t need;
    if (!sp_add_size(b->len, n, &need) || !bytes_reserve(b, need)) return 0;
    if (n) memcpy(b->p + b->len, s, n);
    b->len = need;
    return 1;
}

static int syms_reserve(tk_enc *e, size_t n) {
    if (n <= e->sym_cap) return 1;
    size_t bytes;
    if (!sp_mul_size(n, sizeof(tk_sym), &bytes)) return 0;
    tk_sym *p = (tk_sym *)realloc(e->sym, bytes);
    if (!p) return 0;
    e->sym = p; e->sym_cap = n;
    return 1;
}

static int pair_less(const tk_pair *x, const tk_pair *y) {
    if (x->prio != y->prio) return x->prio < y->prio;
    return x->pos < y->pos;
}

static int heap_push(tk_enc *e, tk_pair p) {
    if (e->heap_n == e->heap_cap) {
        size_t cap = e->heap_cap ? e->heap_cap * 2 : 256, bytes;
        if (!sp_mul_size(cap, sizeof(tk_pair), &bytes)) return 0;
        tk_pair *h = (tk_pair *)realloc(e->heap, bytes);
        if (!h) return 0;
        e->heap = h; e->heap_cap = cap;
    }
    size_t i = e->heap_n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!pair_less(&p, &e->heap[up])) break;
        e->heap[i] = e->heap[up];
        i = up;
    }
    e->heap[i] = p;
    return 1;
}

static tk_pair heap_pop(tk_enc *e) {
    tk_pair top = e->heap[0], last = e->heap[--e->heap_n];
    size_t i = 0, n = e->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && pair_less(&e->heap[c + 1], &e->heap[c])) c++;
        if (!pair_less(&e->heap[c], &last)) break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n) e->heap[i] = last;
    return top;
}

/* Emit the byte-fallback tokens of s[0..n): <0xXX> pieces, else the unknown token. */
static sp_status emit_bytes(tk_enc *e, const char *s, size_t n) {
    const sp_tokenizer *t = e->t;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (t->byte_ids[c] >= 0) emit(e, t->byte_ids[c]);
        else if (t->unk_id >= 0) emit(e, t->unk_id);
        else return sp_error_set(e->err, SP_ERR_TOKENIZER,
                                 "tokenizer: cannot encode byte 0x%02X (no <0x%02X> piece and no unknown token)", c, c);
    }
    return SP_OK;
}

/* ---------------------------------------------------------------- SPM merges (by score) */

static int spm_try_pair(tk_enc *e, const char *w, int32_t l) {
    tk_sym *s = e->sym;
    if (l < 0) return 1;
    int32_t r = s[l].next;
    if (r < 0) return 1;
    const sp_tok_entry *en = sp_tok_map_get(e->t->map, w + s[l].start, (size_t)s[l].len + (size_t)s[r].len);
    if (!en) return 1;
    tk_pair p;
    p.prio = e->t->priv->spm_rank_by_id ? (double)en->v0 : e->t->scores ? -(double)e->t->scores[en->v0] : 0.0;
    p.pos = l; p.a = s[l].len; p.b = s[r].len; p.new_id = en->v0;
    return heap_push(e, p);
}

static sp_status spm_word(tk_enc *e, const char *w, size_t n) {
    if (n == 0) return SP_OK;
    if (!syms_reserve(e, n)) return nomem(e);
    tk_sym *s = e->sym;
    int32_t ns = 0;
    for (size_t i = 0; i < n;) {
        size_t L = char_len(w + i, n - i);
        s[ns].start = (int32_t)i; s[ns].len = (int32_t)L;
        s[ns].prev = ns - 1; s[ns].next = -1; s[ns].id = -1; s[ns].unk = 0;
        if (ns > 0) s[ns - 1].next = ns;
        ns++;
        i += L;
    }
    e->heap_n = 0;
    for (int32_t i = 0; i + 1 < ns; i++)
        if (!spm_try_pair(e, w, i)) return nomem(e);
    while (e->heap_n > 0) {
        tk_pair p = heap_pop(e);
        int32_t l = p.pos, r = s[l].next;
        if (s[l].len != p.a || r < 0 || s[r].len != p.b) continue; /* stale */
        s[l].len += s[r].len;
        s[r].len = 0;
        s[l].next = s[r].next;
        if (s[r].next >= 0) s[s[r].next].prev = l;
        if (!spm_try_pair(e, w, s[l].prev) || !spm_try_pair(e, w, l)) return nomem(e);
    }
    int last_unk = 0; /* consecutive unknown characters give one <unk>, as SentencePiece does */
    for (int32_t i = 0; i >= 0 && i < ns; i = s[i].next) {
        const char *p = w + s[i].start;
        size_t L = (size_t)s[i].len;
        const sp_tok_entry *en = sp_tok_map_get(e->t->map, p, L);
        if (en) { emit(e, en->v0); last_unk = 0; continue; }
        int all = 1;
        for (size_t k = 0; k < L; k++) all &= e->t->byte_ids[(uint8_t)p[k]] >= 0;
        if (all || e->t->unk_id < 0) {
            sp_status st = emit_bytes(e, p, L);
            if (st) return st;
            last_unk = 0;
        } else if (!last_unk) {
            emit(e, e->t->unk_id);
            last_unk = 1;
        }
    }
    return SP_OK;
}

/* One raw fragment of SPM text: optional ▁ prefix, spaces -> ▁, merges. */
static sp_status spm_fragment(tk_enc *e, const char *s, size_t n, int prefix) {
    tk_bytes *b = &e->word;
    b->len = 0;
    if (prefix && !bytes_put(b, META, META_LEN)) return nomem(e);
    for (size_t i = 0; i < n; i++) {
        int ok = s[i] == ' ' ? bytes_put(b, META, META_LEN) : bytes_put(b, s + i, 1);
        if (!ok) return nomem(e);
    }
    if (b->len > INT32_MAX / 2) return sp_error_set(e->err, SP_ERR_TOO_LARGE, "tokenizer: text too long");
    return spm_word(e, b->p, b->len);
}

static sp_status spm_encode(tk_enc *e, const char *text, size_t len) {
    const sp_tokenizer *t = e->t;
    int prev_special = 1; /* the input start counts as "after a special" (llama.cpp) */
    size_t pos = 0;
    for (;;) {
        size_t ms = len, me = len;
        int32_t id = -1;
        int found = matcher_next(&t->priv->raw, text, len, pos, pos, &ms, &me, &id);
        if (ms > pos) {
            sp_status st = spm_fragment(e, text + pos, ms - pos, t->add_space_prefix && prev_special);
            if (st) return st;
            prev_special = 0;
        }
        if (!found) break;
        emit(e, id);
        prev_special = 1;
        pos = me;
    }
    return SP_OK;
}

/* ---------------------------------------------------------------- BPE merges (by rank) */

static int bpe_try_pair(tk_enc *e, int32_t l) {
    tk_sym *s = e->sym;
    if (l < 0) return 1;
    int32_t r = s[l].next;
    if (r < 0) return 1;
    const sp_tok_merge *en = sp_tok_merges_get(e->t->merges, s[l].id, s[r].id);
    if (!en) return 1;
    tk_pair p;
    p.prio = (double)en->rank;
    p.pos = l; p.a = s[l].id; p.b = s[r].id; p.new_id = en->id;
    return heap_push(e, p);
}

#define TK_CACHE_WORD 64          /* longest word cached, in bytes */
#define TK_CACHE_MAX (1u << 16)   /* most words cached per encode call */

/* The cached ids of word w, or NULL (then *slot is where it would go, or NULL when the cache is full). */
static struct tk_cache_slot *cache_find(tk_enc *e, const char *w, size_t n, uint32_t h, struct tk_cache_slot **slot) {
    *slot = NULL;
    if (!e->cache) {
        e->cache = (struct tk_cache_slot *)calloc(1024, sizeof(struct tk_cache_slot));
        if (!e->cache) return NULL;
        e->cache_cap = 1024;
    }
    if (2 * (e->cache_n + 1) > e->cache_cap && e->cache_cap < 2 * TK_CACHE_MAX) { /* grow, rehash */
        size_t cap = e->cache_cap * 2;
        struct tk_cache_slot *nc = (struct tk_cache_slot *)calloc(cap, sizeof(struct tk_cache_slot));
        if (nc) {
            for (size_t i = 0; i < e->cache_cap; i++) {
                if (!e->cache[i].klen) continue;
                size_t j = e->cache[i].hash & (cap - 1);
                while (nc[j].klen) j = (j + 1) & (cap - 1);
                nc[j] = e->cache[i];
            }
            free(e->cache);
            e->cache = nc;
            e->cache_cap = cap;
        }
    }
    for (size_t i = h & (e->cache_cap - 1);; i = (i + 1) & (e->cache_cap - 1)) {
        struct tk_cache_slot *c = &e->cache[i];
        if (!c->klen) {
            if (2 * (e->cache_n + 1) <= e->cache_cap) *slot = c;
            return NULL;
        }
        if (c->hash == h && c->klen == n && memcmp(e->cache_keys.p + c->koff, w, n) == 0) return c;
    }
}

static void cache_put(tk_enc *e, struct tk_cache_slot *slot, const char *w, size_t n, uint32_t h, const int32_t *ids, int32_t k) {
    size_t koff = e->cache_keys.len;
    if (e->cache_ids_n + (size_t)k > e->cache_ids_cap) {
        size_t cap = e->cache_ids_cap ? e->cache_ids_cap * 2 : 4096;
        while (cap < e->cache_ids_n + (size_t)k) cap *= 2;
        int32_t *p = (int32_t *)realloc(e->cache_ids, cap * sizeof(int32_t));
        if (!p) return;
        e->cache_ids = p; e->cache_ids_cap = cap;
    }
    if (!bytes_put(&e->cache_keys, w, n)) return;
    if (k) memcpy(e->cache_ids + e->cache_ids_n, ids, (size_t)k * sizeof(int32_t)); /* a word may give no id (no unk) */
    slot->hash = h; slot->klen = (uint32_t)n; slot->koff = koff; slot->ioff = e->cache_ids_n; slot->nids = k;
    e->cache_ids_n += (size_t)k;
    e->cache_n++;
}

static sp_status bpe_word_uncached(tk_enc *e, const char *w, size_t n, int32_t **out, int32_t *nout);

static sp_status bpe_word(tk_enc *e, const char *w, size_t n) {
    const sp_tokenizer *t = e->t;
    const sp_tok_priv *pv = t->priv;
    if (n == 0) return SP_OK;
    if (n > INT32_MAX / 2) return sp_error_set(e->err, SP_ERR_TOO_LARGE, "tokenizer: text too long");
    if (pv->ignore_merges) {
        const sp_tok_entry *en = sp_tok_map_get(t->map, w, n);
        if (en && en->v1) { emit(e, en->v0); return SP_OK; }
    }
    struct tk_cache_slot *slot = NULL, *hit = NULL;
    uint32_t h = 0;
    if (n <= TK_CACHE_WORD) {
        h = tok_hash(w, n);
        hit = cache_find(e, w, n, h, &slot);
        if (hit) {
            for (int32_t k = 0; k < hit->nids; k++) emit(e, e->cache_ids[hit->ioff + (size_t)k]);
            return SP_OK;
        }
    }
    int32_t *ids = NULL, k = 0;
    sp_status st = bpe_word_uncached(e, w, n, &ids, &k);
    if (st) return st;
    for (int32_t i = 0; i < k; i++) emit(e, ids[i]);
    if (slot && e->cache_n < TK_CACHE_MAX) cache_put(e, slot, w, n, h, ids, k);
    return SP_OK;
}

/* BPE merges over one word; *out points at the ids (scratch valid until the next word). */
static sp_status bpe_word_uncached(tk_enc *e, const char *w, size_t n, int32_t **out, int32_t *nout) {
    const sp_tokenizer *t = e->t;
    const sp_tok_priv *pv = t->priv;
    *nout = 0;
    if (!syms_reserve(e, n)) return nomem(e);
    tk_sym *s = e->sym;
    int32_t ns = 0;
#define PUSH_SYM(st_, len_, id_, unk_) do { \
        s[ns].start = (int32_t)(st_); s[ns].len = (int32_t)(len_); s[ns].id = (id_); s[ns].unk = (unk_); \
        s[ns].prev = ns - 1; s[ns].next = -1; if (ns > 0) s[ns - 1].next = ns; ns++; } while (0)
    for (size_t i = 0; i < n;) {
        size_t L = char_len(w + i, n - i);
        const sp_tok_entry *en = sp_tok_map_get(t->map, w + i, L);
        if (en && en->v1) {
            PUSH_SYM(i, L, en->v0, 0);
        } else {
            int all = pv->byte_fallback;
            for (size_t k = 0; all && k < L; k++) all = t->byte_ids[(uint8_t)w[i + k]] >= 0;
            if (all) {
                for (size_t k = 0; k < L; k++) PUSH_SYM(i + k, 1, t->byte_ids[(uint8_t)w[i + k]], 0);
            } else if (t->unk_id >= 0) {
                if (pv->fuse_unk && ns > 0 && s[ns - 1].unk) s[ns - 1].len += (int32_t)L;
                else PUSH_SYM(i, L, t->unk_id, 1);
            } /* else: HF drops a character it cannot represent */
        }
        i += L;
    }
#undef PUSH_SYM
    if (ns == 0) return SP_OK;
    e->heap_n = 0;
    if (t->merges)
        for (int32_t i = 0; i + 1 < ns; i++)
            if (!bpe_try_pair(e, i)) return nomem(e);
    while (e->heap_n > 0) {
        tk_pair p = heap_pop(e);
        int32_t l = p.pos, r = s[l].next;
        if (s[l].len == 0 || r < 0 || s[l].id != p.a || s[r].id != p.b) continue; /* stale */
        s[l].id = p.new_id;
        s[l].unk = 0;
        s[l].len += s[r].len;
        s[r].len = 0;
        s[l].next = s[r].next;
        if (s[r].next >= 0) s[s[r].next].prev = l;
        if (!bpe_try_pair(e, s[l].prev) || !bpe_try_pair(e, l)) return nomem(e);
    }
    if ((size_t)ns > e->word_ids_cap) {
        int32_t *p = (int32_t *)realloc(e->word_ids, (size_t)ns * sizeof(int32_t));
        if (!p) return nomem(e);
        e->word_ids = p; e->word_ids_cap = (size_t)ns;
    }
    int32_t k = 0;
    for (int32_t i = 0; i >= 0; i = s[i].next) e->word_ids[k++] = s[i].id;
    *out = e->word_ids;
    *nout = k;
    return SP_OK;
}

uint32_t sp_tok_byte_cp(int b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) return (uint32_t)b;
    if (b <= 32) return 256u + (uint32_t)b;         /* the bytes GPT-2 remaps, in byte order */
    if (b <= 160) return 256u + 33u + (uint32_t)(b - 127);
    return 256u + 33u + 34u;                        /* 173 */
}

/* A word after pre-tokenization: into the byte-level alphabet when the model wants it, then BPE. */
static sp_status model_word(tk_enc *e, const char *s, size_t n) {
    if (!e->t->priv->byte_level) return bpe_word(e, s, n);
    tk_bytes *b = &e->bl;
    b->len = 0;
    if (!bytes_reserve(b, 2 * n + 1)) return nomem(e);
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = sp_tok_byte_cp((uint8_t)s[i]);
        if (cp < 0x80) b->p[b->len++] = (char)cp;
        else { b->p[b->len++] = (char)(0xC0 | (cp >> 6)); b->p[b->len++] = (char)(0x80 | (cp & 63)); }
    }
    return bpe_word(e, b->p, b->len);
}

static sp_status pretok(tk_enc *e, int k, const char *s, size_t n, int at_start);

/* The pieces of step k's split of s[0..n), combined per behavior, each passed to step k + 1. */
typedef struct { tk_enc *e; int k; const char *s; int at_start; int behavior;
                 size_t pst, pen; int have, pmatch; int prev_match; } tk_splitter;

static sp_status split_emit(tk_splitter *sp, size_t st, size_t en) {
    if (en <= st) return SP_OK;
    return pretok(sp->e, sp->k + 1, sp->s + st, en - st, sp->at_start && st == 0);
}

/* one span of the text: [st, en), a match or not (after invert) */
static sp_status split_span(tk_splitter *sp, size_t st, size_t en, int match) {
    sp_status r = SP_OK;
    switch (sp->behavior) {
    case SP_SPLIT_REMOVED:
        if (!match) r = split_emit(sp, st, en);
        break;
    case SP_SPLIT_ISOLATED:
        r = split_emit(sp, st, en);
        break;
    case SP_SPLIT_MERGED_PREV: /* a match joins the piece before it, unless that one is a match */
        if (match && !sp->prev_match && sp->have) { sp->pen = en; break; }
        if (sp->have) r = split_emit(sp, sp->pst, sp->pen);
        sp->pst = st; sp->pen = en; sp->have = 1;
        break;
    case SP_SPLIT_MERGED_NEXT: /* a match joins the piece after it, unless that one is a match */
        if (match) {
            if (sp->have) r = split_emit(sp, sp->pst, sp->pen);
            sp->pst = st; sp->pen = en; sp->have = 1;
        } else if (sp->have) {
            r = split_emit(sp, sp->pst, en);
            sp->have = 0;
        } else {
            r = split_emit(sp, st, en);
        }
        break;
    default: /* SP_SPLIT_CONTIGUOUS: runs of matches and runs of non-matches */
        if (sp->have && sp->pmatch == match) { sp->pen = en; break; }
        if (sp->have) r = split_emit(sp, sp->pst, sp->pen);
        sp->pst = st; sp->pen = en; sp->have = 1; sp->pmatch = match;
        break;
    }
    sp->prev_match = match;
    return r;
}

static sp_status split_finish(tk_splitter *sp) {
    sp_status r = sp->have ? split_emit(sp, sp->pst, sp->pen) : SP_OK;
    sp->have = 0;
    return r;
}

/* Split s[0..n) by step p's matches (regex, literal or numeric characters) into spans. */
static sp_status split_run(tk_enc *e, int k, const sp_tok_pre_step *p, const char *s, size_t n, int at_start) {
    tk_splitter sp = {.e = e, .k = k, .s = s, .at_start = at_start, .behavior = p->behavior};
    int inv = p->kind == SP_PRE_SPLIT && p->invert;
    size_t pos = 0;
    sp_status r = SP_OK;
    while (pos < n && !r) {
        size_t ms = n, me = n;
        int found;
        if (p->kind == SP_PRE_DIGITS) {
            found = 0;
            for (size_t i = pos; i < n;) {
                uint32_t cp;
                size_t L = sp_utf8_decode((const uint8_t *)s + i, n - i, &cp);
                if (!L) { i++; continue; }
                if ((SP_UC_N_MASK >> sp_uc_category(cp)) & 1) { ms = i; me = i + L; found = 1; break; }
                i += L;
            }
        } else if (p->re) {
            found = sp_regex_find(p->re, s, n, pos, &ms, &me, &e->rx);
            if (found < 0)
                return sp_error_set(e->err, SP_ERR_TOO_LARGE, "tokenizer: the split regex needs too much backtracking on this text");
        } else {
            found = 0;
            size_t L = (size_t)p->lit.len;
            for (size_t i = pos; L && i + L <= n; i++)
                if (memcmp(s + i, p->lit.ptr, L) == 0) { ms = i; me = i + L; found = 1; break; }
        }
        if (!found) { ms = me = n; }
        if (ms > pos) r = split_span(&sp, pos, ms, inv);
        if (found && !r) r = split_span(&sp, ms, me, !inv);
        pos = found ? me : n;
    }
    if (!r) r = split_finish(&sp);
    return r;
}

/* Pre-tokenizer step k over one piece; past the last step the piece is a word for the model.
 * at_start: the piece begins the input text (Metaspace prepend_scheme "first"). */
static sp_status pretok(tk_enc *e, int k, const char *s, size_t n, int at_start) {
    const sp_tok_priv *pv = e->t->priv;
    if (n == 0) return SP_OK;
    if (k >= pv->n_pre) return model_word(e, s, n);
    const sp_tok_pre_step *p = &pv->pre[k];
    tk_bytes *b = &e->lvl[k];
    if (p->kind == SP_PRE_METASPACE) {
        b->len = 0;
        int pre = p->prefix == SP_PREPEND_ALWAYS || (p->prefix == SP_PREPEND_FIRST && at_start);
        int starts_meta = (n >= META_LEN && memcmp(s, META, META_LEN) == 0) || s[0] == ' ';
        if (pre && !starts_meta && !bytes_put(b, META, META_LEN)) return nomem(e);
        for (size_t i = 0; i < n; i++) {
            int ok = s[i] == ' ' ? bytes_put(b, META, META_LEN) : bytes_put(b, s + i, 1);
            if (!ok) return nomem(e);
        }
        if (!p->split) return pretok(e, k + 1, b->p, b->len, at_start);
        size_t st = 0;
        for (size_t i = 1; i + META_LEN <= b->len; i++) {
            if (memcmp(b->p + i, META, META_LEN) == 0) {
                sp_status r = pretok(e, k + 1, b->p + st, i - st, at_start && st == 0);
                if (r) return r;
                st = i;
                i += META_LEN - 1;
            }
        }
        return pretok(e, k + 1, b->p + st, b->len - st, at_start && st == 0);
    }
    if (p->kind == SP_PRE_BYTELEVEL) {
        if (p->prefix && s[0] != ' ') {
            b->len = 0;
            if (!bytes_put(b, " ", 1) || !bytes_put(b, s, n)) return nomem(e);
            s = b->p; n = b->len;
        }
        if (!p->re) return pretok(e, k + 1, s, n, at_start);
    }
    return split_run(e, k, p, s, n, at_start);
}

/* Apply the normalizer steps to s[0..n); result in e->norm. */
static sp_status hf_normalize(tk_enc *e, const char *s, size_t n) {
    const sp_tok_priv *pv = e->t->priv;
    tk_bytes *out = &e->norm, *tmp = &e->tmp;
    out->len = 0;
    if (!bytes_put(out, s, n)) return nomem(e);
    for (int32_t k = 0; k < pv->n_norm; k++) {
        const sp_tok_norm_step *st = &pv->norm[k];
        tmp->len = 0;
        if (st->kind == SP_NORM_NFC) {
            if (sp_uc_nfc_quick(out->p, out->len)) continue;
            if (!sp_uc_nfc(out->p, out->len, &tmp->p, &tmp->len, &tmp->cap)) return nomem(e);
        } else if (st->kind == SP_NORM_PREPEND) {
            if (out->len == 0) continue;
            if (!bytes_put(tmp, st->a.ptr, (size_t)st->a.len) || !bytes_put(tmp, out->p, out->len)) return nomem(e);
        } else {
            size_t L = (size_t)st->a.len;
            for (size_t i = 0; i < out->len;) {
                if (L && L <= out->len - i && memcmp(out->p + i, st->a.ptr, L) == 0) {
                    if (!bytes_put(tmp, st->b.ptr, (size_t)st->b.len)) return nomem(e);
                    i += L;
                } else {
                    if (!bytes_put(tmp, out->p + i, 1)) return nomem(e);
                    i++;
                }
            }
        }
        tk_bytes sw = *out; *out = *tmp; *tmp = sw;
    }
    if (out->len > INT32_MAX / 2) return sp_error_set(e->err, SP_ERR_TOO_LARGE, "tokenizer: text too long");
    return SP_OK;
}

sp_status sp_tok_normalize(const sp_tokenizer *t, const char *s, size_t n, sp_arena *a, sp_str *out, sp_error *err) {
    tk_enc e;
    memset(&e, 0, sizeof(e));
    e.t = t; e.err = err;
    sp_status st = hf_normalize(&e, s, n);
    if (!st) {
        out->ptr = sp_arena_strndup(a, e.norm.p ? e.norm.p : "", e.norm.len);
        out->len = e.norm.len;
        if (!out->ptr) st = sp_error_set(err, SP_ERR_NOMEM, "tokenizer: out of memory");
    }
    enc_free(&e);
    return st;
}

/* A fragment of raw text between non-normalized added tokens. */
static sp_status hf_fragment(tk_enc *e, const char *s, size_t n, int at_start) {
    const sp_tok_priv *pv = e->t->priv;
    sp_status st = hf_normalize(e, s, n);
    if (st) return st;
    const char *ns = e->norm.p ? e->norm.p : "";
    size_t nn = e->norm.len, pos = 0;
    for (;;) {
        size_t ms = nn, me = nn;
        int32_t id = -1;
        int found = matcher_next(&pv->normed, ns, nn, pos, pos, &ms, &me, &id);
        if (ms > pos) {
            st = pretok(e, 0, ns + pos, ms - pos, at_start && pos == 0);
            if (st) return st;
        }
        if (!found) break;
        emit(e, id);
        pos = me;
    }
    return SP_OK;
}

static sp_status bpe_encode(tk_enc *e, const char *text, size_t len) {
    const sp_tok_priv *pv = e->t->priv;
    size_t pos = 0;
    for (;;) {
        size_t ms = len, me = len;
        int32_t id = -1;
        int found = matcher_next(&pv->raw, text, len, pos, pos, &ms, &me, &id);
        if (ms > pos) {
            sp_status st = hf_fragment(e, text + pos, ms - pos, pos == 0);
            if (st) return st;
        }
        if (!found) break;
        emit(e, id);
        pos = me;
    }
    return SP_OK;
}

sp_status sp_tokenizer_encode(const sp_tokenizer *t, const char *text, size_t len, int32_t add_bos,
                              int32_t *ids, int32_t max_ids, int32_t *n_ids, sp_error *err) {
    if (n_ids) *n_ids = 0;
    if (!t || !t->priv || !t->map || !n_ids || (!text && len) || max_ids < 0 || (!ids && max_ids > 0))
        return sp_error_set(err, SP_ERR_INVALID_ARG, "tokenizer_encode: invalid arguments");
    if (len > SP_TOK_MAX_TEXT)
        return sp_error_set(err, SP_ERR_TOO_LARGE, "tokenizer_encode: text of %llu bytes is too long (max %llu)",
                            (unsigned long long)len, (unsigned long long)SP_TOK_MAX_TEXT);
    if (!text) text = "";
    tk_enc e;
    memset(&e, 0, sizeof(e));
    e.t = t; e.ids = ids; e.max_ids = max_ids; e.err = err;
    if (add_bos) for (int32_t k = 0; k < t->priv->n_prefix; k++) emit(&e, t->priv->prefix[k]);
    sp_status st = t->kind == SP_TOK_SPM ? spm_encode(&e, text, len) : bpe_encode(&e, text, len);
    if (add_bos) for (int32_t k = 0; k < t->priv->n_suffix; k++) emit(&e, t->priv->suffix[k]);
    enc_free(&e);
    if (st) return st;
    if (e.n > INT32_MAX) return sp_error_set(err, SP_ERR_TOO_LARGE, "tokenizer_encode: more than 2^31 tokens");
    *n_ids = (int32_t)e.n; /* more than max_ids: the caller's buffer is too small, not an error */
    return SP_OK;
}

/* ---------------------------------------------------------------- decode */

int32_t sp_tokenizer_piece(const sp_tokenizer *t, int32_t prev, int32_t id, char *out, int32_t cap) {
    if (!t || id < 0 || id >= t->vocab_size) return -1;
    if (!out) cap = 0;
    uint8_t type = t->types[id];
    if (type == SP_TT_CONTROL || type == SP_TT_UNUSED) return 0;
    const char *p = t->pieces[id].ptr;
    size_t n = (size_t)t->pieces[id].len;
    if (type == SP_TT_BYTE) {
        int b = sp_tok_parse_byte_piece(p, n);
        if (b >= 0) {
            if (cap >= 1) out[0] = (char)b;
            return 1;
        }
    }
    size_t i = 0;
    int32_t w = 0;
    if (t->priv && t->priv->dec_byte_level) { /* byte-level characters back to their bytes */
        while (i < n) {
            uint32_t cp;
            size_t L = sp_utf8_decode((const uint8_t *)p + i, n - i, &cp);
            int byte = -1;
            if (L && cp < 0x100 + 68) {
                if (cp < 0x100 && sp_tok_byte_cp((int)cp) == cp) byte = (int)cp;
                else if (cp >= 0x100) byte = (int)(cp < 256 + 33 ? cp - 256 : cp < 256 + 67 ? cp - 256 - 33 + 127 : 173);
            }
            if (byte >= 0) { if (w < cap) out[w] = (char)byte; w++; i += L; continue; }
            if (!L) L = 1;
            for (size_t j = 0; j < L; j++) { if (w < cap) out[w] = p[i + j]; w++; }
            i += L;
        }
        return w;
    }
    if (t->add_space_prefix && (prev < 0 || prev == t->bos_id) && n >= META_LEN && memcmp(p, META, META_LEN) == 0)
        i = META_LEN; /* the space that add_space_prefix put there */
    while (i < n) {
        char c;
        if (n - i >= META_LEN && memcmp(p + i, META, META_LEN) == 0) { c = ' '; i += META_LEN; }
        else c = p[i++];
        if (w < cap) out[w] = c;
        w++;
    }
    return w;
}

sp_status sp_tokenizer_decode(const sp_tokenizer *t, const int32_t *ids, int32_t n, char *out, int32_t cap,
                              int32_t *out_len, sp_error *err) {
    if (out_len) *out_len = 0;
    if (!t || !out_len || n < 0 || (!ids && n > 0) || cap < 0 || (!out && cap > 0))
        return sp_error_set(err, SP_ERR_INVALID_ARG, "tokenizer_decode: invalid arguments");
    int64_t total = 0;
    int32_t prev = -1;
    for (int32_t i = 0; i < n; i++) {
        int32_t room = total < cap ? (int32_t)(cap - total) : 0;
        int32_t k = sp_tokenizer_piece(t, prev, ids[i], room ? out + total : NULL, room);
        if (k < 0)
            return sp_error_set(err, SP_ERR_INVALID_ARG, "tokenizer_decode: token id %d at position %d is out of range (vocab %d)",
                                (int)ids[i], (int)i, (int)t->vocab_size);
        total += k;
        if (total > INT32_MAX) return sp_error_set(err, SP_ERR_TOO_LARGE, "tokenizer_decode: text longer than 2^31 bytes");
        prev = ids[i];
    }
    *out_len = (int32_t)total; /* may exceed cap: the first cap bytes are written, not an error */
    return SP_OK;
}
