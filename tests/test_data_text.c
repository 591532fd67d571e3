/* test_data_text.c - the text data sets: Sentiment (labelled sentences in
 * JSON) and Text (a plain text for a language model). labels: unit full
 *
 * On npm's sentiment@5.0.2 fixtures (data/node_modules, tools/fetch-data.sh)
 * and Debian's dasher-data English text (skipped when absent): record and
 * class counts, the vocabulary and the longest sentence with every record
 * in the training split, against numbers computed independently with
 * Debian's Python:
 *
 *   tok = re.compile(rb"[A-Za-z0-9'\x80-\xff]+|[\x21-\x7e]")
 *   for r in records (class not None): cnt.update(tok.findall(r['text'].encode().lower()))
 *   sorted(cnt.items(), key=lambda kv: (-kv[1], kv[0]))  ->  5290 words: '.', 'the', ',', 'and', ...
 *   longest: 85 tokens; characters: 63 distinct, longest 479
 *
 * the defaults, the domain-shift split, next-token targets over the text
 * (decoded back to the file's own bytes). On small files written here: the
 * vocabulary comes from the training split only (a word only val or test
 * has is "<unk>"), padding, escapes, and every error of the JSON reader
 * with its byte offset and record.
 */
#include "data_harness.h"

#define FIXTURES "node_modules/sentiment/test/fixtures"

/* ---- Sentiment ----------------------------------------------------------- */

static void test_sentiment_real(void **state)
{
    (void)state;
    SKIP_UNLESS(data_file(FIXTURES "/amazon.json"), HOW_FETCH);
    eta_dataset *ds = open_ok("Sentiment('" FIXTURES "', val=0, test=0)", data_dir());
    const eta_data_info *in = eta_data_get_info(ds);
    assert_string_equal(in->name, "Sentiment");
    assert_int_equal(in->size[0], 3000); /* 3 x 1000, the empty last record of each skipped */
    assert_true(in->tokens);
    assert_int_equal(in->vocab, 5292);   /* 5290 words + <pad> + <unk> */
    assert_int_equal(in->input_shape[0], 85);
    assert_int_equal(in->padding_idx, 0);
    assert_int_equal(in->classes, 2);
    assert_true(in->class_target);
    assert_string_equal(eta_data_token(ds, 0), "<pad>");
    assert_string_equal(eta_data_token(ds, 1), "<unk>");
    static const char *const top[] = {".", "the", ",", "and", "i", "a", "is", "it"};
    for (int k = 0; k < 8; k++)
        assert_string_equal(eta_data_token(ds, 2 + k), top[k]);
    assert_null(eta_data_token(ds, 5292));
    void *x, *y;
    gather_all(ds, ETA_SPLIT_TRAIN, &x, &y);
    const int32_t *ids = x, *lab = y;
    int64_t pos = 0;
    for (int i = 0; i < 3000; i++)
        pos += lab[i];
    assert_int_equal(pos, 1500);
    /* record 0: "So there is no way for me to plug it in here in the US unless
     * I go by a converter." */
    static const char *const rec0[] = {"so", "there", "is", "no", "way", "for", "me", "to", "plug", "it", "in",
                                       "here", "in", "the", "us", "unless", "i", "go", "by", "a", "converter", "."};
    for (int k = 0; k < 22; k++)
        assert_string_equal(eta_data_token(ds, ids[k]), rec0[k]);
    for (int k = 22; k < 85; k++)
        assert_int_equal(ids[k], 0);
    assert_int_equal(lab[0], 0);
    free(x), free(y);
    eta_data_free(ds);
    /* characters */
    ds = open_ok("Sentiment('" FIXTURES "', level='char', val=0, test=0)", data_dir());
    assert_int_equal(eta_data_get_info(ds)->vocab, 65);
    assert_int_equal(eta_data_get_info(ds)->input_shape[0], 479);
    assert_string_equal(eta_data_token(ds, 2), " ");
    assert_string_equal(eta_data_token(ds, 3), "e");
    eta_data_free(ds);
}

static void test_sentiment_defaults(void **state)
{
    (void)state;
    SKIP_UNLESS(data_file(FIXTURES "/amazon.json"), HOW_FETCH);
    eta_dataset *ds = open_ok("Sentiment('" FIXTURES "')", data_dir());
    const eta_data_info *in = eta_data_get_info(ds);
    assert_int_equal(in->size[0], 2100); /* val 0.1, test 0.2 */
    assert_int_equal(in->size[1], 300);
    assert_int_equal(in->size[2], 600);
    check_partition(ds, 3000);
    assert_true(in->input_shape[0] <= 85);
    assert_true(in->vocab < 5292); /* from the training split only */
    eta_dataset *same = open_ok("Sentiment('" FIXTURES "', sources='amazon,imdb,yelp', level='word', max_len=None, "
                                "lowercase=True, min_freq=1, max_vocab=None, classes=2, val=0.1, test=0.2, "
                                "test_sources=None, split='random', seed=0)",
                                data_dir());
    assert_int_equal(eta_data_get_info(same)->vocab, in->vocab);
    for (int s = 0; s < 3; s++) {
        void *x1, *y1, *x2, *y2;
        gather_all(ds, (eta_split)s, &x1, &y1);
        gather_all(same, (eta_split)s, &x2, &y2);
        assert_memory_equal(x1, x2, (size_t)(in->size[s] * in->input_shape[0]) * 4);
        assert_memory_equal(y1, y2, (size_t)in->size[s] * 4);
        free(x1), free(y1), free(x2), free(y2);
    }
    eta_data_free(same);
    eta_data_free(ds);
    /* yelp as the test split: records 2000..2999 */
    ds = open_ok("Sentiment('" FIXTURES "', test_sources='yelp', split='stratified')", data_dir());
    in = eta_data_get_info(ds);
    assert_int_equal(in->size[2], 1000);
    assert_int_equal(in->size[1], 200);
    assert_int_equal(in->size[0], 1800);
    int64_t n;
    const int64_t *t = eta_data_split_index(ds, ETA_SPLIT_TEST, &n);
    for (int64_t i = 0; i < n; i++)
        assert_int_equal(t[i], 2000 + i);
    check_partition(ds, 3000);
    void *x, *y;
    gather_all(ds, ETA_SPLIT_VAL, &x, &y);
    int64_t pos = 0;
    for (int i = 0; i < 200; i++)
        pos += ((int32_t *)y)[i];
    assert_int_equal(pos, 100);
    free(x), free(y);
    eta_data_free(ds);
}

static void test_sentiment_vocab_from_train(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    /* record i: "W<i> common", "lone" in record 5 only */
    char json[8192];
    size_t n = (size_t)snprintf(json, sizeof json, "[");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(json + n, sizeof json - n, "%s{\"text\": \"W%d common%s\", \"class\": %d}", i ? ",\n" : "",
                              i, i == 5 ? " lone" : "", i % 2);
    n += (size_t)snprintf(json + n, sizeof json - n, ", {\"text\": \"\", \"class\": null}]");
    put_file(dir, "toy.json", json, n, false);
    eta_dataset *ds = open_ok("Sentiment('.', sources='toy', val=0.25, test=0.25, seed=3)", dir);
    const eta_data_info *in = eta_data_get_info(ds);
    assert_int_equal(in->size[0], 20);
    /* the vocabulary: <pad>, <unk>, "common" (20 uses), then the 20 training w<i> */
    assert_int_equal(in->vocab, 3 + 20 + 0);
    assert_string_equal(eta_data_token(ds, 2), "common");
    char train[40] = {0};
    int64_t k;
    const int64_t *tr = eta_data_split_index(ds, ETA_SPLIT_TRAIN, &k);
    for (int64_t i = 0; i < k; i++)
        train[tr[i]] = 1;
    int in_vocab[40] = {0};
    for (int64_t id = 3; id < in->vocab; id++) {
        const char *t = eta_data_token(ds, id);
        assert_true(t[0] == 'w'); /* lowercased */
        in_vocab[atoi(t + 1)] = 1;
    }
    for (int i = 0; i < 40; i++)
        if (in_vocab[i] != train[i])
            fail_msg("w%d: in the vocabulary %d, in the training split %d", i, in_vocab[i], train[i]);
    /* max_len: the longest training sentence (3 if record 5 trains, else 2) */
    assert_int_equal(in->input_shape[0], train[5] ? 3 : 2);
    /* val and test rows: <unk> then "common", padded */
    for (int s = 1; s < 3; s++) {
        void *x, *y;
        gather_all(ds, (eta_split)s, &x, &y);
        const int64_t *ix = eta_data_split_index(ds, (eta_split)s, &k);
        for (int64_t i = 0; i < k; i++) {
            const int32_t *row = (int32_t *)x + i * in->input_shape[0];
            assert_int_equal(row[0], 1);
            assert_int_equal(row[1], 2);
            if (in->input_shape[0] == 3)
                assert_int_equal(row[2], ix[i] == 5 ? 1 : 0);
            assert_int_equal(((int32_t *)y)[i], ix[i] % 2);
        }
        free(x), free(y);
    }
    eta_data_free(ds);
    /* min_freq and max_len: only "common" survives; rows are cut to 1 */
    ds = open_ok("Sentiment('.', sources='toy', min_freq=2, max_len=1, val=0.25, test=0.25)", dir);
    assert_int_equal(eta_data_get_info(ds)->vocab, 3);
    assert_int_equal(eta_data_get_info(ds)->input_shape[0], 1);
    eta_data_free(ds);
    rm_tmp_dir(dir);
}

static void test_sentences_escapes(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    put_text(dir, "esc.json", " [ {\"id\": [1, {\"x\": null}], \"text\": \"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\"\\t!\", "
                              "\"class\": 1, \"more\": true} ,\n {\"class\": 0, \"text\": \"Ok\"}, {\"text\": \"\", "
                              "\"class\": null} ] \n");
    eta_dataset *ds = open_ok("Sentiment('.', sources='esc', val=0, test=0, level='char', lowercase=False)", dir);
    const eta_data_info *in = eta_data_get_info(ds);
    assert_int_equal(in->size[0], 2);
    assert_int_equal(in->input_shape[0], 12); /* c a f é ␠ 😀 ␠ " q " \t ! */
    void *x, *y;
    gather_all(ds, ETA_SPLIT_TRAIN, &x, &y);
    char text[64] = "";
    for (int k = 0; k < 12; k++)
        strcat(text, eta_data_token(ds, ((int32_t *)x)[k]));
    assert_string_equal(text, "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\"\t!");
    assert_int_equal(((int32_t *)y)[0], 1);
    assert_int_equal(((int32_t *)y)[1], 0);
    free(x), free(y);
    eta_data_free(ds);
    rm_tmp_dir(dir);
}

/* Writes text as dir/bad.json and expects the open to fail with msg. */
static void expect_json_error(const char *json, const char *msg)
{
    char *dir = tmp_dir();
    put_text(dir, "bad.json", json);
    expect_open_error("Sentiment('.', sources='bad')", dir, ETA_EFORMAT, "bad.json: ", msg, NULL);
    rm_tmp_dir(dir);
}

static void test_sentences_errors(void **state)
{
    (void)state;
    expect_json_error("[{\"text\": \"a\", \"class\": 1}, {\"text\": \"b\", \"class\": 2}]",
                      "byte 51: record 2: label 2 out of range [0, 2)");
    expect_json_error("[{\"text\": \"a\", \"class\": 1}, {\"text\": \"b\", \"class\": -1}]", "record 2: label -1 out of range");
    expect_json_error("[{\"text\": \"a\", \"class\": 0.5}]", "byte 24: record 1: label 0.5 out of range");
    expect_json_error("[{\"text\": \"a\", \"class\": 1}, {\"te", "byte 29: record 2: unterminated string");
    expect_json_error("[{\"text\": \"a\", \"class\": 1},", "byte 27: record 2: unexpected end of the file (truncated?)");
    expect_json_error("[{\"text\": \"a\", \"class\": 1}", "byte 26: record 1: unexpected end of the file (truncated?)");
    expect_json_error("[{\"text\": \"a b\", \"class\": null}]", "record 1: 'class' is null for a non-empty text");
    expect_json_error("", "byte 0: empty file");
    expect_json_error("  \n", "byte 3: empty file");
    expect_json_error("{\"text\": \"a\"}", "byte 0: expected '['");
    expect_json_error("[{\"class\": 1}]", "byte 1: record 1: no 'text'");
    expect_json_error("[{\"text\": \"x\"}]", "byte 1: record 1: no 'class'");
    expect_json_error("[{\"text\": \"a\\q\", \"class\": 1}]", "byte 12: record 1: bad escape");
    expect_json_error("[{\"text\": \"a\\u00zz\", \"class\": 1}]", "record 1: bad hex digit");
    expect_json_error("[{\"text\": \"a\\u0000\", \"class\": 1}]", "\\u0000 in a string");
    expect_json_error("[{\"text\": \"\\ud83d\", \"class\": 1}]", "high surrogate");
    expect_json_error("[{\"text\": \"a\tb\", \"class\": 1}]", "byte 12: record 1: control character");
    expect_json_error("[{\"text\": \"a\", \"class\": 1}] x", "byte 28: text after the array");
    expect_json_error("[{\"text\": \"a\", \"class\": 1},]", "byte 27: record 2: expected a record");
    expect_json_error("[{\"text\": \"a\", \"text\": \"b\", \"class\": 1}]", "byte 15: record 1: key 'text' twice");
    expect_json_error("[{\"text\": 5, \"class\": 1}]", "record 1: 'text' must be a string");
    expect_json_error("[{\"text\": \"a\", \"class\": \"1\"}]", "record 1: 'class' must be an integer or null");
    expect_json_error("[{\"text\": \"a\", \"class\": 1, \"x\": 01}]", "record 1: expected ',' or '}'");
    expect_json_error("[{\"text\": \"a\", \"class\": 1, \"x\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                      "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]",
                      "nested more than 64 levels");
    expect_json_error("[{\"text\": \"\", \"class\": null}]", "no records");
    /* arguments and files */
    char *dir = tmp_dir();
    expect_open_error("Sentiment('.', sources='nope')", dir, ETA_EIO, "nope.json: No such file or directory", NULL);
    expect_open_error("Sentiment('.', level='words')", dir, ETA_EINVAL, "level: unknown value 'words'", "did you mean word?",
                      NULL);
    expect_open_error("Sentiment('.', test=0.1, test_sources='yelp')", dir, ETA_EINVAL, "test or test_sources, not both",
                      NULL);
    expect_open_error("Sentiment()", dir, ETA_EINVAL, "missing required argument 'root'", NULL);
    /* a gzip file cut short */
    char json[16384];
    size_t n = (size_t)snprintf(json, sizeof json, "[");
    uint32_t s = 5;
    for (int i = 0; i < 200; i++) {
        s = s * 1103515245u + 12345u;
        n += (size_t)snprintf(json + n, sizeof json - n, "%s{\"text\": \"w%u x%u\", \"class\": %u}", i ? "," : "", s,
                              s >> 7, (s >> 11) & 1);
    }
    n += (size_t)snprintf(json + n, sizeof json - n, "]");
    const char *path = put_file(dir, "cut.json", json, n, true);
    truncate_file(path, file_size(path) - 30);
    expect_open_error("Sentiment('.', sources='cut')", dir, ETA_EFORMAT, "cut.json: gzip stream: unexpected end of file",
                      NULL);
    rm_tmp_dir(dir);
}

/* ---- Text ---------------------------------------------------------------- */

static void test_text_real(void **state)
{
    (void)state;
    SKIP_UNLESS(DASHER_TEXT, HOW_DEBIAN);
    size_t len;
    char *file = read_file(DASHER_TEXT, &len);
    assert_non_null(file);
    assert_int_equal(len, 318595);
    eta_dataset *ds = open_ok("Text()", NULL);
    const eta_data_info *in = eta_data_get_info(ds);
    assert_string_equal(in->name, "Text");
    /* 318595 characters: val and test ceil(0.05 * 318595) = 15930 each, the
     * train part 286735; windows of 64 every 64 that fit with their 65th:
     * (286735 - 65) / 64 + 1 = 4480 and (15930 - 65) / 64 + 1 = 248 */
    assert_int_equal(in->size[0], 4480);
    assert_int_equal(in->size[1], 248);
    assert_int_equal(in->size[2], 248);
    assert_true(in->tokens);
    assert_int_equal(in->input_ndim, 1);
    assert_int_equal(in->input_shape[0], 64);
    assert_true(in->class_target);
    assert_int_equal(in->target_ndim, 1);
    assert_int_equal(in->target_shape[0], 64);
    assert_int_equal(in->vocab, 86); /* 85 distinct bytes, all in the train part, and <unk> */
    assert_int_equal(in->classes, 86);
    assert_int_equal(in->padding_idx, -1);
    assert_string_equal(eta_data_token(ds, 0), "<unk>");
    /* every window decodes to the file's bytes at its offset; its target is
     * the same shifted by one */
    int64_t pos = 0;
    for (int s = 0; s < 3; s++) {
        int64_t n;
        const int64_t *ix = eta_data_split_index(ds, (eta_split)s, &n);
        void *x, *y;
        gather_all(ds, (eta_split)s, &x, &y);
        for (int64_t i = 0; i < n; i++) {
            const int32_t *a = (int32_t *)x + i * 64, *b = (int32_t *)y + i * 64;
            assert_true(ix[i] >= pos);
            pos = ix[i] + 64;
            for (int j = 0; j < 64; j++) {
                const char *t = eta_data_token(ds, a[j]), *u = eta_data_token(ds, b[j]);
                if (t[0] != file[ix[i] + j] || u[0] != file[ix[i] + j + 1])
                    fail_msg("split %d window %lld at %d", s, (long long)i, j);
            }
        }
        free(x), free(y);
    }
    /* splits in file order: val after train, test after val */
    assert_int_equal(eta_data_split_index(ds, ETA_SPLIT_VAL, NULL)[0], 286735);
    assert_int_equal(eta_data_split_index(ds, ETA_SPLIT_TEST, NULL)[0], 286735 + 15930);
    eta_data_free(ds);
    /* the defaults written out */
    eta_dataset *same = open_ok("Text('" DASHER_TEXT "', context=64, stride=None, level='char', lowercase=False, "
                                "min_freq=1, max_vocab=None, val=0.05, test=0.05)",
                                NULL);
    assert_int_equal(eta_data_get_info(same)->size[0], 4480);
    eta_data_free(same);
    free(file);
}

static void test_text_vocab_from_train(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    /* 80 characters of "ab", then 10 of "x" (val) and 10 of "y" (test) */
    char text[101];
    for (int i = 0; i < 80; i++)
        text[i] = "ab"[i % 2];
    memset(text + 80, 'x', 10);
    memset(text + 90, 'y', 10);
    text[100] = 0;
    put_text(dir, "t.txt", text);
    eta_dataset *ds = open_ok("Text('t.txt', context=4, stride=1, val=10, test=10)", dir);
    const eta_data_info *in = eta_data_get_info(ds);
    assert_int_equal(in->vocab, 3);
    assert_int_equal(in->size[0], 76); /* 80 - 5 + 1 */
    assert_int_equal(in->size[1], 6);
    assert_int_equal(in->size[2], 6);
    void *x, *y;
    gather_all(ds, ETA_SPLIT_VAL, &x, &y);
    for (int i = 0; i < 24; i++)
        assert_int_equal(((int32_t *)x)[i], 0); /* 'x' is <unk> */
    free(x), free(y);
    gather_all(ds, ETA_SPLIT_TRAIN, &x, &y);
    assert_int_equal(((int32_t *)x)[0], 1); /* 'a' and 'b' 40 times each: ties in byte order */
    assert_int_equal(((int32_t *)y)[0], 2);
    assert_string_equal(eta_data_token(ds, 1), "a");
    free(x), free(y);
    eta_data_free(ds);
    /* words */
    put_text(dir, "w.txt", "The cat. the dog, the cat! A Cat");
    ds = open_ok("Text('w.txt', level='word', lowercase=True, context=2, val=0, test=0)", dir);
    assert_int_equal(eta_data_get_info(ds)->vocab, 8); /* <unk> cat the (3 each) ! , . a dog */
    assert_string_equal(eta_data_token(ds, 1), "cat");
    assert_string_equal(eta_data_token(ds, 2), "the");
    assert_string_equal(eta_data_token(ds, 3), "!");
    assert_int_equal(eta_data_get_info(ds)->size[0], 5); /* 11 tokens: windows at 0, 2, 4, 6, 8 */
    eta_data_free(ds);
    /* errors */
    put_text(dir, "empty.txt", "");
    expect_open_error("Text('empty.txt')", dir, ETA_EFORMAT, "empty.txt: empty file", NULL);
    put_text(dir, "short.txt", "hello");
    expect_open_error("Text('short.txt', context=8, val=0, test=0)", dir, ETA_EINVAL,
                      "the train part has 5 tokens, fewer than context + 1 = 9", NULL);
    expect_open_error("Text('t.txt', context=20, val=10, test=10)", dir, ETA_EINVAL,
                      "the val part has 10 tokens, fewer than context + 1 = 21", NULL);
    put_file(dir, "nul.txt", "ab\0cd", 5, false);
    expect_open_error("Text('nul.txt')", dir, ETA_EFORMAT, "nul.txt: byte 2: NUL byte", NULL);
    expect_open_error("Text('t.txt', contxt=4)", dir, ETA_EINVAL, "did you mean context?", NULL);
    expect_open_error("Text('t.txt', context=0)", dir, ETA_EINVAL, "context must be in [1,", NULL);
    rm_tmp_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sentiment_real),
        cmocka_unit_test(test_sentiment_defaults),
        cmocka_unit_test(test_sentiment_vocab_from_train),
        cmocka_unit_test(test_sentences_escapes),
        cmocka_unit_test(test_sentences_errors),
        cmocka_unit_test(test_text_real),
        cmocka_unit_test(test_text_vocab_from_train),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
