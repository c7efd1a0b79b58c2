/* options.h - helpers for the JSON options objects of the C ABI (src/api/ only). */
#ifndef SP_API_OPTIONS_H
#define SP_API_OPTIONS_H

#include "../common.h"
#include "../readers/json.h"

/* The object in opts_json (NULL or "" = {}), in arena a; NULL with SP_ERR_INVALID_ARG otherwise. */
sp_json *sp_opt_parse(sp_arena *a, const char *opts_json, sp_error *err);
/* Refuses keys outside `known` (a NULL-terminated list): a typo must not pass silently. */
sp_status sp_opt_check_keys(const sp_json *j, const char *const *known, sp_error *err);
/* An absent or null key leaves *out as it is (the default). */
sp_status sp_opt_int(const sp_json *j, const char *key, int32_t *out, int32_t lo, int32_t hi, sp_error *err);
/* [lo, hi], or (lo, hi] with lo_open. */
sp_status sp_opt_float(const sp_json *j, const char *key, float *out, double lo, double hi, int lo_open, sp_error *err);
/* "seed", exact up to 2^53 - 1. */
sp_status sp_opt_seed(const sp_json *j, uint64_t *out, sp_error *err);
sp_status sp_opt_string(const sp_json *j, const char *key, const char **out, sp_error *err);

#endif
