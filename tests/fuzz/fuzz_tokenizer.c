/* fuzz_tokenizer.c - libFuzzer harness for src/tokenizer (build: CC=clang cmake -DSP_FUZZ=ON); the body
 * and the properties it checks are in fuzz_tokenizer.h (shared with the regression test).
 * Run: ./build/fuzz/fuzz_tokenizer -max_len=4096 -dict=tests/fuzz/tokenizer.dict corpus/
 * Set SP_FUZZ_SEEDS=<dir> to write seed inputs (the fixture JSONs, the GGUF) and exit. */
#include "fuzz_tokenizer.h"

/* a GGUF seed small enough for -max_len=1024 */
static void build_small_gguf(sp_buf *b) {
    static const char *const tok[] = {"<unk>", "<s>", "</s>", "<0x41>", "<0xC3>", META, "a", "b", META "a", "ab", "<x>"};
    const int n = (int)(sizeof(tok) / sizeof(tok[0]));
    gw32(b, 0x46554747); gw32(b, 3); gw64(b, 0); gw64(b, 7);
    gwstr(b, "tokenizer.ggml.model", 20); gw32(b, SP_GGUF_STRING); gwstr(b, "llama", 5);
    gwstr(b, "tokenizer.ggml.tokens", 21); gw32(b, SP_GGUF_ARRAY); gw32(b, SP_GGUF_STRING); gw64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) gwstr(b, tok[i], strlen(tok[i]));
    gwstr(b, "tokenizer.ggml.scores", 21); gw32(b, SP_GGUF_ARRAY); gw32(b, SP_GGUF_FLOAT32); gw64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) { float f = -(float)i; uint32_t u; memcpy(&u, &f, 4); gw32(b, u); }
    gwstr(b, "tokenizer.ggml.token_type", 25); gw32(b, SP_GGUF_ARRAY); gw32(b, SP_GGUF_INT32); gw64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) gw32(b, i == 0 ? 2 : i < 3 ? 3 : i < 5 ? 6 : i == n - 1 ? 4 : 1);
    gwstr(b, "tokenizer.ggml.bos_token_id", 27); gw32(b, SP_GGUF_UINT32); gw32(b, 1);
    gwstr(b, "tokenizer.ggml.add_space_prefix", 31); gw32(b, SP_GGUF_BOOL); { uint8_t z = 1; sp_buf_append(b, &z, 1); }
    gwstr(b, "tokenizer.ggml.padding_token_id", 31); gw32(b, SP_GGUF_INT32); gw32(b, 0xFFFFFFFFu);
}

/* A small byte-level GGUF ("gpt2" model) as llama.cpp's converter writes it: a few byte-level pieces,
 * merges, tokenizer.ggml.pre, token types, add_bos/add_eos, the special ids and a chat template. */
static void build_bpe_gguf(sp_buf *b, const char *pre) {
    static const char *const tok[] = {"a", "b", "c", "1", "2", "\xC4\xA0", "\xC4\x8A", "ab", "abc", "\xC4\xA0" "a", "12",
                                      "<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    static const char *const merges[] = {"a b", "ab c", "\xC4\xA0 a", "1 2"};
    static const char tmpl[] = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}";
    const int n = (int)(sizeof(tok) / sizeof(tok[0])), nm = (int)(sizeof(merges) / sizeof(merges[0]));
    gw32(b, 0x46554747); gw32(b, 3); gw64(b, 0); gw64(b, 12);
    gwstr(b, "tokenizer.ggml.model", 20); gw32(b, SP_GGUF_STRING); gwstr(b, "gpt2", 4);
    gwstr(b, "tokenizer.ggml.pre", 18); gw32(b, SP_GGUF_STRING); gwstr(b, pre, strlen(pre));
    gwstr(b, "tokenizer.ggml.tokens", 21); gw32(b, SP_GGUF_ARRAY); gw32(b, SP_GGUF_STRING); gw64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) gwstr(b, tok[i], strlen(tok[i]));
    gwstr(b, "tokenizer.ggml.token_type", 25); gw32(b, SP_GGUF_ARRAY); gw32(b, SP_GGUF_INT32); gw64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) gw32(b, i >= n - 3 ? 3 : 1);
    gwstr(b, "tokenizer.ggml.merges", 21); gw32(b, SP_GGUF_ARRAY); gw32(b, SP_GGUF_STRING); gw64(b, (uint64_t)nm);
    for (int i = 0; i < nm; i++) gwstr(b, merges[i], strlen(merges[i]));
    gwstr(b, "tokenizer.ggml.bos_token_id", 27); gw32(b, SP_GGUF_UINT32); gw32(b, (uint32_t)(n - 3));
    gwstr(b, "tokenizer.ggml.eos_token_id", 27); gw32(b, SP_GGUF_UINT32); gw32(b, (uint32_t)(n - 1));
    gwstr(b, "tokenizer.ggml.eot_token_id", 27); gw32(b, SP_GGUF_UINT32); gw32(b, (uint32_t)(n - 1));
    gwstr(b, "tokenizer.ggml.eom_token_id", 27); gw32(b, SP_GGUF_INT32); gw32(b, 0xFFFFFFFFu);
    gwstr(b, "tokenizer.ggml.padding_token_id", 31); gw32(b, SP_GGUF_UINT32); gw32(b, (uint32_t)(n - 3));
    gwstr(b, "tokenizer.ggml.add_bos_token", 28); gw32(b, SP_GGUF_BOOL); { uint8_t z = 1; sp_buf_append(b, &z, 1); }
    gwstr(b, "tokenizer.ggml.add_eos_token", 28); gw32(b, SP_GGUF_BOOL); { uint8_t z = 0; sp_buf_append(b, &z, 1); }
    gwstr(b, "tokenizer.chat_template", 23); gw32(b, SP_GGUF_STRING); gwstr(b, tmpl, sizeof(tmpl) - 1);
}

static void write_seeds(const char *dir) {
    fixed_set *f = fixed();
    const struct { const char *name; const sp_buf *b; } seeds[] = {
        {"fixture_bpe.json", &f->json_bpe}, {"fixture_metaspace.json", &f->json_meta}, {"fixture_spm.gguf", &f->gguf_buf},
        {"fixture_bytelevel.json", &f->json_bl}};
    for (size_t i = 0; i < 4; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, seeds[i].name);
        FILE *fp = fopen(path, "wb");
        if (!fp) { perror(path); exit(1); }
        fwrite(seeds[i].b->data, 1, seeds[i].b->len, fp);
        fclose(fp);
    }
    /* a small complete tokenizer.json, so that mutations stay under -max_len */
    static const char small_json[] =
        "{\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true,\"normalized\":false},"
        "{\"id\":1,\"content\":\"<s>\",\"special\":true,\"normalized\":true,\"lstrip\":true},"
        "{\"id\":9,\"content\":\"<x>\",\"special\":false,\"rstrip\":true}],"
        "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"},"
        "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}]},"
        "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\",\"split\":true},"
        "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\"}},{\"Sequence\":{\"id\":\"A\"}}]},"
        "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\\u2581\"},\"content\":\" \"},"
        "{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]},"
        "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":true,\"byte_fallback\":true,\"ignore_merges\":true,"
        "\"vocab\":{\"<unk>\":0,\"<s>\":1,\"<0x41>\":2,\"\\u2581\":3,\"a\":4,\"b\":5,\"ab\":6,\"\\u2581ab\":7,\"<0xC3>\":8},"
        "\"merges\":[\"a b\",[\"\\u2581\",\"ab\"]]}}";
    {
        char path[1024];
        snprintf(path, sizeof(path), "%s/small.json", dir);
        FILE *fp = fopen(path, "wb");
        if (!fp) { perror(path); exit(1); }
        fwrite(small_json, 1, sizeof(small_json) - 1, fp);
        fclose(fp);
    }
    {
        sp_buf g = {0};
        build_small_gguf(&g);
        char path[1024];
        snprintf(path, sizeof(path), "%s/small.gguf", dir);
        FILE *fp = fopen(path, "wb");
        if (!fp) { perror(path); exit(1); }
        fwrite(g.data, 1, g.len, fp);
        fclose(fp);
        sp_buf_free(&g);
    }
    /* byte-level tokenizer.json seeds with the other sections (each loads), and one followed by a
     * NUL and a tokenizer_config.json */
#define BL_VOCAB "\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"1\":3,\"2\":4,\"\\u0120\":5,\"\\u010a\":6,\"ab\":7,\"abc\":8,\"\\u0120a\":9,\"12\":10,\"'\":11,\"s\":12}"
    static const char *const jsons[][2] = {
        {"bl_llama3.json",
         "{\"added_tokens\":[{\"id\":13,\"content\":\"<|begin_of_text|>\",\"special\":true,\"normalized\":false},"
         "{\"id\":14,\"content\":\"<|eot_id|>\",\"special\":true,\"lstrip\":true,\"rstrip\":true},"
         "{\"id\":15,\"content\":\"word\",\"special\":false,\"single_word\":true,\"normalized\":true}],"
         "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
         "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
         "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":false}]},"
         "\"post_processor\":{\"type\":\"Sequence\",\"processors\":[{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":false,\"use_regex\":true},"
         "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<|begin_of_text|>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],"
         "\"pair\":[{\"SpecialToken\":{\"id\":\"<|begin_of_text|>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"Sequence\":{\"id\":\"B\",\"type_id\":1}}],"
         "\"special_tokens\":{\"<|begin_of_text|>\":{\"id\":\"<|begin_of_text|>\",\"ids\":[13],\"tokens\":[\"<|begin_of_text|>\"]}}}]},"
         "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},"
         "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"fuse_unk\":false,\"byte_fallback\":false,\"ignore_merges\":true,"
         BL_VOCAB ",\"merges\":[[\"a\",\"b\"],[\"ab\",\"c\"],[\"\\u0120\",\"a\"],[\"1\",\"2\"]]}}"},
        {"bl_qwen_digits.json",
         "{\"added_tokens\":[{\"id\":13,\"content\":\"<|im_end|>\",\"special\":true}],\"normalizer\":{\"type\":\"NFC\"},"
         "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_digits\":true},"
         "{\"type\":\"Split\",\"pattern\":{\"String\":\"c\"},\"behavior\":\"MergedWithPrevious\",\"invert\":false},"
         "{\"type\":\"Split\",\"pattern\":{\"String\":\"b\"},\"behavior\":\"MergedWithNext\",\"invert\":false},"
         "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\s+\"},\"behavior\":\"Removed\",\"invert\":false},"
         "{\"type\":\"Split\",\"pattern\":{\"String\":\"a\"},\"behavior\":\"Contiguous\",\"invert\":false},"
         "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}]},"
         "\"post_processor\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":false,\"use_regex\":false},"
         "\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\"," BL_VOCAB ",\"merges\":[\"a b\",\"ab c\",\"\\u0120 a\",\"1 2\"]}}"},
        {"spm_decoders.json",
         "{\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true},{\"id\":1,\"content\":\"<s>\",\"special\":true},"
         "{\"id\":2,\"content\":\"</s>\",\"special\":true}],"
         "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"},{\"type\":\"Replace\",\"pattern\":{\"String\":\"\\t\"},\"content\":\"  \"}]},"
         "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"first\",\"split\":false},"
         "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
         "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}],"
         "\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]},\"</s>\":{\"id\":\"</s>\",\"ids\":[2],\"tokens\":[\"</s>\"]}}},"
         "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"first\",\"split\":false},"
         "{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":0,\"stop\":0}]},"
         "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":true,\"byte_fallback\":true,"
         "\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2,\"<0x41>\":3,\"<0x0A>\":4,\"\\u2581\":5,\"a\":6,\"b\":7,\"ab\":8,\"\\u2581ab\":9},"
         "\"merges\":[\"a b\",\"\\u2581 ab\"]}}"},
    };
    for (size_t i = 0; i < sizeof(jsons) / sizeof(jsons[0]); i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, jsons[i][0]);
        FILE *fp = fopen(path, "wb");
        if (!fp) { perror(path); exit(1); }
        fwrite(jsons[i][1], 1, strlen(jsons[i][1]), fp);
        if (i == 0) { /* tokenizer.json, NUL, tokenizer_config.json */
            static const char cfg[] = "{\"bos_token\":\"<|begin_of_text|>\",\"eos_token\":{\"content\":\"<|eot_id|>\"},\"pad_token\":null,"
                                      "\"add_bos_token\":true,\"add_eos_token\":true,\"chat_template\":\"{{ bos_token }}\"}";
            fclose(fp);
            snprintf(path, sizeof(path), "%s/%s", dir, "bl_llama3_config.json");
            fp = fopen(path, "wb");
            if (!fp) { perror(path); exit(1); }
            fwrite(jsons[i][1], 1, strlen(jsons[i][1]), fp);
            fputc(0, fp);
            fwrite(cfg, 1, sizeof(cfg) - 1, fp);
        }
        fclose(fp);
    }
#undef BL_VOCAB
    static const char *const pres[] = {"qwen2", "llama-bpe", "smollm", "gpt-2", "default", "no-such-pre"};
    for (size_t i = 0; i < sizeof(pres) / sizeof(pres[0]); i++) {
        sp_buf g = {0};
        build_bpe_gguf(&g, pres[i]);
        char path[1024];
        snprintf(path, sizeof(path), "%s/bpe_%s.gguf", dir, pres[i]);
        FILE *fp = fopen(path, "wb");
        if (!fp) { perror(path); exit(1); }
        fwrite(g.data, 1, g.len, fp);
        fclose(fp);
        sp_buf_free(&g);
    }
    const char *texts[] = {"hello world the end", "caf\xC3\xA9 \xF0\x9F\x98\x80 aaaaaaaa  tt\n", "\xFF\xC3\x28\xED\xA0\x80 x<sep>y",
                           "\\s+(?!\\S)|\\p{N}{1,3}|[^\\s\\p{L}]+\nI'LL  go 12345 cafe\xCC\x81\r\n"};
    for (size_t i = 0; i < 4; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/text%zu.txt", dir, i);
        FILE *fp = fopen(path, "wb");
        if (!fp) { perror(path); exit(1); }
        fwrite(texts[i], 1, strlen(texts[i]), fp);
        fclose(fp);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *dir = getenv("SP_FUZZ_SEEDS");
    if (dir && dir[0]) { write_seeds(dir); exit(0); }
    fixed();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_tokenizer_one(data, size);
    return 0;
}
