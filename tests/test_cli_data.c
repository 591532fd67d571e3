/* tests/test_cli_data.c - `eta data`: the summary of a data set (splits,
 * shapes, classes, vocabulary, standardisation), a split dumped as CSV with
 * each value checked against the source file and the training split's own
 * statistics, the vocabulary with CSV quoting, and bad usage (exit 2).
 * labels: cli full
 */
#include "harness.h"
#include "train_harness.h"

#include <math.h>

/* Lines in a text. */
static int count_lines_text(const char *t)
{
    int n = 0;
    for (; *t; t++)
        n += *t == '\n';
    return n;
}

#define WINE "CSV('sklearn/wine_data.csv', split='stratified')"

/* The wine CSV's data rows as numbers: rows[r][c], the 13 features then
 * the class (scikit-learn's file: a first line "178,13,class_0,..." and the
 * target in the last column). */
static int read_wine(double rows[200][14])
{
    char *t = read_file(data_file("sklearn/wine_data.csv"), NULL);
    assert_non_null(t);
    int n = 0;
    for (char *p = strchr(t, '\n') + 1; *p && n < 200; n++) {
        for (int c = 0; c < 14; c++) {
            char *end;
            rows[n][c] = strtod(p, &end);
            assert_true(end != p);
            p = end + (*end == ',');
        }
        p += strspn(p, "\r\n");
    }
    free(t);
    return n;
}

/* The dump's rows: index, y0, x0..x12 (15 numbers). */
static int parse_dump(char *out, double rows[200][15])
{
    assert_true(!strncmp(out, "index,y0,x0,x1,", 15));
    int n = 0;
    for (char *line = strchr(out, '\n'); line && line[1]; line = strchr(line + 1, '\n'), n++) {
        char *p = line + 1;
        for (int c = 0; c < 15; c++) {
            char *end;
            rows[n][c] = strtod(p, &end);
            assert_true(end != p);
            p = end + (*end == ',');
        }
    }
    return n;
}

static void test_summary_and_dump(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    char *out;
    const char *argv[] = {"data", WINE, NULL};
    free(eta_expect(0, argv, NULL, &out));
    expect_has("summary", out, "data: CSV\ntrain: 106 examples\nval: 36 examples\ntest: 36 examples\n");
    expect_has("summary", out, "input: float32 [13]\ntarget: int32 class []\n");
    expect_has("summary", out, "classes: 3 (class_0, class_1, class_2)\n");
    expect_has("summary", out, "13 statistics from the training split");
    free(out);
    static double src[200][14], train[200][15], val[200][15];
    int nsrc = read_wine(src);
    assert_int_equal(nsrc, 178);
    const char *a1[] = {"data", WINE, "--dump", "train", NULL};
    free(eta_expect(0, a1, NULL, &out));
    int ntrain = parse_dump(out, train);
    free(out);
    const char *a2[] = {"data", WINE, "--dump", "val", NULL};
    free(eta_expect(0, a2, NULL, &out));
    int nval = parse_dump(out, val);
    free(out);
    assert_int_equal(ntrain, 106);
    assert_int_equal(nval, 36);
    /* the statistics of the training rows (numpy's std, ddof 0), from the source */
    double mean[13] = {0}, sd[13] = {0};
    for (int i = 0; i < ntrain; i++)
        for (int c = 0; c < 13; c++)
            mean[c] += src[(int)train[i][0]][c] / ntrain;
    for (int i = 0; i < ntrain; i++)
        for (int c = 0; c < 13; c++)
            sd[c] += pow(src[(int)train[i][0]][c] - mean[c], 2) / ntrain;
    for (int c = 0; c < 13; c++)
        sd[c] = sqrt(sd[c]);
    /* every value of both splits: the class, and (x - mean) / std to float32 */
    bool seen[200] = {false};
    for (int s = 0; s < 2; s++) {
        double(*rows)[15] = s ? val : train;
        for (int i = 0; i < (s ? nval : ntrain); i++) {
            int r = (int)rows[i][0];
            assert_true(r >= 0 && r < nsrc && !seen[r]);
            seen[r] = true;
            assert_true(rows[i][1] == src[r][13]);
            for (int c = 0; c < 13; c++) {
                double want = (double)(float)((src[r][c] - mean[c]) / sd[c]);
                if (fabs(rows[i][c + 2] - want) > 1e-6 * (1 + fabs(want)))
                    fail_msg("row %d column %d: dumped %.9g, want %.9g", r, c, rows[i][c + 2], want);
            }
        }
    }
    /* --index-only: the test split's rows, none of them in train or val */
    const char *a3[] = {"data", WINE, "--dump", "test", "--index-only", NULL};
    free(eta_expect(0, a3, NULL, &out));
    assert_true(!strncmp(out, "index,y0\n", 9));
    int ntest = 0;
    for (char *line = strchr(out, '\n'); line && line[1]; line = strchr(line + 1, '\n'), ntest++) {
        int r, y;
        assert_int_equal(sscanf(line + 1, "%d,%d", &r, &y), 2);
        assert_false(seen[r]);
        assert_true(y == (int)src[r][13]);
    }
    assert_int_equal(ntest, 36);
    free(out);
}

static void test_config_and_vocab(void **state)
{
    (void)state;
    SKIP_UNLESS(data_file("node_modules/sentiment/test/fixtures/amazon.json"), HOW_FETCH);
    char cfg[4096];
    const char *src = getenv("ETA_SOURCE_DIR");
    assert_non_null(src);
    snprintf(cfg, sizeof cfg, "%s/configs/sentiment.ini", src);
    char *out;
    const char *argv[] = {"data", cfg, NULL};
    free(eta_expect(0, argv, NULL, &out));
    expect_has("summary", out, "data: Sentiment\ntrain: 2100 examples\nval: 300 examples\ntest: 600 examples\n");
    expect_has("summary", out, "input: int32 token ids [48]\n");
    expect_has("summary", out, "classes: 2 (negative, positive)\nvocab: 1774 ids (padding id 0)\n");
    free(out);
    const char *a2[] = {"data", cfg, "--vocab", NULL};
    free(eta_expect(0, a2, NULL, &out));
    assert_true(!strncmp(out, "0,<pad>\n1,<unk>\n", 16));
    expect_has("vocab", out, "\n4,\",\"\n"); /* the comma token, quoted */
    assert_int_equal(count_lines_text(out), 1774);
    free(out);
    const char *a3[] = {"data", cfg, "--dump", "val", NULL};
    free(eta_expect(0, a3, NULL, &out));
    assert_true(!strncmp(out, "index,y0,x0,x1,", 15));
    expect_has("dump", out, ",x47\n");
    assert_int_equal(count_lines_text(out), 301);
    free(out);
}

static void test_usage(void **state)
{
    (void)state;
    const struct {
        const char *args[6];
        const char *want;
    } bad[] = {
        {{"data", NULL}, "expected one data spec or config"},
        {{"data", "FashionMNIST()", "--dump", "training", NULL}, "--dump: 'training' is not a split"},
        {{"data", "FashionMNIST()", "--index-only", NULL}, "--index-only goes with --dump"},
        {{"data", "Fashion()", NULL}, "Fashion"},
        {{"data", "no-such.ini", NULL}, "no-such.ini"},
        {{"data", "FashionMNIST()", "--dumb", NULL}, "unknown option '--dumb'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        eta_result r = eta_run_argv(bad[i].args, NULL);
        if (r.rc != 2 || !strstr(r.err, bad[i].want))
            fail_msg("case %zu: exit %d (want 2), stderr: %s (want '%s')", i, r.rc, r.err, bad[i].want);
        free(r.out);
        free(r.err);
    }
    char *out;
    const char *help[] = {"data", "--help", NULL};
    free(eta_expect(0, help, NULL, &out));
    expect_has("--help", out, "--dump SPLIT");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_and_dump),
        cmocka_unit_test(test_config_and_vocab),
        cmocka_unit_test(test_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
