/* unicode.h - the Unicode properties the tokenizer needs, from tables generated out of the
 * Unicode Character Database (scripts/gen-unicode.js -> unicode_tables.h):
 *   general category (regex \p{L}, \p{N}, ...), White_Space (regex \s), simple case folding onto
 *   ASCII letters (regex (?i:...)), and NFC normalization.
 * Plus strict UTF-8 decoding shared by the regex matcher and the tokenizer. */
#ifndef SP_UNICODE_H
#define SP_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* general categories, in the order of the generated table */
typedef enum {
    SP_UC_LU, SP_UC_LL, SP_UC_LT, SP_UC_LM, SP_UC_LO, SP_UC_MN, SP_UC_MC, SP_UC_ME, SP_UC_ND, SP_UC_NL,
    SP_UC_NO, SP_UC_PC, SP_UC_PD, SP_UC_PS, SP_UC_PE, SP_UC_PI, SP_UC_PF, SP_UC_PO, SP_UC_SM, SP_UC_SC,
    SP_UC_SK, SP_UC_SO, SP_UC_ZS, SP_UC_ZL, SP_UC_ZP, SP_UC_CC, SP_UC_CF, SP_UC_CS, SP_UC_CO, SP_UC_CN,
    SP_UC_NCATS
} sp_uc_cat;

/* bit masks over sp_uc_cat for the one-letter groups */
#define SP_UC_MASK(c) (1u << (c))
#define SP_UC_L_MASK (SP_UC_MASK(SP_UC_LU) | SP_UC_MASK(SP_UC_LL) | SP_UC_MASK(SP_UC_LT) | SP_UC_MASK(SP_UC_LM) | SP_UC_MASK(SP_UC_LO))
#define SP_UC_M_MASK (SP_UC_MASK(SP_UC_MN) | SP_UC_MASK(SP_UC_MC) | SP_UC_MASK(SP_UC_ME))
#define SP_UC_N_MASK (SP_UC_MASK(SP_UC_ND) | SP_UC_MASK(SP_UC_NL) | SP_UC_MASK(SP_UC_NO))

int sp_uc_category(uint32_t cp);        /* sp_uc_cat; unassigned and out of range: SP_UC_CN */
int sp_uc_is_space(uint32_t cp);        /* White_Space */
uint32_t sp_uc_fold(uint32_t cp);       /* ASCII letters and the code points folding onto them -> the
                                         * lower-case ASCII letter; anything else unchanged */
const char *sp_uc_version(void);        /* the UCD version the tables come from */

/* Strict UTF-8 (RFC 3629) at s[0..n), n > 0: returns the sequence length and the code point in
 * *cp, or 0 when s does not start with a valid sequence (then *cp = 0xFFFFFFFF). */
size_t sp_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);

/* 1 when s[0..n) is in NFC by the quick check (no normalization needed). Invalid UTF-8 bytes are
 * left alone (they count as starters with no decomposition). */
int sp_uc_nfc_quick(const char *s, size_t n);
/* NFC of s[0..n) appended to the malloc'd buffer *buf (length *len, capacity *cap; grown with
 * realloc). Returns 0 on out-of-memory. */
int sp_uc_nfc(const char *s, size_t n, char **buf, size_t *len, size_t *cap);

#endif
