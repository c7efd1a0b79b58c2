/* tiny_tokenizer.h - a tiny character-level HF tokenizer.json for C tests: <unk>=0 <s>=1 </s>=2,
 * the 256 byte pieces <0x00>..<0xFF> = 3..258, "\u2581" = 259 and a..z = 260..285, no merges, the
 * Llama-style normalizer (Prepend \u2581, spaces -> \u2581) and BOS post-processor.
 * So encode("ab", bos) = [1, 259, ID('a'), ID('b')]. Needs readers/json.h. */
#ifndef SP_TINY_TOKENIZER_H
#define SP_TINY_TOKENIZER_H
#include <string.h>
#include "readers/json.h"
#include "json_write.h"

/* ---- a tiny character-level tokenizer.json: <unk> <s> </s>, 256 byte pieces, ▁ and a..z, no merges ---- */
#define ID_BOS 1
#define ID_EOS 2
#define ID_META 259
#define ID(c) (260 + ((c) - 'a'))

/* malloc'd JSON text */
static char *tiny_tokenizer_json(void) {
    sp_buf b;
    memset(&b, 0, sizeof(b));
    sp_buf_printf(&b, "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":["
                      "{\"id\":0,\"content\":\"<unk>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},"
                      "{\"id\":1,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},"
                      "{\"id\":2,\"content\":\"</s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}],"
                      "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\xE2\x96\x81\"},"
                      "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\xE2\x96\x81\"}]},"
                      "\"pre_tokenizer\":null,"
                      "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
                      "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
                      "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":1}},{\"Sequence\":{\"id\":\"B\",\"type_id\":1}}],"
                      "\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}},"
                      "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\xE2\x96\x81\"},\"content\":\" \"},"
                      "{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]},"
                      "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_prefix\":null,"
                      "\"end_of_word_suffix\":null,\"fuse_unk\":true,\"byte_fallback\":true,\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2");
    for (int i = 0; i < 256; i++) sp_buf_printf(&b, ",\"<0x%02X>\":%d", i, 3 + i);
    sp_buf_printf(&b, ",\"\xE2\x96\x81\":%d", ID_META);
    for (int c = 'a'; c <= 'z'; c++) sp_buf_printf(&b, ",\"%c\":%d", c, ID(c));
    sp_buf_printf(&b, "},\"merges\":[]}}");
    return b.data;
}

#endif
