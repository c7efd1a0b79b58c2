/* tok_fixture.h - a small tokenizer.json built in code, shared by test_tokenizer.c and
 * tests/fuzz/fuzz_tokenizer.c: a SentencePiece-style BPE with byte fallback (all 256 <0xXX>
 * pieces), a dozen letters and é/😀, merges in both the "a b" and ["a","b"] forms, special
 * tokens <unk> <s> </s>, a non-special added token <sep> beyond the model vocab, the
 * Prepend/Replace normalizer, the Replace/ByteFallback/Fuse/Strip decoder and a BOS template.
 * metaspace=1 swaps the normalizer for a Metaspace pre-tokenizer (prepend "first", split). */
#ifndef SP_TOK_FIXTURE_H
#define SP_TOK_FIXTURE_H

#include "readers/json.h"
#include "json_write.h"

#include <stdio.h>
#include <string.h>

#define FIX_META "\xE2\x96\x81"

/* merges in rank order; the merged pieces get ids in the same order after the chars */
static const char *const fix_merges[][2] = {
    {FIX_META, "t"}, {"h", "e"}, {FIX_META "t", "he"}, {FIX_META, "a"}, {"l", "l"}, {"he", "ll"},
    {"hell", "o"}, {FIX_META, "w"}, {"o", "r"}, {FIX_META "w", "or"}, {FIX_META "wor", "l"},
    {FIX_META "worl", "d"}, {"a", "n"}, {"an", "d"}, {FIX_META, "and"}, {"e", FIX_META},
    {"d", FIX_META}, {FIX_META, "h"}, {FIX_META "h", "e"}, {"\xC3\xA9", FIX_META}, {"t", "t"},
    {"a", "a"}, {"aa", "aa"}, {"aaaa", "aaaa"}, {FIX_META, FIX_META},
};
static const char *const fix_chars[] = {FIX_META, "a", "d", "e", "h", "l", "n", "o", "r", "t", "w",
                                        "\xC3\xA9", "\xF0\x9F\x98\x80"};
#define FIX_N_MERGES ((int)(sizeof(fix_merges) / sizeof(fix_merges[0])))
#define FIX_N_CHARS ((int)(sizeof(fix_chars) / sizeof(fix_chars[0])))
#define FIX_FIRST_CHAR 259
#define FIX_VOCAB (FIX_FIRST_CHAR + FIX_N_CHARS + FIX_N_MERGES)
#define FIX_SEP_ID (FIX_VOCAB + 5) /* added token beyond the model vocab (a gap of unused ids) */

static void fix_build_json(sp_buf *b, int metaspace) {
    sp_buf_printf(b, "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[");
    const char *sp[3] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++)
        sp_buf_printf(b, "{\"id\":%d,\"content\":\"%s\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
                         "\"normalized\":false,\"special\":true},", i, sp[i]);
    sp_buf_printf(b, "{\"id\":%d,\"content\":\"<sep>\",\"normalized\":false,\"special\":false}],", FIX_SEP_ID);
    if (metaspace)
        sp_buf_printf(b, "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"" FIX_META
                         "\",\"prepend_scheme\":\"first\",\"split\":true},");
    else
        sp_buf_printf(b, "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"},"
                         "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}]},\"pre_tokenizer\":null,");
    sp_buf_printf(b, "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
                     "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1],"
                     "\"tokens\":[\"<s>\"]}}},");
    if (metaspace)
        sp_buf_printf(b, "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},"
                         "{\"type\":\"Metaspace\",\"replacement\":\"" FIX_META "\",\"prepend_scheme\":\"first\",\"split\":true}]},");
    else
        sp_buf_printf(b, "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\\u2581\"},"
                         "\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \","
                         "\"start\":1,\"stop\":0}]},");
    sp_buf_printf(b, "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_prefix\":null,"
                     "\"end_of_word_suffix\":null,\"fuse_unk\":true,\"byte_fallback\":true,\"ignore_merges\":false,\"vocab\":{");
    sp_buf_printf(b, "\"<unk>\":0,\"<s>\":1,\"</s>\":2");
    for (int i = 0; i < 256; i++) sp_buf_printf(b, ",\"<0x%02X>\":%d", i, 3 + i);
    for (int i = 0; i < FIX_N_CHARS; i++) sp_buf_printf(b, ",\"%s\":%d", fix_chars[i], FIX_FIRST_CHAR + i);
    for (int i = 0; i < FIX_N_MERGES; i++)
        sp_buf_printf(b, ",\"%s%s\":%d", fix_merges[i][0], fix_merges[i][1], FIX_FIRST_CHAR + FIX_N_CHARS + i);
    sp_buf_printf(b, "},\"merges\":[");
    for (int i = 0; i < FIX_N_MERGES; i++) {
        if (i % 2) sp_buf_printf(b, "%s[\"%s\",\"%s\"]", i ? "," : "", fix_merges[i][0], fix_merges[i][1]);
        else sp_buf_printf(b, "%s\"%s %s\"", i ? "," : "", fix_merges[i][0], fix_merges[i][1]);
    }
    sp_buf_printf(b, "]}}");
}

#endif
