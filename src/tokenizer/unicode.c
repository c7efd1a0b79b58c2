/* unicode.c - general categories, White_Space, case folding onto ASCII, and NFC (UAX #15:
 * full canonical decomposition, canonical ordering, canonical composition), over the tables
 * that scripts/gen-unicode.js generates from the Unicode Character Database. */
#include "unicode.h"
#include "unicode_tables.h"

#include <stdlib.h>
#include <string.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* index of the last range whose first code point (v >> shift) is <= cp */
static size_t range_find(const uint32_t *r, size_t n, unsigned shift, uint32_t cp) {
    size_t lo = 0, hi = n; /* r[0] starts at 0, so the answer exists */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if ((r[mid] >> shift) <= cp) lo = mid; else hi = mid;
    }
    return lo;
}

int sp_uc_category(uint32_t cp) {
    if (cp >= 0x110000) return SP_UC_CN;
    if (cp < 0x80) return uc_gc_ascii[cp]; /* the hot path */
    return (int)(uc_gc_ranges[range_find(uc_gc_ranges, N_OF(uc_gc_ranges), 5, cp)] & 31);
}

int sp_uc_is_space(uint32_t cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= 9 && cp <= 13);
    for (size_t i = 0; i < N_OF(uc_space); i++) if (uc_space[i] == cp) return 1;
    return 0;
}

uint32_t sp_uc_fold(uint32_t cp) {
    if (cp >= 'A' && cp <= 'Z') return cp + 32;
    if (cp < 0x80) return cp;
    for (size_t i = 0; i < N_OF(uc_fold_ascii); i += 2)
        if (uc_fold_ascii[i] == cp) return uc_fold_ascii[i + 1] | 32;
    return cp;
}

const char *sp_uc_version(void) { return SP_UCD_VERSION; }

size_t sp_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp) {
    uint8_t b = s[0];
    if (b < 0x80) { *cp = b; return 1; }
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    uint32_t v;
    if (b >= 0xC2 && b <= 0xDF) { len = 2; v = b & 0x1F; }
    else if (b >= 0xE0 && b <= 0xEF) { len = 3; v = b & 0x0F; if (b == 0xE0) lo = 0xA0; if (b == 0xED) hi = 0x9F; }
    else if (b >= 0xF0 && b <= 0xF4) { len = 4; v = b & 0x07; if (b == 0xF0) lo = 0x90; if (b == 0xF4) hi = 0x8F; }
    else { *cp = 0xFFFFFFFFu; return 0; }
    if (n < len || s[1] < lo || s[1] > hi) { *cp = 0xFFFFFFFFu; return 0; }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) { *cp = 0xFFFFFFFFu; return 0; }
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return len;
}

/* ---------------------------------------------------------------- NFC */

#define RAW_BYTE 0x80000000u /* an invalid UTF-8 byte carried through as is: RAW_BYTE | byte */

enum { S_BASE = 0xAC00, L_BASE = 0x1100, V_BASE = 0x1161, T_BASE = 0x11A7, L_COUNT = 19, V_COUNT = 21,
       T_COUNT = 28, N_COUNT = V_COUNT * T_COUNT, S_COUNT = L_COUNT * N_COUNT };

static int ccc_of(uint32_t cp) {
    if (cp < 0x300 || cp >= 0x110000) return 0;
    return (int)(uc_ccc_ranges[range_find(uc_ccc_ranges, N_OF(uc_ccc_ranges), 8, cp)] & 255);
}

static int nfc_qc_no_or_maybe(uint32_t cp) {
    if (cp < 0x300) return 0;
    size_t lo = 0, hi = N_OF(uc_nfc_qc) / 2;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (uc_nfc_qc[2 * mid + 1] < cp) lo = mid + 1;
        else if (uc_nfc_qc[2 * mid] > cp) hi = mid;
        else return 1;
    }
    return 0;
}

int sp_uc_nfc_quick(const char *s, size_t n) {
    const uint8_t *p = (const uint8_t *)s;
    int last = 0;
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x80) { i++; last = 0; continue; }
        uint32_t cp;
        size_t L = sp_utf8_decode(p + i, n - i, &cp);
        if (!L) { i++; last = 0; continue; }
        i += L;
        if (cp < 0x300) { last = 0; continue; }
        int c = ccc_of(cp);
        if ((c && last > c) || nfc_qc_no_or_maybe(cp)) return 0;
        last = c;
    }
    return 1;
}

static const uint32_t *decomposition(uint32_t cp, int *len) {
    size_t lo = 0, hi = N_OF(uc_dec_cp);
    if (cp < 0xC0) return NULL;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (uc_dec_cp[mid] < cp) lo = mid + 1;
        else if (uc_dec_cp[mid] > cp) hi = mid;
        else { *len = uc_dec_idx[mid] & 7; return &uc_dec_data[uc_dec_idx[mid] >> 3]; }
    }
    return NULL;
}

static uint32_t compose(uint32_t a, uint32_t b) {
    if (a >= L_BASE && a < L_BASE + L_COUNT && b >= V_BASE && b < V_BASE + V_COUNT)
        return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
    if (a >= S_BASE && a < S_BASE + S_COUNT && (a - S_BASE) % T_COUNT == 0 && b > T_BASE && b < T_BASE + T_COUNT)
        return a + (b - T_BASE);
    if (a >= 0x110000 || b >= 0x110000) return 0;
    uint64_t key = ((uint64_t)a << 21) | b;
    size_t lo = 0, hi = N_OF(uc_comp_key);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (uc_comp_key[mid] < key) lo = mid + 1;
        else if (uc_comp_key[mid] > key) hi = mid;
        else return uc_comp_val[mid];
    }
    return 0;
}

static int put_utf8(char **buf, size_t *len, size_t *cap, uint32_t cp) {
    if (*len + 4 > *cap) {
        size_t c = *cap ? *cap : 64;
        while (*len + 4 > c) c *= 2;
        char *p = (char *)realloc(*buf, c);
        if (!p) return 0;
        *buf = p; *cap = c;
    }
    uint8_t *o = (uint8_t *)*buf + *len;
    if (cp & RAW_BYTE) { o[0] = (uint8_t)cp; *len += 1; }
    else if (cp < 0x80) { o[0] = (uint8_t)cp; *len += 1; }
    else if (cp < 0x800) { o[0] = (uint8_t)(0xC0 | (cp >> 6)); o[1] = (uint8_t)(0x80 | (cp & 63)); *len += 2; }
    else if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12)); o[1] = (uint8_t)(0x80 | ((cp >> 6) & 63)); o[2] = (uint8_t)(0x80 | (cp & 63));
        *len += 3;
    } else {
        o[0] = (uint8_t)(0xF0 | (cp >> 18)); o[1] = (uint8_t)(0x80 | ((cp >> 12) & 63));
        o[2] = (uint8_t)(0x80 | ((cp >> 6) & 63)); o[3] = (uint8_t)(0x80 | (cp & 63));
        *len += 4;
    }
    return 1;
}

int sp_uc_nfc(const char *s, size_t n, char **buf, size_t *len, size_t *cap) {
    if (sp_uc_nfc_quick(s, n)) { /* already NFC: copy */
        if (*len + n > *cap) {
            size_t c = *cap ? *cap : 64;
            while (*len + n > c) c *= 2;
            char *p = (char *)realloc(*buf, c);
            if (!p) return 0;
            *buf = p; *cap = c;
        }
        if (n) memcpy(*buf + *len, s, n);
        *len += n;
        return 1;
    }
    /* decompose (a code point expands to at most 7), then order, then compose, in place */
    if (n > SIZE_MAX / (7 * sizeof(uint32_t))) return 0;
    uint32_t *d = (uint32_t *)malloc((n ? n : 1) * 7 * sizeof(uint32_t));
    if (!d) return 0;
    size_t m = 0;
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t L = sp_utf8_decode(p + i, n - i, &cp);
        if (!L) { d[m++] = RAW_BYTE | p[i]; i++; continue; }
        i += L;
        int dl;
        const uint32_t *dec;
        if (cp >= S_BASE && cp < S_BASE + S_COUNT) {
            uint32_t si = cp - S_BASE;
            d[m++] = L_BASE + si / N_COUNT;
            d[m++] = V_BASE + (si % N_COUNT) / T_COUNT;
            if (si % T_COUNT) d[m++] = T_BASE + si % T_COUNT;
        } else if ((dec = decomposition(cp, &dl)) != NULL) {
            for (int k = 0; k < dl; k++) d[m++] = dec[k];
        } else {
            d[m++] = cp;
        }
    }
    /* canonical ordering: stable insertion sort of each run of non-starters by ccc */
    for (size_t i = 1; i < m; i++) {
        int c = (d[i] & RAW_BYTE) ? 0 : ccc_of(d[i]);
        if (!c) continue;
        uint32_t x = d[i];
        size_t j = i;
        while (j > 0 && !(d[j - 1] & RAW_BYTE) && ccc_of(d[j - 1]) > c) { d[j] = d[j - 1]; j--; }
        d[j] = x;
    }
    /* canonical composition */
    size_t out = 0;
    if (m) {
        size_t starter = 0;
        int last = (d[0] & RAW_BYTE) ? 0 : ccc_of(d[0]);
        int have_starter = last == 0 && !(d[0] & RAW_BYTE);
        if (last) last = 256;
        out = 1;
        for (size_t i = 1; i < m; i++) {
            uint32_t ch = d[i];
            int c = (ch & RAW_BYTE) ? 0 : ccc_of(ch);
            if (have_starter && !(ch & RAW_BYTE) && (last < c || last == 0)) {
                uint32_t comp = compose(d[starter], ch);
                if (comp && (last < c || (last == 0 && out == starter + 1))) {
                    d[starter] = comp;
                    continue;
                }
            }
            if (c == 0) { starter = out; have_starter = !(ch & RAW_BYTE); }
            last = c;
            d[out++] = ch;
        }
    }
    int ok = 1;
    for (size_t i = 0; i < out && ok; i++) ok = put_utf8(buf, len, cap, d[i]);
    free(d);
    return ok;
}
