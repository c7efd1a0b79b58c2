/* learn.c - does tuning a soft prompt help? An experiment (not a test) for issue 3's closing note.
 *
 * For each model x task x method it reports the loss (and accuracy when the outputs are labels)
 * on a HELD-OUT set that no tuner sees, for:
 *   none    no prompt at all
 *   text    a hand-written instruction as a prompt of the same length (PEFT TEXT init, untrained:
 *           the instruction's token embeddings, repeated/cut to N virtual tokens)
 *   tuned   the prompt (prompt tuning, started from that same text) or the prefix (prefix tuning,
 *           random start) after `steps` Adam steps; the kept prompt is the best by the loss on
 *           the tuner's own validation split (eval_split), checked every eval_every steps.
 * Tasks are built from ../shared/data by tests/c/tasks.h (sentiment, stories, hero).
 *
 * Build and run from the repo root (reads ../shared; natively also $SP_SHARED), natively:
 *   gcc -O2 -Isrc -Itests/c $(find src -name '*.c') tests/experiments/learn.c -lm -lpthread -o /tmp/learn
 *   /tmp/learn
 * or as wasm SIMD (several times faster than the scalar native kernels):
 *   emcc -O3 -msimd128 -Isrc -Itests/c $(find src -name '*.c') tests/experiments/learn.c -sSINGLE_FILE=1 -sALLOW_MEMORY_GROWTH=1 \
 *        -sMAXIMUM_MEMORY=4GB -sENVIRONMENT=node -sEXIT_RUNTIME=1 -sNODERAWFS=1 -o /tmp/learn.cjs
 *   node /tmp/learn.cjs models=260k,656k steps=300
 * Options (key=value): models=260k,656k  tasks=sentiment,stories,hero  methods=prompt,prefix
 *   steps=300 lr_prompt=0.03 lr_prefix=0.01 batch=8 vt=20 train=400 held=200 eval_every=50 seed=1 threads=1 */
#include "check.h"
#include "shared.h"
#include "tasks.h"
#include "api/softprompt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    int32_t steps, batch, vt, n_train, n_held, eval_every, threads;
    double lr_prompt, lr_prefix;
    uint64_t seed;
    const char *models, *tasks, *methods;
} learn_opts;

static double jnum(const char *js, const char *key) {
    char k[64];
    snprintf(k, sizeof(k), "\"%s\":", key);
    const char *p = js ? strstr(js, k) : NULL;
    return p ? strtod(p + strlen(k), NULL) : NAN;
}

typedef struct { double loss, acc; } score;

static score eval_on(sp_model *m, sp_adapter *ad, const jsonl *held, int32_t max_length) {
    sp_error err;
    char opts[96];
    snprintf(opts, sizeof(opts), "{\"max_length\":%d,\"batch_size\":16}", max_length);
    char *js = sp_eval_json(m, ad, held->data, held->len, opts, &err);
    score s = {NAN, NAN};
    if (!js) { fprintf(stderr, "eval: %s\n", err.msg); return s; }
    s.loss = jnum(js, "loss");
    s.acc = jnum(js, "accuracy");
    sp_free(js);
    return s;
}

static sp_model *load_model(sp_engine *eng, const char *which) {
    sp_error err;
    size_t n;
    if (strcmp(which, "260k") == 0 || strcmp(which, "656k") == 0) {
        const char *rel = which[0] == '2' ? "models/stories260K/stories260K.gguf" : "models/TinyStories-656K/TinyStories-656K-Q8_0.gguf";
        uint8_t *b = shared_read(rel, &n);
        if (!b) return NULL;
        sp_model *m = sp_model_load_gguf(eng, b, n, &err);
        if (!m) fprintf(stderr, "%s: %s\n", rel, err.msg);
        return m;
    }
    if (strcmp(which, "656k-hf") == 0) {
        size_t nc, ns, nt;
        uint8_t *c = shared_read("models/TinyStories-656K/config.json", &nc);
        uint8_t *s = shared_read("models/TinyStories-656K/model.safetensors", &ns);
        uint8_t *t = shared_read("models/TinyStories-656K/tokenizer.json", &nt);
        sp_model *m = (c && s && t) ? sp_model_load_hf(eng, (char *)c, nc, s, ns, (char *)t, nt, &err) : NULL;
        if (!m) fprintf(stderr, "656k-hf: %s\n", err.msg);
        free(c);
        free(t);
        return m;
    }
    fprintf(stderr, "unknown model %s (260k, 656k, 656k-hf)\n", which);
    return NULL;
}

static const char *instruction(const char *task) {
    if (strcmp(task, "sentiment") == 0) return "Read the review and say if it is positive or negative.";
    if (strcmp(task, "hero") == 0) return "Read the story and say if it is about a boy or a girl.";
    return "Here is a short and simple story for little children.";
}

static void run(sp_model *m, const char *mname, const char *task, const char *method, const learn_opts *o) {
    sp_error err;
    jsonl train, held;
    const int32_t max_length = 96;
    /* hero has 234 balanced examples in tinystories_val.txt: at most 150 + 80 of them */
    const int is_hero = strcmp(task, "hero") == 0;
    const int32_t n_train = is_hero && o->n_train > 150 ? 150 : o->n_train, n_held = is_hero && o->n_held > 80 ? 80 : o->n_held;
    if (!task_build(task, n_train, n_held, strcmp(task, "stories") == 0 ? 300 : 120, o->seed, &train, &held)) return;
    const int is_prompt = strcmp(method, "prompt") == 0;
    char opts[512], esc[256];
    /* the instruction as a JSON string */
    jsonl js = {0};
    jl_str(&js, instruction(task), strlen(instruction(task)));
    snprintf(esc, sizeof(esc), "%s", js.data);
    jl_free(&js);

    score none = eval_on(m, NULL, &held, max_length);
    snprintf(opts, sizeof(opts), "{\"method\":\"prompt\",\"virtual_tokens\":%d,\"init\":\"text\",\"init_text\":%s,\"max_length\":%d,\"eval_split\":0}",
             o->vt, esc, max_length);
    sp_tuner *t0 = sp_tuner_create(m, opts, train.data, train.len, NULL, &err);
    if (!t0) { fprintf(stderr, "text prompt: %s\n", err.msg); return; }
    sp_adapter *a_text = sp_tuner_adapter(t0, 0, &err);
    score text = eval_on(m, a_text, &held, max_length);
    sp_adapter_free(a_text);
    sp_tuner_free(t0);

    snprintf(opts, sizeof(opts),
             "{\"method\":\"%s\",\"virtual_tokens\":%d,\"init\":\"%s\"%s%s,\"lr\":%g,\"batch_size\":%d,\"steps\":%d,"
             "\"max_length\":%d,\"eval_split\":0.1,\"seed\":%llu}",
             method, o->vt, is_prompt ? "text" : "random", is_prompt ? ",\"init_text\":" : "", is_prompt ? esc : "",
             is_prompt ? o->lr_prompt : o->lr_prefix, o->batch, o->steps, max_length, (unsigned long long)o->seed);
    sp_tuner *t = sp_tuner_create(m, opts, train.data, train.len, NULL, &err);
    if (!t) { fprintf(stderr, "tuner: %s\n", err.msg); return; }
    clock_t c0 = clock();
    int32_t r;
    double first_loss = NAN, val = NAN;
    while ((r = sp_tuner_step(t, &err)) == 1) {
        const char *rep = sp_tuner_report_json(t);
        int32_t step = (int32_t)jnum(rep, "step");
        if (step == 1) first_loss = jnum(rep, "loss");
        if (step % o->eval_every == 0 || step == o->steps) {
            const char *ev = sp_tuner_eval_json(t, &err);
            val = jnum(ev, "eval_loss");
            fprintf(stderr, "    %s %s %s step %d: train loss %.4f, validation loss %.4f\n", mname, task, method, step, jnum(rep, "loss"), val);
        }
    }
    if (r < 0) fprintf(stderr, "step failed: %s: %s\n", sp_error_code_name(err.code), err.msg);
    double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
    sp_adapter *best = sp_tuner_adapter(t, 1, &err);
    score tuned = eval_on(m, best, &held, max_length);
    sp_adapter_free(best);
    sp_tuner_free(t);
    char acc[64] = "";
    if (!isnan(none.acc))
        snprintf(acc, sizeof(acc), "%5.1f%% | %5.1f%% | %5.1f%%", 100 * none.acc, 100 * text.acc, 100 * tuned.acc);
    else
        snprintf(acc, sizeof(acc), "%6s | %6s | %6s", "-", "-", "-");
    printf("| %-7s | %-9s | %-6s | %5d | %4d/%-4d | %6.3f | %6.3f | %6.3f | %s | %6.1f |\n", mname, task, method, o->steps, train.n, held.n,
           none.loss, text.loss, tuned.loss, acc, secs);
    fflush(stdout);
    (void)first_loss;
    jl_free(&train);
    jl_free(&held);
}

static int in_list(const char *list, const char *x) {
    size_t n = strlen(x);
    for (const char *p = list; (p = strstr(p, x)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return 1;
    return 0;
}

int main(int argc, char **argv) {
    learn_opts o = {300, 8, 20, 400, 200, 50, 1, 0.03, 0.01, 1, "260k,656k", "sentiment,stories,hero", "prompt,prefix"};
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) { fprintf(stderr, "options are key=value (see the header of learn.c)\n"); return 2; }
        *eq = 0;
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "steps")) o.steps = atoi(v);
        else if (!strcmp(k, "batch")) o.batch = atoi(v);
        else if (!strcmp(k, "vt")) o.vt = atoi(v);
        else if (!strcmp(k, "train")) o.n_train = atoi(v);
        else if (!strcmp(k, "held")) o.n_held = atoi(v);
        else if (!strcmp(k, "eval_every")) o.eval_every = atoi(v);
        else if (!strcmp(k, "threads")) o.threads = atoi(v);
        else if (!strcmp(k, "lr_prompt")) o.lr_prompt = atof(v);
        else if (!strcmp(k, "lr_prefix")) o.lr_prefix = atof(v);
        else if (!strcmp(k, "seed")) o.seed = (uint64_t)atoll(v);
        else if (!strcmp(k, "models")) o.models = v;
        else if (!strcmp(k, "tasks")) o.tasks = v;
        else if (!strcmp(k, "methods")) o.methods = v;
        else { fprintf(stderr, "unknown option %s\n", k); return 2; }
    }
    sp_error err;
    sp_engine *eng = sp_engine_create(o.threads, &err);
    if (!eng) { fprintf(stderr, "%s\n", err.msg); return 1; }
    printf("steps %d, batch %d, %d virtual tokens, %d training examples (10%% of them validation), %d held out, "
           "lr prompt %g / prefix %g, Adam, seed %llu\n\n",
           o.steps, o.batch, o.vt, o.n_train, o.n_held, o.lr_prompt, o.lr_prefix, (unsigned long long)o.seed);
    printf("| model   | task      | method | steps | train/held | loss: none | text | tuned | accuracy: none | text | tuned | train s |\n");
    printf("|---------|-----------|--------|-------|-----------|--------|--------|--------|--------|--------|--------|--------|\n");
    const char *models[3] = {"260k", "656k", "656k-hf"};
    const char *tasks[3] = {"sentiment", "stories", "hero"};
    const char *methods[2] = {"prompt", "prefix"};
    for (int mi = 0; mi < 3; mi++) {
        if (!in_list(o.models, models[mi])) continue;
        sp_model *m = load_model(eng, models[mi]);
        if (!m) return 1;
        fflush(stdout);
        for (int ti = 0; ti < 3; ti++) {
            if (!in_list(o.tasks, tasks[ti])) continue;
            for (int k = 0; k < 2; k++)
                if (in_list(o.methods, methods[k])) run(m, models[mi], tasks[ti], methods[k], &o);
        }
        sp_model_free(m);
    }
    sp_engine_free(eng);
    return check_failures ? 1 : 0;
}
