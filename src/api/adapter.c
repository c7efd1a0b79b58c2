/* adapter.c - the adapter ABI (softprompt.h): PEFT files in and out, summary, nearest tokens.
 * The work is done in src/train/adapter.c. */
#include "softprompt.h"
#include "../train/adapter.h"

sp_adapter *sp_adapter_load(sp_model *m, const uint8_t *st, size_t st_size, const char *config_json, size_t config_len,
                            sp_error *err) {
    sp_error_clear(err);
    return sp_adapter_read_peft(m, st, st_size, config_json, config_len, err);
}

void sp_adapter_free(sp_adapter *ad) { sp_adapter_destroy(ad); }

const char *sp_adapter_info_json(sp_adapter *ad) { return sp_adapter_summary_json(ad); }

uint8_t *sp_adapter_save_safetensors(sp_adapter *ad, size_t *out_size, sp_error *err) {
    sp_error_clear(err);
    return sp_adapter_peft_safetensors(ad, out_size, err);
}

char *sp_adapter_save_config(sp_adapter *ad, const char *base_model_name, sp_error *err) {
    sp_error_clear(err);
    return sp_adapter_peft_config(ad, base_model_name, err);
}

char *sp_adapter_nearest_json(sp_adapter *ad, int32_t k, sp_error *err) {
    sp_error_clear(err);
    return sp_adapter_nearest_tokens_json(ad, k, err);
}
