/* test_data.c - datasets: JSONL (with conversations and segments)/CSV/TSV/text parsing and errors with line and field, tokenization with targets and
 * truncation, labels, shuffle/split, batches, the preview ABI; real text from the shared folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "files.h"
#include "train/data.h"
#include "readers/json.h"
#include "json_write.h"
#include "model/model.h"
#include "api/softprompt.h"

#include "tiny_tokenizer.h"

static sp_arena tok_arena;
static sp_tokenizer tok;

static int load_tok(void) {
    char *j = tiny_tokenizer_json();
    sp_error err;
    sp_error_clear(&err);
    sp_arena_init(&tok_arena, 0);
    sp_status st = sp_tokenizer_from_hf_json(&tok, j, strlen(j), &tok_arena, &err);
    free(j);
    CHECK_MSG(st == SP_OK, "tiny tokenizer: %s", err.msg);
    if (st) return 0;
    CHECK(tok.bos_id == ID_BOS);
    CHECK(tok.eos_id == ID_EOS);
    return 1;
}

/* Parse helper: returns status, fills ds (caller frees). */
static sp_status parse(sp_dataset *ds, const char *s, int32_t fmt, sp_error *err) {
    sp_error_clear(err);
    return sp_dataset_parse(ds, s, strlen(s), fmt, err);
}

/* Expect an SP_ERR_DATA whose message contains want; when the message names "line N", err.line is N. */
static void expect_error(const char *data, int32_t fmt, const char *want) {
    sp_dataset ds;
    sp_error err;
    sp_status st = parse(&ds, data, fmt, &err);
    CHECK_MSG(st == SP_ERR_DATA, "expected SP_ERR_DATA for %s, got %d (%s)", want, (int)st, err.msg);
    CHECK_MSG(strstr(err.msg, want) != NULL, "message \"%s\" lacks \"%s\"", err.msg, want);
    int line = 0;
    if (sscanf(err.msg, "line %d", &line) == 1) CHECK_MSG(err.line == line, "\"%s\": line value %d", err.msg, (int)err.line);
    else CHECK_MSG(err.line == 0, "\"%s\": line value %d", err.msg, (int)err.line);
    sp_dataset_free(&ds);
}

/* Expect SP_ERR_DATA at line with field (the structured values). */
static void expect_at(const char *data, int32_t line, const char *field, const char *want) {
    sp_dataset ds;
    sp_error err;
    sp_status st = parse(&ds, data, SP_DATA_AUTO, &err);
    CHECK_MSG(st == SP_ERR_DATA && err.line == line && !strcmp(err.field, field) && strstr(err.msg, want),
              "%s: got %d line %d field \"%s\" \"%s\"", data, (int)st, (int)err.line, err.field, err.msg);
    sp_dataset_free(&ds);
}

static int ex_is(const sp_example *e, int kind, const char *text, const char *output, int line) {
    if (e->kind != kind || e->line != line) return 0;
    if (e->text_len != strlen(text) || memcmp(e->text, text, e->text_len)) return 0;
    if (kind == SP_EX_PAIR && (e->output_len != strlen(output) || memcmp(e->output, output, e->output_len))) return 0;
    return 1;
}

static void test_formats(void) {
    int32_t f;
    sp_error err;
    CHECK(sp_data_format_parse("jsonl", &f, &err) == SP_OK && f == SP_DATA_JSONL);
    CHECK(sp_data_format_parse(NULL, &f, &err) == SP_OK && f == SP_DATA_AUTO);
    CHECK(sp_data_format_parse("auto", &f, &err) == SP_OK && f == SP_DATA_AUTO);
    CHECK(sp_data_format_parse("xml", &f, &err) == SP_ERR_INVALID_ARG);
    const char *j = "\n  {\"text\":\"a\"}\n";
    CHECK(sp_data_detect_format(j, strlen(j)) == SP_DATA_JSONL);
    const char *c1 = "input,output\nhi,there\n";
    CHECK(sp_data_detect_format(c1, strlen(c1)) == SP_DATA_CSV);
    const char *c2 = "\xEF\xBB\xBF\"output\",\"input\"\r\nx,y\r\n";
    CHECK(sp_data_detect_format(c2, strlen(c2)) == SP_DATA_CSV);
    const char *c3 = "text\nsome line\n";
    CHECK(sp_data_detect_format(c3, strlen(c3)) == SP_DATA_CSV);
    const char *t1 = "text is here\nmore\n";
    CHECK(sp_data_detect_format(t1, strlen(t1)) == SP_DATA_TEXT);
    const char *t2 = "input, output and more\n";
    CHECK(sp_data_detect_format(t2, strlen(t2)) == SP_DATA_TEXT);
    CHECK(sp_data_detect_format("", 0) == SP_DATA_TEXT);
}

static void test_jsonl(void) {
    sp_dataset ds;
    sp_error err;
    const char *s = "\xEF\xBB\xBF{\"text\": \"hello world\"}\r\n"
                    "\n"
                    "   \t\n"
                    "{\"input\": \"q\\u00e9\", \"output\": \"yes\", \"id\": 7}\n"
                    "{\"output\": \"b\", \"input\": \"a\\nb\"}";
    CHECK(parse(&ds, s, SP_DATA_AUTO, &err) == SP_OK);
    CHECK(ds.format == SP_DATA_JSONL);
    CHECK(ds.n == 3);
    if (ds.n == 3) {
        CHECK(ex_is(&ds.ex[0], SP_EX_TEXT, "hello world", NULL, 1));
        CHECK(ex_is(&ds.ex[1], SP_EX_PAIR, "q\xC3\xA9", "yes", 4));
        CHECK(ex_is(&ds.ex[2], SP_EX_PAIR, "a\nb", "b", 5));
    }
    CHECK(ds.all_pairs == 0);
    sp_dataset_free(&ds);

    expect_error("{\"text\":\"a\"}\n\n{\"text\": \"b\",}\n", SP_DATA_JSONL, "line 3, column 14");
    expect_error("{\"text\":\"a\"}\n[1, 2]\n", SP_DATA_JSONL, "line 2: expected an object");
    expect_error("{\"text\":\"a\"}\n\"str\"\n", SP_DATA_JSONL, "got a string");
    expect_error("{\"input\":\"a\"}\n", SP_DATA_JSONL, "line 1: missing \"output\"");
    expect_error("{\"output\":\"a\"}\n", SP_DATA_JSONL, "line 1: missing \"input\"");
    expect_error("\n\n{\"text\": 5}\n", SP_DATA_JSONL, "line 3: \"text\" must be a string, got a number");
    expect_error("{\"input\":\"a\",\"output\":null}\n", SP_DATA_JSONL, "\"output\" must be a string, got null");
    expect_error("{\"text\":\"a\",\"input\":\"b\",\"output\":\"c\"}\n", SP_DATA_JSONL, "line 1: has both");
    expect_error("{\"prompt\":\"a\"}\n", SP_DATA_JSONL, "line 1: missing \"completion\"");
    expect_error("{\"question\":\"a\"}\n", SP_DATA_JSONL, "line 1: missing \"text\"");
    expect_error("{\"text\":\"a\"} {\"text\":\"b\"}\n", SP_DATA_JSONL, "line 1, column 14");
    expect_error("", SP_DATA_JSONL, "no examples");
    expect_error("\n \n\r\n", SP_DATA_JSONL, "no examples");
    expect_error("", SP_DATA_AUTO, "no examples");
}

static void test_csv(void) {
    sp_dataset ds;
    sp_error err;
    const char *s = "output,input,notes\r\n"
                    "pos,\"great, really\",x\r\n"
                    "\r\n"
                    "neg,\"he said \"\"no\"\"\nand left\",y\r\n"
                    "\"\",plain,\n"
                    "pos,last,z";
    CHECK(parse(&ds, s, SP_DATA_AUTO, &err) == SP_OK && ds.format == SP_DATA_TEXT); /* 3 header columns: auto says text */
    sp_dataset_free(&ds);
    CHECK_MSG(parse(&ds, s, SP_DATA_CSV, &err) == SP_OK, "%s", err.msg);
    CHECK(ds.format == SP_DATA_CSV);
    CHECK(ds.n == 4);
    if (ds.n == 4) {
        CHECK(ex_is(&ds.ex[0], SP_EX_PAIR, "great, really", "pos", 2));
        CHECK(ex_is(&ds.ex[1], SP_EX_PAIR, "he said \"no\"\nand left", "neg", 4));
        CHECK(ex_is(&ds.ex[2], SP_EX_PAIR, "plain", "", 6));
        CHECK(ex_is(&ds.ex[3], SP_EX_PAIR, "last", "pos", 7));
    }
    CHECK(ds.all_pairs == 1);
    sp_dataset_free(&ds);

    CHECK(parse(&ds, "text\n\"a, b\"\nc\n", SP_DATA_AUTO, &err) == SP_OK);
    CHECK(ds.format == SP_DATA_CSV && ds.n == 2);
    if (ds.n == 2) { CHECK(ex_is(&ds.ex[0], SP_EX_TEXT, "a, b", NULL, 2)); CHECK(ex_is(&ds.ex[1], SP_EX_TEXT, "c", NULL, 3)); }
    sp_dataset_free(&ds);

    CHECK(parse(&ds, "input,output\r\n\"a\",\"b\"\r", SP_DATA_CSV, &err) == SP_OK && ds.n == 1 && ex_is(&ds.ex[0], SP_EX_PAIR, "a", "b", 2));
    sp_dataset_free(&ds);
    expect_error("input,output\na,b\nc,d,e\n", SP_DATA_CSV, "line 3: expected 2 fields like the header, found 3");
    expect_error("input,output\n\"multi\nline\",x\nc\n", SP_DATA_CSV, "line 4: expected 2 fields");
    expect_error("input,output\na,b\n\"open,x\n\n", SP_DATA_CSV, "line 3: unterminated quoted field");
    expect_error("input,output\na,b\nsay \"hi\",x\n", SP_DATA_CSV, "line 3: quote inside an unquoted field");
    expect_error("input,output\n\"a\"b,x\n", SP_DATA_CSV, "line 2: unexpected character after a closing quote");
    expect_error("question,answer\na,b\n", SP_DATA_CSV, "line 1: CSV header must name");
    expect_error("input,label\na,b\n", SP_DATA_CSV, "has \"input\" but no \"output\"");
    expect_error("text,input,output\na,b,c\n", SP_DATA_CSV, "both \"text\"");
    expect_error("input,output\n", SP_DATA_CSV, "no examples");
    expect_error("", SP_DATA_CSV, "no examples");
}

static void test_text(void) {
    sp_dataset ds;
    sp_error err;
    const char *s = "\n\nOnce upon a time\r\nthere was a cat.\r\n\r\n  \n\nThe end.\n\n\nLast one";
    CHECK(parse(&ds, s, SP_DATA_AUTO, &err) == SP_OK);
    CHECK(ds.format == SP_DATA_TEXT);
    CHECK(ds.n == 3);
    if (ds.n == 3) {
        CHECK(ex_is(&ds.ex[0], SP_EX_TEXT, "Once upon a time\nthere was a cat.", NULL, 3));
        CHECK(ex_is(&ds.ex[1], SP_EX_TEXT, "The end.", NULL, 8));
        CHECK(ex_is(&ds.ex[2], SP_EX_TEXT, "Last one", NULL, 11));
    }
    sp_dataset_free(&ds);
    /* forcing text on JSON-looking data keeps the lines */
    CHECK(parse(&ds, "{\"text\": 1\n\n{", SP_DATA_TEXT, &err) == SP_OK && ds.n == 2);
    sp_dataset_free(&ds);
    expect_error(" \n\t\n", SP_DATA_TEXT, "no examples");
}

/* ---- tokenization ---- */

static int ids_eq(const sp_dataset *ds, int32_t i, const int32_t *want, const uint8_t *want_t, int32_t n) {
    if (sp_dataset_len(ds, i) != n) return 0;
    const int32_t *ids = ds->ids + ds->offsets[i];
    const uint8_t *t = ds->targets + ds->offsets[i];
    for (int32_t k = 0; k < n; k++) if (ids[k] != want[k] || t[k] != want_t[k]) return 0;
    return 1;
}

static void test_tokenize(void) {
    sp_dataset ds;
    sp_error err;
    const char *s = "{\"text\": \"ab\"}\n"
                    "{\"input\": \"ab\", \"output\": \"c\"}\n"
                    "{\"text\": \"abcdefgh\"}\n"
                    "{\"input\": \"abcdefgh\", \"output\": \"x\"}\n"
                    "{\"input\": \"ab\", \"output\": \"cdefg\"}\n"
                    "{\"input\": \"\", \"output\": \"\"}\n";
    sp_error_clear(&err);
    CHECK_MSG(sp_dataset_load(&ds, &tok, s, strlen(s), SP_DATA_AUTO, 6, &err) == SP_OK, "%s", err.msg);
    CHECK(ds.n == 6 && ds.max_length == 6);
    {
        int32_t w[] = {ID_BOS, ID_META, ID('a'), ID('b')};
        uint8_t t[] = {0, 1, 1, 1};
        CHECK(ids_eq(&ds, 0, w, t, 4));
    }
    {   /* the output is encoded on its own: it gets the space prefix */
        int32_t w[] = {ID_BOS, ID_META, ID('a'), ID('b'), ID_META, ID('c'), ID_EOS};
        uint8_t t[] = {0, 0, 0, 0, 1, 1, 1};
        CHECK(sp_dataset_len(&ds, 1) == 6); /* 7 tokens, truncated to 6 keeping the beginning */
        CHECK(ids_eq(&ds, 1, w, t, 6));
    }
    {
        int32_t w[] = {ID_BOS, ID_META, ID('a'), ID('b'), ID('c'), ID('d')};
        uint8_t t[] = {0, 1, 1, 1, 1, 1};
        CHECK(ids_eq(&ds, 2, w, t, 6));
    }
    {   /* input fills max_length: keep the last 6 tokens */
        int32_t w[] = {ID('f'), ID('g'), ID('h'), ID_META, ID('x'), ID_EOS};
        uint8_t t[] = {0, 0, 0, 1, 1, 1};
        CHECK(ids_eq(&ds, 3, w, t, 6));
    }
    {
        int32_t w[] = {ID_BOS, ID_META, ID('a'), ID('b'), ID_META, ID('c')};
        uint8_t t[] = {0, 0, 0, 0, 1, 1};
        CHECK(ids_eq(&ds, 4, w, t, 6));
    }
    {   /* empty input and output: BOS then EOS (what does the tokenizer give for ""?) */
        int32_t n_in = 0, buf[8];
        sp_tokenizer_encode(&tok, "", 0, 1, buf, 8, &n_in, &err);
        int32_t n_out = 0;
        sp_tokenizer_encode(&tok, "", 0, 0, buf + n_in, 8 - n_in, &n_out, &err);
        buf[n_in + n_out] = ID_EOS;
        uint8_t t[8] = {0};
        for (int k = n_in; k <= n_in + n_out; k++) t[k] = 1;
        CHECK(ids_eq(&ds, 5, buf, t, n_in + n_out + 1));
    }
    CHECK(ds.n_truncated == 4);
    CHECK(ds.n_tail == 1);
    CHECK(ds.max_len == 6);
    int64_t nt = 0, ntg = 0;
    for (int64_t k = 0; k < ds.n_tokens; k++) { nt++; ntg += ds.targets[k]; }
    CHECK(nt == ds.offsets[ds.n] && ntg == ds.n_targets);
    CHECK(ds.n_labels == 0); /* not all pairs */
    sp_dataset_free(&ds);

    /* the same data with a large max_length equals a direct encoding (independent path) */
    const char *p = "{\"input\": \"hello there\", \"output\": \"general kenobi\"}\n";
    CHECK(sp_dataset_load(&ds, &tok, p, strlen(p), SP_DATA_JSONL, 1000, &err) == SP_OK);
    {
        int32_t a[64], b2[64], n1 = 0, n2 = 0;
        sp_tokenizer_encode(&tok, "hello there", 11, 1, a, 64, &n1, &err);
        sp_tokenizer_encode(&tok, "general kenobi", 14, 0, b2, 64, &n2, &err);
        int32_t w[130];
        uint8_t t[130];
        memcpy(w, a, (size_t)n1 * 4);
        memcpy(w + n1, b2, (size_t)n2 * 4);
        w[n1 + n2] = ID_EOS;
        for (int k = 0; k <= n1 + n2; k++) t[k] = k >= n1;
        CHECK(ids_eq(&ds, 0, w, t, n1 + n2 + 1));
        CHECK(ds.n_truncated == 0 && ds.n_targets == n2 + 1);
        CHECK(ds.n_labels == 1 && ds.label_of && ds.label_of[0] == 0);
        CHECK(ds.label_offsets[1] - ds.label_offsets[0] == n2 + 1);
        CHECK(memcmp(ds.label_ids, b2, (size_t)n2 * 4) == 0 && ds.label_ids[n2] == ID_EOS);
    }
    sp_dataset_free(&ds);

    /* the tail window lies inside the output: its first token has no context, so it is no target */
    const char *tl = "{\"input\": \"abcdefgh\", \"output\": \"xyzwv\"}\n";
    CHECK(sp_dataset_load(&ds, &tok, tl, strlen(tl), SP_DATA_JSONL, 4, &err) == SP_OK);
    {
        int32_t w[] = {ID('z'), ID('w'), ID('v'), ID_EOS};
        uint8_t t[] = {0, 1, 1, 1};
        CHECK(ids_eq(&ds, 0, w, t, 4));
        CHECK(ds.n_tail == 1 && ds.n_targets == 3);
    }
    sp_dataset_free(&ds);

    /* errors */
    const char *e1 = "{\"text\":\"a\"}\n{\"text\":\"\"}\n";
    CHECK(sp_dataset_load(&ds, &tok, e1, strlen(e1), SP_DATA_AUTO, 16, &err) == SP_ERR_DATA);
    CHECK_MSG(strstr(err.msg, "line 2") && strstr(err.msg, "empty text"), "%s", err.msg);
    sp_dataset_free(&ds);
    CHECK(sp_dataset_load(&ds, &tok, "x", 1, SP_DATA_AUTO, 1, &err) == SP_ERR_INVALID_ARG);
    sp_dataset_free(&ds);
}

static void test_labels(void) {
    sp_dataset ds;
    sp_error err;
    const char *s = "input,output\ngreat,pos\nawful,neg\nfine,pos\nmeh,neutral\n";
    CHECK(sp_dataset_load(&ds, &tok, s, strlen(s), SP_DATA_AUTO, 64, &err) == SP_OK);
    CHECK(ds.n_labels == 3);
    if (ds.n_labels == 3) {
        CHECK(!strcmp(ds.labels[0], "neg") && !strcmp(ds.labels[1], "neutral") && !strcmp(ds.labels[2], "pos"));
        CHECK(ds.label_of[0] == 2 && ds.label_of[1] == 0 && ds.label_of[2] == 2 && ds.label_of[3] == 1);
        /* label 0 "neg" = ▁ n e g </s> */
        int32_t w[] = {ID_META, ID('n'), ID('e'), ID('g'), ID_EOS};
        CHECK(ds.label_offsets[0] == 0 && ds.label_offsets[1] == 5);
        CHECK(memcmp(ds.label_ids, w, sizeof(w)) == 0);
    }
    sp_dataset_free(&ds);
    /* 21 distinct outputs: no label set; 20: a label set */
    sp_buf b;
    memset(&b, 0, sizeof(b));
    sp_buf_printf(&b, "input,output\n");
    for (int i = 0; i < 20; i++) sp_buf_printf(&b, "x,l%c\n", 'a' + i);
    CHECK(sp_dataset_load(&ds, &tok, b.data, b.len, SP_DATA_CSV, 64, &err) == SP_OK);
    CHECK(ds.n_labels == 20);
    sp_dataset_free(&ds);
    sp_buf_printf(&b, "y,zz\n");
    CHECK(sp_dataset_load(&ds, &tok, b.data, b.len, SP_DATA_CSV, 64, &err) == SP_OK);
    CHECK(ds.n_labels == 0 && ds.label_of == NULL);
    sp_dataset_free(&ds);
    sp_buf_free(&b);
}

/* ---- order, shuffle, split ---- */

static void test_shuffle_split(void) {
    enum { n = 50 };
    int32_t a[n], ref[n];
    sp_rng r1, r2;
    sp_rng_seed(&r1, 42);
    sp_data_order_init(a, n);
    sp_data_shuffle(a, n, &r1);
    /* naive Fisher-Yates with the same RNG calls */
    sp_rng_seed(&r2, 42);
    for (int i = 0; i < n; i++) ref[i] = i;
    for (int i = n - 1; i >= 1; i--) {
        uint32_t j = sp_rng_below(&r2, (uint32_t)i + 1);
        int t = ref[i]; ref[i] = ref[j]; ref[j] = t;
    }
    CHECK(memcmp(a, ref, sizeof(a)) == 0);
    int seen[n] = {0}, moved = 0;
    for (int i = 0; i < n; i++) { if (a[i] >= 0 && a[i] < n) seen[a[i]]++; moved += a[i] != i; }
    for (int i = 0; i < n; i++) CHECK(seen[i] == 1);
    CHECK(moved > n / 2);
    sp_rng_seed(&r1, 43);
    int32_t b[n];
    sp_data_order_init(b, n);
    sp_data_shuffle(b, n, &r1);
    CHECK(memcmp(a, b, sizeof(a)) != 0);

    int32_t tr[n], ev[n], ntr, nev;
    sp_error err;
    CHECK(sp_data_split(10, 0.2f, 7, tr, &ntr, ev, &nev, &err) == SP_OK && ntr == 8 && nev == 2);
    int cover[10] = {0};
    for (int i = 0; i < ntr; i++) { cover[tr[i]]++; if (i) CHECK(tr[i] > tr[i - 1]); }
    for (int i = 0; i < nev; i++) { cover[ev[i]]++; if (i) CHECK(ev[i] > ev[i - 1]); }
    for (int i = 0; i < 10; i++) CHECK(cover[i] == 1);
    int32_t ev2[n], tr2[n], ntr2, nev2;
    CHECK(sp_data_split(10, 0.2f, 7, tr2, &ntr2, ev2, &nev2, &err) == SP_OK && nev2 == 2 && !memcmp(ev, ev2, 8));
    int differs = 0;
    for (uint64_t seed = 8; seed < 12; seed++) {
        CHECK(sp_data_split(10, 0.2f, seed, tr2, &ntr2, ev2, &nev2, &err) == SP_OK);
        differs |= memcmp(ev, ev2, 8) != 0;
    }
    CHECK(differs);
    CHECK(sp_data_split(2, 0.01f, 1, tr, &ntr, ev, &nev, &err) == SP_OK && nev == 1 && ntr == 1);
    CHECK(sp_data_split(1, 0.5f, 1, tr, &ntr, ev, &nev, &err) == SP_OK && nev == 0 && ntr == 1);
    CHECK(sp_data_split(5, 0.0f, 1, tr, &ntr, ev, &nev, &err) == SP_OK && nev == 0 && ntr == 5);
    CHECK(sp_data_split(5, 0.99f, 1, tr, &ntr, ev, &nev, &err) == SP_OK && nev == 4 && ntr == 1);
    CHECK(sp_data_split(40, 0.1f, 1, tr, &ntr, ev, &nev, &err) == SP_OK && nev == 4);
    CHECK(sp_data_split(5, 1.0f, 1, tr, &ntr, ev, &nev, &err) == SP_ERR_INVALID_ARG);
    CHECK(sp_data_split(5, -0.1f, 1, tr, &ntr, ev, &nev, &err) == SP_ERR_INVALID_ARG);
}

static void test_batch(void) {
    sp_dataset ds;
    sp_error err;
    const char *s = "{\"text\":\"abc\"}\n{\"input\":\"a\",\"output\":\"b\"}\n{\"text\":\"a\"}\n";
    CHECK(sp_dataset_load(&ds, &tok, s, strlen(s), SP_DATA_JSONL, 32, &err) == SP_OK);
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_batch b;
    CHECK(sp_batch_init(&b, &a, 4, 8, &err) == SP_OK);
    int32_t idx[3] = {2, 0, 1};
    const int32_t pad = sp_data_pad_id(&tok);
    CHECK(pad == (tok.pad_id >= 0 ? tok.pad_id : 0));
    CHECK(sp_batch_fill(&b, &ds, idx, 3, 77, &err) == SP_OK);
    CHECK(b.B == 3 && b.T == 6); /* longest: BOS ▁ a ▁ b EOS */
    int64_t nt = 0;
    for (int r = 0; r < 3; r++) {
        int32_t l = sp_dataset_len(&ds, idx[r]);
        CHECK(b.lengths[r] == l && b.example[r] == idx[r]);
        for (int t = 0; t < b.T; t++) {
            if (t < l) {
                CHECK(b.ids[r * b.T + t] == ds.ids[ds.offsets[idx[r]] + t]);
                CHECK(b.targets[r * b.T + t] == ds.targets[ds.offsets[idx[r]] + t]);
            } else {
                CHECK(b.ids[r * b.T + t] == 77 && b.targets[r * b.T + t] == 0);
            }
            nt += b.targets[r * b.T + t];
        }
    }
    CHECK(nt == b.n_targets && nt == ds.n_targets);
    int32_t too_many[5] = {0, 1, 2, 0, 1};
    CHECK(sp_batch_fill(&b, &ds, too_many, 5, 0, &err) == SP_ERR_INVALID_ARG);
    int32_t bad[1] = {3};
    CHECK(sp_batch_fill(&b, &ds, bad, 1, 0, &err) == SP_ERR_INVALID_ARG);
    sp_batch small;
    CHECK(sp_batch_init(&small, &a, 2, 4, &err) == SP_OK);
    CHECK(sp_batch_fill(&small, &ds, idx + 1, 1, 0, &err) == SP_ERR_INVALID_ARG); /* 5 tokens > 4 */
    CHECK(sp_batch_init(&small, &a, 0, 4, &err) == SP_ERR_INVALID_ARG);
    sp_arena_free(&a);
    sp_dataset_free(&ds);
}

static void test_tsv(void) {
    sp_dataset ds;
    sp_error err;
    const char *h = "a cat\tcat\na dog\tdog\n";
    CHECK(sp_data_detect_format(h, strlen(h)) == SP_DATA_TSV);
    CHECK(parse(&ds, h, SP_DATA_AUTO, &err) == SP_OK && ds.format == SP_DATA_TSV && ds.n == 2);
    if (ds.n == 2) { CHECK(ex_is(&ds.ex[0], SP_EX_PAIR, "a cat", "cat", 1)); CHECK(ex_is(&ds.ex[1], SP_EX_PAIR, "a dog", "dog", 2)); }
    sp_dataset_free(&ds);
    /* a header names the columns, in any order and case; a quote inside a field is text */
    const char *o = "Output\tinput\r\nyes\tis \"it\"?\r\n";
    CHECK(parse(&ds, o, SP_DATA_AUTO, &err) == SP_OK && ds.format == SP_DATA_TSV && ds.n == 1 && ex_is(&ds.ex[0], SP_EX_PAIR, "is \"it\"?", "yes", 2));
    sp_dataset_free(&ds);
    CHECK(parse(&ds, "text\tid\nhello\t1\n", SP_DATA_AUTO, &err) == SP_OK && ds.n == 1 && ex_is(&ds.ex[0], SP_EX_TEXT, "hello", NULL, 2));
    sp_dataset_free(&ds);
    /* never one plain-text example: three fields without a header are refused on line 1 */
    expect_at("a\tb\tc\nd\te\tf\n", 1, "", "expected 2 tab-separated fields (input, output) or a header row");
    expect_error("a\tb\nc\n", SP_DATA_TSV, "line 2: expected 2 tab-separated fields");
    expect_error("input\toutput\nx\ty\tz\n", SP_DATA_TSV, "line 2: expected 2 tab-separated fields like the header");
    CHECK(sp_data_detect_format("a\tb\nc\n", 6) == SP_DATA_TEXT); /* a line without a tab: not TSV */
    CHECK(sp_data_detect_format("\tindented\n\tprose\n", 18) == SP_DATA_TEXT); /* tabs that only indent */
    /* rows that disagree are TSV, refused on the row that breaks the shape, not one plain-text example */
    expect_at("a\tb\nc\td\te\n", 2, "", "expected 2 tab-separated fields (input, output) or a header row");
}

static void test_chat(void) {
    sp_dataset ds;
    sp_error err;
    const char *s = "{\"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, {\"role\": \"user\", \"content\": \"hi\"},"
                    " {\"role\": \"assistant\", \"content\": \"hello\"}]}\n"
                    "{\"prompt\": \"q\", \"completion\": \"a\"}\n"
                    "{\"prompt\": [{\"role\": \"user\", \"content\": \"2+2?\"}], \"completion\": \"4\"}\n"
                    "{\"prompt\": \"3+3?\", \"completion\": [{\"role\": \"assistant\", \"content\": \"6\"}]}\n"
                    "{\"segments\": [{\"text\": \"ab\"}, {\"text\": \"c\", \"train\": true}]}\n";
    CHECK_MSG(parse(&ds, s, SP_DATA_AUTO, &err) == SP_OK, "%s", err.msg);
    CHECK(ds.n == 5);
    if (ds.n == 5) {
        const sp_example *e = &ds.ex[0];
        CHECK(e->kind == SP_EX_CHAT && e->n_parts == 3 && e->train_from == 0 && !strcmp(e->roles[2], "assistant") && !strcmp(e->parts[2], "hello"));
        CHECK(ex_is(&ds.ex[1], SP_EX_PAIR, "q", "a", 2)); /* two strings: an input/output pair */
        e = &ds.ex[2];
        CHECK(e->kind == SP_EX_CHAT && e->n_parts == 2 && e->train_from == 1 && !strcmp(e->roles[1], "assistant") && !strcmp(e->parts[1], "4"));
        e = &ds.ex[3];
        CHECK(e->kind == SP_EX_CHAT && e->n_parts == 2 && e->train_from == 1 && !strcmp(e->roles[0], "user") && !strcmp(e->parts[0], "3+3?"));
        e = &ds.ex[4];
        CHECK(e->kind == SP_EX_SEGMENTS && e->n_parts == 2 && e->train[0] == 0 && e->train[1] == 1 && e->line == 5);
    }
    sp_dataset_free(&ds);
    /* bad records: SP_ERR_DATA with line and field */
    expect_at("{\"text\":\"a\"}\n{\"messages\": [{\"content\": \"hi\"}]}\n", 2, "messages[0].role", "messages[0].role is missing");
    expect_at("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": 5}]}\n", 1,
              "messages[1].content", "must be a string, got a number");
    expect_at("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n", 1, "messages", "no \"assistant\" turn");
    expect_at("{\"messages\": [{\"role\": 1, \"content\": \"hi\"}]}\n", 1, "messages[0].role", "non-empty string, got a number");
    expect_at("{\"messages\": {\"role\": \"user\"}}\n", 1, "messages", "must be a list");
    expect_at("{\"messages\": [\"hi\"]}\n", 1, "messages[0]", "must be an object");
    expect_at("{\"prompt\": [{\"role\": \"assistant\", \"content\": \"x\"}], \"completion\": [{\"role\": \"user\", \"content\": \"y\"}]}\n", 1,
              "completion", "\"completion\" has no \"assistant\" turn");
    expect_at("{\"prompt\": 3, \"completion\": \"y\"}\n", 1, "prompt", "string or a list of messages");
    expect_at("{\"completion\": \"y\"}\n", 1, "prompt", "missing \"prompt\"");
    expect_at("{\"messages\": [], \"text\": \"x\"}\n", 1, "", "has both \"text\" and \"messages\"");
    expect_at("{\"segments\": [{\"text\": \"a\", \"train\": 1}]}\n", 1, "segments[0].train", "true or false");
    expect_at("{\"segments\": [{\"text\": \"a\"}]}\n", 1, "segments", "no segment with");
    expect_at("{\"text\": 5}\n", 1, "text", "must be a string");
    expect_at("{\"text\": \"a\",}\n", 1, "", "line 1, column 14");

    /* the conversations for the renderer */
    char *j = sp_data_conversations_json(s, strlen(s), "auto", &err);
    CHECK_MSG(j != NULL, "%s", err.msg);
    if (j) {
        sp_arena a;
        sp_arena_init(&a, 0);
        sp_json *v = sp_json_parse(&a, j, strlen(j), &err);
        const sp_json *c = v ? sp_json_get(v, "conversations") : NULL;
        CHECK_MSG(c && c->type == SP_JSON_ARRAY && c->len == 3, "%s", j);
        if (c && c->len == 3) {
            CHECK(sp_json_number(&c->items[0], "line", 0) == 1 && sp_json_number(&c->items[0], "train_from", -1) == 0);
            CHECK(sp_json_number(&c->items[1], "line", 0) == 3 && sp_json_number(&c->items[1], "train_from", -1) == 1);
            const sp_json *m = sp_json_get(&c->items[2], "messages");
            CHECK(m && m->len == 2 && !strcmp(sp_json_string(&m->items[1], "role", ""), "assistant") && !strcmp(sp_json_string(&m->items[1], "content", ""), "6"));
        }
        sp_arena_free(&a);
        sp_free(j);
    }
    j = sp_data_conversations_json("{\"text\":\"a\"}\n{\"messages\":[]}\n", 32, "jsonl", &err);
    CHECK(j == NULL && err.code == SP_ERR_DATA && err.line == 2 && !strcmp(err.field, "messages"));

    /* segments tokenize without BOS/EOS, learnt where train; an unrendered conversation is refused */
    const char *g = "{\"segments\": [{\"text\": \"ab\", \"train\": false}, {\"text\": \"c\", \"train\": true}, {\"text\": \"d\"}]}\n";
    CHECK(sp_dataset_load(&ds, &tok, g, strlen(g), SP_DATA_AUTO, 64, &err) == SP_OK);
    {
        int32_t w[] = {ID_META, ID('a'), ID('b'), ID_META, ID('c'), ID_META, ID('d')};
        uint8_t t[] = {0, 0, 0, 1, 1, 0, 0};
        CHECK(ids_eq(&ds, 0, w, t, 7));
        CHECK(ds.n_targets == 2);
    }
    sp_dataset_free(&ds);
    CHECK(sp_dataset_load(&ds, &tok, s, strlen(s), SP_DATA_AUTO, 64, &err) == SP_ERR_UNSUPPORTED && err.line == 1 && strstr(err.msg, "chat template"));
    sp_dataset_free(&ds);
}

/* The preview JSON through the ABI: a parsed JSON document for the checks. */
static sp_json *preview(sp_arena *a, sp_model *m, const char *data, const char *opts) {
    sp_error err;
    sp_error_clear(&err);
    char *j = sp_data_preview_json(m, data, strlen(data), opts, &err);
    CHECK_MSG(j != NULL, "%s", err.msg);
    if (!j) return NULL;
    sp_json *v = sp_json_parse(a, j, strlen(j), &err);
    CHECK_MSG(v != NULL, "preview is not JSON: %s", j);
    sp_free(j);
    return v;
}

static void test_preview(void) {
    sp_model m;
    memset(&m, 0, sizeof(m));
    m.tok = tok;
    sp_error err;
    sp_arena a;
    sp_arena_init(&a, 0);
    const char *s = "input,output\n\"good, very\",pos\nbad,neg\nok,pos\n";
    sp_json *v = preview(&a, &m, s, "{\"limit\":2,\"max_length\":5}");
    if (v) {
        CHECK(sp_json_number(v, "count", -1) == 3);
        CHECK(!strcmp(sp_json_string(v, "format", ""), "csv") && !strcmp(sp_json_string(v, "kind", ""), "input-output"));
        const sp_json *t = sp_json_get(v, "tokens");
        /* BOS ▁good,▁very ▁pos EOS ... counted before truncation; every example is longer than 5 */
        CHECK(t && sp_json_number(t, "truncated", -1) == 3);
        const sp_json *pe = t ? sp_json_get(t, "per_example") : NULL;
        CHECK(pe && pe->len == 3);
        if (pe && pe->len == 3) {
            int32_t ids[64], n = 0, n2 = 0;
            sp_tokenizer_encode(&tok, "bad", 3, 1, ids, 64, &n, &err);
            sp_tokenizer_encode(&tok, "neg", 3, 0, ids, 64, &n2, &err);
            CHECK_MSG(pe->items[1].number == n + n2 + 1, "%g vs %d", pe->items[1].number, (int)(n + n2 + 1));
            CHECK(sp_json_number(t, "total", -1) == pe->items[0].number + pe->items[1].number + pe->items[2].number);
        }
        const sp_json *l = sp_json_get(v, "labels");
        CHECK(l && l->type == SP_JSON_ARRAY && l->len == 2 && !strcmp(l->items[0].str, "neg") && !strcmp(l->items[1].str, "pos"));
        const sp_json *p = sp_json_get(v, "examples");
        CHECK(p && p->type == SP_JSON_ARRAY && p->len == 2);
        if (p && p->len == 2) {
            CHECK(!strcmp(sp_json_string(&p->items[0], "input", ""), "good, very"));
            CHECK(!strcmp(sp_json_string(&p->items[0], "output", ""), "pos"));
            CHECK(sp_json_number(&p->items[1], "line", 0) == 3);
        }
        const sp_json *w = sp_json_get(v, "warnings");
        CHECK(w && w->len == 0);
    }
    v = preview(&a, &m, "{\"text\":\"abc\"}\n{\"text\":\"de\"}\n", NULL);
    if (v) {
        const sp_json *t = sp_json_get(v, "tokens");
        CHECK(sp_json_get(v, "labels")->type == SP_JSON_NULL && t && sp_json_number(t, "total", -1) == 9 && sp_json_number(t, "targets", -1) == 7);
        CHECK(!strcmp(sp_json_string(v, "kind", ""), "text"));
    }
    v = preview(&a, NULL, "{\"text\":\"abc\"}\n{\"text\":\"de\"}\n", "{\"format\":\"jsonl\",\"limit\":0}");
    if (v) CHECK(sp_json_get(v, "tokens")->type == SP_JSON_NULL && sp_json_get(v, "examples")->len == 0);
    /* malformed data is the answer, with line and field */
    v = preview(&a, &m, "{\"text\":\"a\"}\n{\"text\":1}\n", "{\"format\":\"jsonl\"}");
    if (v) {
        const sp_json *e = sp_json_get(v, "errors");
        CHECK(sp_json_number(v, "count", -1) == 0 && e && e->len == 1);
        if (e && e->len == 1) {
            CHECK(sp_json_number(&e->items[0], "line", 0) == 2 && !strcmp(sp_json_string(&e->items[0], "field", ""), "text"));
            CHECK(!strcmp(sp_json_string(&e->items[0], "code", ""), "SP_ERR_DATA") && strstr(sp_json_string(&e->items[0], "message", ""), "line 2"));
        }
    }
    /* one example warns; conversations count null tokens until rendered */
    v = preview(&a, &m, "one example only\n", NULL);
    if (v) { const sp_json *w = sp_json_get(v, "warnings"); CHECK(w && w->len == 1 && strstr(w->items[0].str, "one example")); }
    v = preview(&a, &m, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"}]}\n{\"text\":\"ab\"}\n", NULL);
    if (v) {
        CHECK(!strcmp(sp_json_string(v, "kind", ""), "mixed"));
        const sp_json *pe = sp_json_get(sp_json_get(v, "tokens"), "per_example");
        CHECK(pe && pe->len == 2 && pe->items[0].type == SP_JSON_NULL && pe->items[1].number == 4);
    }
    /* ids and targets of the listed examples: segments learn where train is true */
    v = preview(&a, &m, "{\"segments\":[{\"text\":\"ab\"},{\"text\":\"c\",\"train\":true}]}\n", "{\"ids\":true}");
    if (v) {
        const sp_json *e = sp_json_get(v, "examples");
        const sp_json *ids = e && e->len == 1 ? sp_json_get(&e->items[0], "ids") : NULL, *tg = e && e->len == 1 ? sp_json_get(&e->items[0], "targets") : NULL;
        CHECK(ids && tg && ids->len == 5 && tg->len == 5);
        if (ids && tg && ids->len == 5 && tg->len == 5) {
            CHECK(ids->items[0].number == ID_META && ids->items[3].number == ID_META && ids->items[4].number == ID('c'));
            CHECK(tg->items[2].number == 0 && tg->items[3].number == 1 && tg->items[4].number == 1);
        }
        CHECK(!strcmp(sp_json_string(v, "kind", ""), "chat"));
    }
    CHECK(sp_data_preview_json(&m, "a", 1, "{\"format\":\"yaml\"}", &err) == NULL && err.code == SP_ERR_INVALID_ARG);
    CHECK(sp_data_preview_json(&m, "a", 1, "{\"limits\":2}", &err) == NULL && err.code == SP_ERR_INVALID_ARG);
    sp_arena_free(&a);
}

/* real text: TinyStories validation dump. Its README counts 4300 blocks split on "\n\n"; two of its
 * lines hold only spaces, and a whitespace-only line is blank for us, so we find 4302
 * (python: len([b for b in re.split(r'\n\s*\n', s) if b.strip()]) == 4302). */
static void test_shared_text(void) {
    size_t n = 0;
    unsigned char *buf = test_read_shared("data/tinystories/tinystories_val.txt", &n);
    if (!buf) return;
    sp_dataset ds;
    sp_error err;
    CHECK(sp_dataset_parse(&ds, (const char *)buf, n, SP_DATA_AUTO, &err) == SP_OK);
    CHECK(ds.format == SP_DATA_TEXT);
    CHECK_MSG(ds.n == 4302, "tinystories blocks: %d", (int)ds.n);
    if (ds.n > 0) CHECK(!strncmp(ds.ex[0].text, "Spot. Spot saw the shiny car", 28) && ds.ex[0].line == 1);
    sp_dataset_free(&ds);
    free(buf);
}

int main(void) {
    test_formats();
    test_jsonl();
    test_csv();
    test_text();
    test_tsv();
    test_shuffle_split();
    if (load_tok()) {
        test_tokenize();
        test_labels();
        test_batch();
        test_chat();
        test_preview();
    }
    test_shared_text();
    sp_arena_free(&tok_arena);
    CHECK_DONE();
}
