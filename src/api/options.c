/* options.c - reading one JSON options object: parse, refuse unknown keys, typed and range-checked
 * fields. Each object has its own file (generate.c, tune.c, eval.c, bench.c) that says its keys. */
#include "options.h"

#include <math.h>
#include <string.h>

sp_status sp_opt_int(const sp_json *j, const char *key, int32_t *out, int32_t lo, int32_t hi, sp_error *err) {
    const sp_json *v = sp_json_get(j, key);
    if (!v || v->type == SP_JSON_NULL) return SP_OK;
    if (v->type != SP_JSON_NUMBER || v->number != floor(v->number) || v->number < lo || v->number > hi)
        return sp_error_set(err, SP_ERR_INVALID_ARG, "option %s must be a whole number in [%d, %d]", key, lo, hi);
    *out = (int32_t)v->number;
    return SP_OK;
}

sp_status sp_opt_float(const sp_json *j, const char *key, float *out, double lo, double hi, int lo_open, sp_error *err) {
    const sp_json *v = sp_json_get(j, key);
    if (!v || v->type == SP_JSON_NULL) return SP_OK;
    if (v->type != SP_JSON_NUMBER || !isfinite(v->number) || v->number < lo || v->number > hi || (lo_open && v->number == lo))
        return sp_error_set(err, SP_ERR_INVALID_ARG, "option %s must be a number in %s%g, %g]", key, lo_open ? "(" : "[", lo, hi);
    *out = (float)v->number;
    return SP_OK;
}

/* "seed": a whole number in [0, 2^53 - 1], kept exact (read as a float it would round above 2^24). */
sp_status sp_opt_seed(const sp_json *j, uint64_t *out, sp_error *err) {
    const sp_json *v = sp_json_get(j, "seed");
    if (!v || v->type == SP_JSON_NULL) return SP_OK;
    if (v->type != SP_JSON_NUMBER || !(v->number >= 0.0 && v->number <= 9007199254740991.0) || v->number != floor(v->number))
        return sp_error_set(err, SP_ERR_INVALID_ARG, "option seed must be a whole number in [0, 2^53 - 1]");
    *out = (uint64_t)v->number;
    return SP_OK;
}

sp_status sp_opt_string(const sp_json *j, const char *key, const char **out, sp_error *err) {
    const sp_json *v = sp_json_get(j, key);
    if (!v || v->type == SP_JSON_NULL) return SP_OK;
    if (v->type != SP_JSON_STRING) return sp_error_set(err, SP_ERR_INVALID_ARG, "option %s must be a string", key);
    *out = v->str;
    return SP_OK;
}

sp_status sp_opt_check_keys(const sp_json *j, const char *const *known, sp_error *err) {
    for (size_t i = 0; i < j->len; i++) {
        const char *k = j->items[i].key;
        int ok = 0;
        for (const char *const *n = known; *n && !ok; n++) ok = strcmp(k, *n) == 0;
        if (!ok) return sp_error_set(err, SP_ERR_INVALID_ARG, "unknown option '%s'", k);
    }
    return SP_OK;
}

sp_json *sp_opt_parse(sp_arena *a, const char *opts_json, sp_error *err) {
    const char *txt = opts_json && *opts_json ? opts_json : "{}";
    sp_error jerr;
    sp_json *j = sp_json_parse(a, txt, strlen(txt), &jerr);
    if (!j) { sp_error_set(err, SP_ERR_INVALID_ARG, "options: %s", jerr.msg); return NULL; }
    if (j->type != SP_JSON_OBJECT) { sp_error_set(err, SP_ERR_INVALID_ARG, "options: not a JSON object"); return NULL; }
    return j;
}
