/* tasks.h - small tuning tasks built at run time from ../shared/data (nothing is copied into
 * the repo). Used by tests/c/test_tune.c and tests/experiments/learn.c. Needs check.h and
 * shared.h included first (a missing shared file is a test failure).
 *
 *   sentiment  data/sentiment_labelled_sentences/{amazon_cells,imdb,yelp}_labelled.txt
 *              ("sentence<TAB>label"): {"input":"Review: <sentence>\nSentiment:",
 *              "output":"positive"|"negative"}; sentences of at most max_chars bytes; the
 *              examples alternate positive / negative (balanced), seeded shuffle.
 *   sentiment-bare  the same without the template: {"input":"<sentence>","output":"positive"|...}
 *   stories    data/tinystories/tinystories_val.txt, blank-line separated blocks starting with
 *              "Once upon a time": {"text": block} (cut to max_chars at a word boundary).
 *   hero       the same blocks whose first sentence says "little girl"/"a girl" or "little boy"/
 *              "a boy" (not both): {"input":"Story: <first two sentences>\nIs the story about a
 *              boy or a girl?\nAnswer:","output":"boy"|"girl"}, balanced.
 * task_build() fills two JSONL buffers: the first n_train examples and the next n_held ones. */
#ifndef SP_TEST_TASKS_H
#define SP_TEST_TASKS_H

#include "common.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len, cap;
    int32_t n; /* lines */
} jsonl;

static void jl_reserve(jsonl *b, size_t more) {
    if (b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1) cap *= 2;
    b->data = (char *)realloc(b->data, cap);
    b->cap = cap;
}

static void jl_raw(jsonl *b, const char *s, size_t n) {
    jl_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

/* a JSON string literal of s[0..n) (control bytes escaped, UTF-8 passed through) */
static void jl_str(jsonl *b, const char *s, size_t n) {
    jl_raw(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[8];
        if (c == '"' || c == '\\') { e[0] = '\\'; e[1] = (char)c; jl_raw(b, e, 2); }
        else if (c == '\n') jl_raw(b, "\\n", 2);
        else if (c < 0x20) { snprintf(e, sizeof(e), "\\u%04x", c); jl_raw(b, e, 6); }
        else jl_raw(b, (const char *)&s[i], 1);
    }
    jl_raw(b, "\"", 1);
}

static void jl_pair(jsonl *b, const char *in_pre, const char *s, size_t n, const char *in_post, const char *out) {
    /* {"input": in_pre + s + in_post, "output": out} */
    size_t lp = strlen(in_pre), lq = strlen(in_post);
    char *in = (char *)malloc(lp + n + lq + 1);
    memcpy(in, in_pre, lp);
    memcpy(in + lp, s, n);
    memcpy(in + lp + n, in_post, lq + 1);
    jl_raw(b, "{\"input\":", 9);
    jl_str(b, in, lp + n + lq);
    jl_raw(b, ",\"output\":", 10);
    jl_str(b, out, strlen(out));
    jl_raw(b, "}\n", 2);
    b->n++;
    free(in);
}

static void jl_text(jsonl *b, const char *s, size_t n) {
    jl_raw(b, "{\"text\":", 8);
    jl_str(b, s, n);
    jl_raw(b, "}\n", 2);
    b->n++;
}

static void jl_free(jsonl *b) { free(b->data); memset(b, 0, sizeof(*b)); }

typedef struct { const char *s; size_t n; int32_t label; } task_item;

static void items_shuffle(task_item *it, int32_t n, sp_rng *rng) {
    for (int32_t i = n - 1; i > 0; i--) {
        int32_t j = (int32_t)sp_rng_below(rng, (uint32_t)i + 1);
        task_item t = it[i]; it[i] = it[j]; it[j] = t;
    }
}

/* Alternate label 1, label 0 from two shuffled lists into out (at most 2*min(n1, n0) items). */
static int32_t items_balance(const task_item *it, int32_t n, task_item *out) {
    int32_t i1 = 0, i0 = 0, k = 0;
    for (;;) {
        while (i1 < n && it[i1].label != 1) i1++;
        while (i0 < n && it[i0].label != 0) i0++;
        if (i1 >= n || i0 >= n) break;
        out[k++] = it[i1++];
        out[k++] = it[i0++];
    }
    return k;
}

typedef struct {
    uint8_t *files[3];
    task_item *items, *bal;
    int32_t n_items, n_bal;
} task_src;

static void task_src_free(task_src *t) {
    for (int i = 0; i < 3; i++) free(t->files[i]);
    free(t->items);
    free(t->bal);
    memset(t, 0, sizeof(*t));
}

static int task_sentiment_items(task_src *t, size_t max_chars) {
    static const char *names[3] = {"data/sentiment_labelled_sentences/amazon_cells_labelled.txt",
                                   "data/sentiment_labelled_sentences/imdb_labelled.txt",
                                   "data/sentiment_labelled_sentences/yelp_labelled.txt"};
    int32_t cap = 4096;
    t->items = (task_item *)malloc(sizeof(task_item) * (size_t)cap);
    for (int f = 0; f < 3; f++) {
        size_t n;
        t->files[f] = shared_read(names[f], &n);
        CHECK_MSG(t->files[f] != NULL, "missing %s", names[f]);
        if (!t->files[f]) return 0;
        char *p = (char *)t->files[f], *end = p + n;
        while (p < end) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            char *le = nl ? nl : end;
            char *tab = NULL;
            for (char *q = le; q > p; q--) if (q[-1] == '\t') { tab = q - 1; break; }
            if (tab && tab + 1 < le && (tab[1] == '0' || tab[1] == '1')) {
                char *se = tab;
                while (se > p && (se[-1] == ' ' || se[-1] == '\r')) se--;
                size_t len = (size_t)(se - p);
                if (len >= 8 && len <= max_chars && t->n_items < cap)
                    t->items[t->n_items++] = (task_item){p, len, tab[1] - '0'};
            }
            p = le + 1;
        }
    }
    return 1;
}

/* blocks of tinystories_val.txt that begin with "Once upon a time" */
static int task_story_items(task_src *t, int hero) {
    size_t n;
    t->files[0] = shared_read("data/tinystories/tinystories_val.txt", &n);
    CHECK_MSG(t->files[0] != NULL, "missing data/tinystories/tinystories_val.txt");
    if (!t->files[0]) return 0;
    int32_t cap = 8192;
    t->items = (task_item *)malloc(sizeof(task_item) * (size_t)cap);
    char *p = (char *)t->files[0], *end = p + n;
    while (p < end && t->n_items < cap) {
        char *e = strstr(p, "\n\n");
        if (!e) e = end;
        size_t len = (size_t)(e - p);
        if (len > 16 && strncmp(p, "Once upon a time", 16) == 0) {
            if (!hero) {
                t->items[t->n_items++] = (task_item){p, len, -1};
            } else {
                /* first sentence, then the first two sentences */
                char *s1 = memchr(p, '.', len);
                if (s1) {
                    size_t l1 = (size_t)(s1 - p);
                    char tmp[512];
                    if (l1 < sizeof(tmp)) {
                        memcpy(tmp, p, l1);
                        tmp[l1] = 0;
                        int girl = strstr(tmp, "little girl") || strstr(tmp, "a girl");
                        int boy = strstr(tmp, "little boy") || strstr(tmp, "a boy");
                        char *s2 = memchr(s1 + 1, '.', (size_t)(e - s1 - 1));
                        size_t l2 = s2 ? (size_t)(s2 + 1 - p) : l1 + 1;
                        if (girl != boy && l2 <= 300 && !memchr(p, '\n', l2)) t->items[t->n_items++] = (task_item){p, l2, girl ? 1 : 0};
                    }
                }
            }
        }
        p = e;
        while (p < end && *p == '\n') p++;
    }
    return 1;
}

/* Cut s[0..n) to at most max bytes at a space. */
static size_t cut_words(const char *s, size_t n, size_t max) {
    if (n <= max) return n;
    size_t k = max;
    while (k > 0 && s[k] != ' ') k--;
    return k ? k : max;
}

/* task: "sentiment" | "stories" | "hero". Returns 0 (and CHECK-fails) if the data is missing or
 * too small for n_train + n_held. */
static int task_build(const char *task, int32_t n_train, int32_t n_held, size_t max_chars, uint64_t seed, jsonl *train, jsonl *held) {
    task_src t;
    memset(&t, 0, sizeof(t));
    memset(train, 0, sizeof(*train));
    memset(held, 0, sizeof(*held));
    int bare = strcmp(task, "sentiment-bare") == 0;
    int is_sent = bare || strcmp(task, "sentiment") == 0, is_hero = strcmp(task, "hero") == 0;
    if (!(is_sent ? task_sentiment_items(&t, max_chars) : task_story_items(&t, is_hero))) { task_src_free(&t); return 0; }
    sp_rng rng;
    sp_rng_seed(&rng, seed);
    items_shuffle(t.items, t.n_items, &rng);
    const task_item *use = t.items;
    int32_t n_use = t.n_items;
    if (is_sent || is_hero) {
        t.bal = (task_item *)malloc(sizeof(task_item) * (size_t)(t.n_items ? t.n_items : 1));
        t.n_bal = items_balance(t.items, t.n_items, t.bal);
        use = t.bal;
        n_use = t.n_bal;
    }
    CHECK_MSG(n_use >= n_train + n_held, "task %s: only %d examples for %d + %d", task, n_use, n_train, n_held);
    if (n_use < n_train + n_held) { task_src_free(&t); return 0; }
    for (int32_t i = 0; i < n_train + n_held; i++) {
        jsonl *b = i < n_train ? train : held;
        const task_item *x = &use[i];
        if (is_sent) jl_pair(b, bare ? "" : "Review: ", x->s, x->n, bare ? "" : "\nSentiment:", x->label ? "positive" : "negative");
        else if (is_hero) jl_pair(b, "Story: ", x->s, x->n, "\nIs the story about a boy or a girl?\nAnswer:", x->label ? "girl" : "boy");
        else jl_text(b, x->s, cut_words(x->s, x->n, max_chars));
    }
    task_src_free(&t);
    return 1;
}

#endif
