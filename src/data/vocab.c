/* data/vocab.c - tokens and vocabularies for the text data sets
 * (Sentiment, Text): a word- or character-level tokenizer, and a
 * vocabulary counted on the training split only.
 *
 * Ids are deterministic: the special tokens ("<pad>", "<unk>") first, then
 * the counted tokens by falling count, ties in byte order (so the same
 * training text always gives the same ids, whatever order it was counted
 * in). Tokens are byte strings; a hash table (FNV-1a, open addressing)
 * maps them to their entry.
 */
#include <stdlib.h>
#include <string.h>

#include "data/data_impl.h"

const char *const data_levels[2] = {"word", "char"};

typedef struct entry {
    char *tok;     /* NUL-terminated copy */
    size_t len;
    int64_t count;
    int32_t id;    /* -1 until finish, or when the token did not make the cut */
} entry;

struct data_vocab {
    entry *e;      /* n entries */
    int64_t n, cap;
    int64_t *slot; /* hash table of entry indices, -1 empty; nslot a power of two */
    int64_t nslot;
    char **by_id;  /* id -> token */
    int64_t size;
    int nspecials;
};

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

static int64_t find(const data_vocab *v, const char *tok, size_t len, int64_t *slot)
{
    if (!v->nslot)
        return -1;
    uint64_t mask = (uint64_t)v->nslot - 1;
    for (uint64_t h = hash(tok, len) & mask;; h = (h + 1) & mask) {
        int64_t k = v->slot[h];
        if (k < 0 || (v->e[k].len == len && !memcmp(v->e[k].tok, tok, len))) {
            if (slot)
                *slot = (int64_t)h;
            return k;
        }
    }
}

static int grow(data_vocab *v)
{
    int64_t ns = v->nslot ? v->nslot * 2 : 1024;
    int64_t *slot = malloc((size_t)ns * sizeof *slot);
    if (!slot)
        return ETA_ENOMEM;
    for (int64_t i = 0; i < ns; i++)
        slot[i] = -1;
    free(v->slot);
    v->slot = slot;
    v->nslot = ns;
    for (int64_t k = 0; k < v->n; k++) {
        int64_t h;
        find(v, v->e[k].tok, v->e[k].len, &h);
        v->slot[h] = k;
    }
    return ETA_OK;
}

/* The entry of a token, added with count 0 when new; -1 when out of memory. */
static int64_t insert(data_vocab *v, const char *tok, size_t len)
{
    if ((v->n + 1) * 2 > v->nslot && grow(v))
        return -1;
    int64_t h, k = find(v, tok, len, &h);
    if (k >= 0)
        return k;
    if (v->n == v->cap) {
        int64_t cap = v->cap ? v->cap * 2 : 256;
        entry *e = realloc(v->e, (size_t)cap * sizeof *e);
        if (!e)
            return -1;
        v->e = e;
        v->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, tok, len);
    copy[len] = '\0';
    v->e[v->n] = (entry){copy, len, 0, -1};
    v->slot[h] = v->n;
    return v->n++;
}

int data_vocab_new(data_vocab **out, const char *const *specials, int nspecials)
{
    data_vocab *v = calloc(1, sizeof *v);
    if (!v)
        return ETA_ENOMEM;
    v->nspecials = nspecials;
    for (int i = 0; i < nspecials; i++)
        if (insert(v, specials[i], strlen(specials[i])) != i) {
            data_vocab_free(v);
            return ETA_ENOMEM;
        }
    *out = v;
    return ETA_OK;
}

void data_vocab_free(data_vocab *v)
{
    if (!v)
        return;
    for (int64_t k = 0; k < v->n; k++)
        free(v->e[k].tok);
    free(v->e);
    free(v->slot);
    free(v->by_id);
    free(v);
}

int data_vocab_count(data_vocab *v, const char *tok, size_t len)
{
    int64_t k = insert(v, tok, len);
    if (k < 0)
        return ETA_ENOMEM;
    v->e[k].count++;
    return ETA_OK;
}

static int by_count(const void *a, const void *b)
{
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->tok, y->tok, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

int data_vocab_finish(data_vocab *v, int64_t min_freq, int64_t max_size)
{
    int64_t m = v->n - v->nspecials;
    entry **order = malloc((size_t)(m > 0 ? m : 1) * sizeof *order);
    v->by_id = malloc((size_t)(v->n > 0 ? v->n : 1) * sizeof *v->by_id);
    if (!order || !v->by_id) {
        free(order);
        return ETA_ENOMEM;
    }
    for (int64_t k = 0; k < m; k++)
        order[k] = &v->e[v->nspecials + k];
    qsort(order, (size_t)m, sizeof *order, by_count);
    int64_t id = 0;
    for (int i = 0; i < v->nspecials; i++) {
        v->e[i].id = (int32_t)id;
        v->by_id[id++] = v->e[i].tok;
    }
    for (int64_t k = 0; k < m; k++) {
        if (order[k]->count < min_freq || (max_size > 0 && id >= max_size) || id >= INT32_MAX)
            break;
        order[k]->id = (int32_t)id;
        v->by_id[id++] = order[k]->tok;
    }
    v->size = id;
    free(order);
    return ETA_OK;
}

int32_t data_vocab_id(const data_vocab *v, const char *tok, size_t len, int32_t unk)
{
    int64_t k = find(v, tok, len, NULL);
    return k >= 0 && v->e[k].id >= 0 ? v->e[k].id : unk;
}

const char *data_vocab_token(const data_vocab *v, int64_t id)
{
    return v && v->by_id && id >= 0 && id < v->size ? v->by_id[id] : NULL;
}

int64_t data_vocab_size(const data_vocab *v)
{
    return v ? v->size : 0;
}

void data_lower(char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] - 'A' + 'a');
}

static bool word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'' || c >= 0x80;
}

/* The length of the UTF-8 character at s (n bytes left): 1 for a bad byte. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t k = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 1;
    if (k > n)
        return 1;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 1;
    return k;
}

int data_tokenize(const char *text, size_t n, data_level level, data_token_fn fn, void *ctx)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        size_t k;
        if (level == DATA_LEVEL_CHAR) {
            k = utf8_len(s + i, n - i);
        } else if (word_byte(s[i])) {
            k = 1;
            while (i + k < n && word_byte(s[i + k]))
                k++;
        } else if (s[i] <= ' ' || s[i] == 0x7F) {
            i++; /* blanks and control characters separate words */
            continue;
        } else {
            k = 1;
        }
        int rc = fn(ctx, text + i, k);
        if (rc)
            return rc;
        i += k;
    }
    return ETA_OK;
}
