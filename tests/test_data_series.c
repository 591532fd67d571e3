/* test_data_series.c - the CSV data set's time-series arguments (series.c):
 * split='date' with cuts=, rolling= statistics of the window, and
 * target_transform=. labels: unit full
 *
 * On the first 13 rows of the S&P 500 file, copied here verbatim: the
 * inputs, rolling statistics and targets of the first example, worked out
 * by hand (Python's math.log and statistics.pstdev on the closes), and the
 * split boundaries (a cut on a trading day starts the new part with that
 * day; a cut on a Saturday falls between two rows). On the whole file (data/,
 * skipped when absent): the walk-forward split of the volatility config
 * (train to 2014-12-31, val 2015-2016, test 2017 to 2020-04-17), every input
 * and target against values the test computes from the file's text, and
 * the standardisation from the training rows only. Every bad argument gets
 * a message naming it, and a few hundred garbage values never crash.
 */
#include "data_harness.h"

#define SP500 "node_modules/vega-datasets/data/sp500-2000.csv"

/* date,close of the file's first 13 rows (open, high, low, ... left out) */
static const char head13[] = "date,close\n"
                             "2000-01-03,1455.219971\n2000-01-04,1399.420044\n2000-01-05,1402.109985\n"
                             "2000-01-06,1403.449951\n2000-01-07,1441.469971\n2000-01-10,1457.599976\n"
                             "2000-01-11,1438.560059\n2000-01-12,1432.250000\n2000-01-13,1449.680054\n"
                             "2000-01-14,1465.150024\n2000-01-18,1455.140015\n2000-01-19,1455.900024\n"
                             "2000-01-20,1445.569946\n";

#define SMALL(extra)                                                                                           \
    "CSV('head.csv', features='close', target='close', task='regression', transform='log_return', window=3, " \
    "standardize=False" extra ")"

static void check_rows(const eta_dataset *ds, eta_split s, int64_t first, int64_t n)
{
    int64_t k;
    const int64_t *ix = eta_data_split_index(ds, s, &k);
    assert_int_equal(k, n);
    for (int64_t i = 0; i < k; i++)
        assert_int_equal(ix[i], first + i);
}

static void test_series_by_hand(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    put_text(dir, "head.csv", head13);
    /* window 3 after the first return: examples are rows 4..12 (2000-01-07 to 01-20) */
    eta_dataset *ds = open_ok(SMALL(", target_transform='abs', rolling='mean:2,abs_mean:3,std:3', split='date', "
                                    "cuts=('2000-01-12', '2000-01-15')"),
                              dir);
    const eta_data_info *in = eta_data_get_info(ds);
    assert_int_equal(in->input_shape[0], 6); /* 3 returns, 3 statistics */
    check_rows(ds, ETA_SPLIT_TRAIN, 4, 3);   /* 01-07, 01-10, 01-11 */
    check_rows(ds, ETA_SPLIT_VAL, 7, 3);     /* 01-12 (the cut itself), 01-13, 01-14 */
    check_rows(ds, ETA_SPLIT_TEST, 10, 3);   /* 01-18, 01-19, 01-20 (01-15 is a Saturday) */
    float x[6], y;
    eta_err err;
    assert_int_equal(eta_data_gather(ds, ETA_SPLIT_TRAIN, (int64_t[]){0}, 1, x, &y, &err), 0);
    assert_true(x[0] == (float)-0.03909917550586638);  /* log(1399.420044 / 1455.219971) */
    assert_true(x[1] == (float)0.0019203376717690415); /* log(1402.109985 / 1399.420044) */
    assert_true(x[2] == (float)0.0009552218683290303); /* log(1403.449951 / 1402.109985) */
    assert_true(x[3] == (float)0.001437779770049036);  /* mean of the last 2 */
    assert_true(x[4] == (float)0.01399157834865482);   /* mean |r| of the 3 */
    assert_true(x[5] == (float)0.01911336547740062);   /* pstdev of the 3 */
    assert_true(y == (float)0.02672995005828958);      /* |log(1441.469971 / 1403.449951)| */
    eta_data_free(ds);

    /* 'square', one string of cuts, a cut on the first example's day: train is the day before... */
    expect_open_error(SMALL(", split='date', cuts='2000-01-07,2000-01-10'"), dir, ETA_EINVAL,
                      "cuts: no example of head.csv is dated before 20000107 (the first is 20000107)", NULL);
    ds = open_ok(SMALL(", target_transform='square', split='date', cuts='2000-01-10,2000-01-20'"), dir);
    check_rows(ds, ETA_SPLIT_TRAIN, 4, 1);
    check_rows(ds, ETA_SPLIT_VAL, 5, 7);
    check_rows(ds, ETA_SPLIT_TEST, 12, 1);
    assert_int_equal(eta_data_get_info(ds)->input_shape[0], 3); /* no rolling statistics by default */
    assert_int_equal(eta_data_gather(ds, ETA_SPLIT_TRAIN, (int64_t[]){0}, 1, x, &y, &err), 0);
    assert_true(y == (float)0.0007144902301186552); /* log(1441.469971 / 1403.449951)^2 */
    eta_data_free(ds);

    /* defaults: no target transform, the 'date' column, cuts past the end leave val and test empty */
    ds = open_ok(SMALL(", split='date', cuts=['2001-01-01', '2002-01-01']"), dir);
    check_rows(ds, ETA_SPLIT_TRAIN, 4, 9);
    assert_int_equal(eta_data_gather(ds, ETA_SPLIT_TRAIN, (int64_t[]){0}, 1, x, &y, &err), 0);
    assert_true(y == (float)0.02672995005828958); /* the signed return: it rose */
    assert_int_equal(eta_data_gather(ds, ETA_SPLIT_TRAIN, (int64_t[]){6}, 1, x, &y, &err), 0);
    assert_true(y == (float)log(1455.140015 / 1465.150024)); /* it fell: the sign is kept */
    assert_true(y < 0);
    eta_data_free(ds);
    rm_tmp_dir(dir);
}

#define VOL_SPEC(std)                                                                                     \
    "CSV('" SP500 "', features='close', target='close', task='regression', transform='log_return', "     \
    "window=20, target_transform='abs', rolling='abs_mean:5,abs_mean:20,std:5,std:20', split='date', "   \
    "cuts=('2015-01-01', '2017-01-01'), standardize=" std ", standardize_target=" std ")"

static void test_series_sp500(void **state)
{
    (void)state;
    SKIP_UNLESS(data_file(SP500), HOW_FETCH);
    FILE *f = fopen(data_file(SP500), "r");
    assert_non_null(f);
    static double close[6000], r[6000];
    static char date[6000][11];
    int rows = 0;
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    while (fgets(line, sizeof line, f) && rows < 6000) {
        double o, h, l;
        assert_int_equal(sscanf(line, "%10[^,],%lf,%lf,%lf,%lf", date[rows], &o, &h, &l, &close[rows]), 5);
        if (rows)
            r[rows] = log(close[rows] / close[rows - 1]);
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 5105);
    eta_dataset *ds = open_ok(VOL_SPEC("False"), data_dir());
    const eta_data_info *in = eta_data_get_info(ds);
    assert_int_equal(in->input_shape[0], 24);
    /* the walk-forward boundaries, as dates of the target's day */
    static const struct {
        int64_t first, n;
        const char *d0, *d1;
    } part[3] = {{21, 3752, "2000-02-02", "2014-12-31"},
                 {3773, 504, "2015-01-02", "2016-12-30"},
                 {4277, 828, "2017-01-03", "2020-04-17"}};
    for (int s = 0; s < 3; s++) {
        check_rows(ds, (eta_split)s, part[s].first, part[s].n);
        assert_string_equal(date[part[s].first], part[s].d0);
        assert_string_equal(date[part[s].first + part[s].n - 1], part[s].d1);
        void *xv, *yv;
        gather_all(ds, (eta_split)s, &xv, &yv);
        const float *x = xv, *y = yv;
        for (int64_t i = 0; i < part[s].n; i++) {
            int64_t t = part[s].first + i;
            for (int j = 0; j < 20; j++) /* oldest first: r(t-20) .. r(t-1) */
                assert_true(x[i * 24 + j] == (float)r[t - 20 + j]);
            const int len[4] = {5, 20, 5, 20};
            for (int k = 0; k < 4; k++) {
                double m = 0, a = 0, v = 0;
                for (int j = 1; j <= len[k]; j++)
                    m += r[t - j] / len[k], a += fabs(r[t - j]) / len[k];
                for (int j = 1; j <= len[k]; j++)
                    v += (r[t - j] - m) * (r[t - j] - m) / len[k];
                double want = k < 2 ? a : sqrt(v);
                assert_true(fabs(x[i * 24 + 20 + k] - want) <= 1e-6 * want);
            }
            assert_true(y[i] == (float)fabs(r[t]));
        }
        free(xv), free(yv);
    }
    eta_data_free(ds);
    /* standardised with the statistics of the training rows alone */
    ds = open_ok(VOL_SPEC("True"), data_dir());
    const double *mean, *sd;
    assert_int_equal(eta_data_target_stats(ds, &mean, &sd), 1);
    double m = 0, v = 0;
    for (int t = 21; t < 3773; t++)
        m += fabs(r[t]) / 3752;
    for (int t = 21; t < 3773; t++)
        v += (fabs(r[t]) - m) * (fabs(r[t]) - m) / 3752;
    assert_true(fabs(mean[0] - m) < 1e-12 && fabs(sd[0] - sqrt(v)) < 1e-12);
    assert_int_equal(eta_data_input_stats(ds, &mean, &sd), 24);
    m = 0; /* the oldest return of the window: rows 1 .. 3752 */
    for (int t = 21; t < 3773; t++)
        m += r[t - 20] / 3752;
    assert_true(fabs(mean[0] - m) < 1e-12);
    eta_data_free(ds);
}

static void test_series_errors(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    put_text(dir, "head.csv", head13);
    put_text(dir, "bad.csv", "date,close\n2000-01-03,1\n2000-1-4,2\n");
    put_text(dir, "feb.csv", "date,close\n2001-02-28,1\n2001-02-29,2\n");
    put_text(dir, "back.csv", "date,close\n2000-01-04,1\n2000-01-03,2\n2000-01-05,3\n");
    put_text(dir, "nodate.csv", "when,close\n2000-01-03,1\n2000-01-04,2\n");
    static const struct {
        const char *spec;
        int code;
        const char *msg;
    } cases[] = {
        {SMALL(", split='date'"), ETA_EINVAL, "split='date' needs cuts=('YYYY-MM-DD', 'YYYY-MM-DD')"},
        {SMALL(", split='dates', cuts='2000-01-10,2000-01-12'"), ETA_EINVAL, "split: unknown value 'dates'; did you mean date?"},
        {SMALL(", cuts='2000-01-10,2000-01-12'"), ETA_EINVAL, "cuts= needs split='date'"},
        {SMALL(", date='date'"), ETA_EINVAL, "date= needs split='date'"},
        {SMALL(", split='date', cuts='2000-01-10'"), ETA_EINVAL, "cuts: expected two dates"},
        {SMALL(", split='date', cuts=('2000-01-10', '2000-01-11', '2000-01-12')"), ETA_EINVAL, "got 3"},
        {SMALL(", split='date', cuts=('2000-13-01', '2000-01-12')"), ETA_EINVAL, "cuts: '2000-13-01' is not a date YYYY-MM-DD"},
        {SMALL(", split='date', cuts=('2000-01-10', '2001-02-29')"), ETA_EINVAL, "cuts: '2001-02-29' is not a date"},
        {SMALL(", split='date', cuts=(20000110, '2000-01-12')"), ETA_EINVAL, "cuts: expected a date 'YYYY-MM-DD', got the number"},
        {SMALL(", split='date', cuts=('2000-01-12', '2000-01-10')"), ETA_EINVAL, "cuts: '2000-01-12' must come before '2000-01-10'"},
        {SMALL(", split='date', cuts='2000-01-10,2000-01-12', val=0.1"), ETA_EINVAL, "val: split='date' takes the parts from cuts="},
        {SMALL(", split='date', cuts='2000-01-10,2000-01-12', test=2"), ETA_EINVAL, "test: split='date'"},
        {SMALL(", split='date', cuts='1999-01-10,2000-01-12'"), ETA_EINVAL, "the training part would be empty"},
        {SMALL(", split='date', date='day', cuts='2000-01-10,2000-01-12'"), ETA_EINVAL, "date: head.csv has no column 'day'"},
        {SMALL(", split='date', date=['date', 'close'], cuts='2000-01-10,2000-01-12'"), ETA_EINVAL, "date: expected one column"},
        {SMALL(", split='date', date='close', cuts='2000-01-10,2000-01-12'"), ETA_EINVAL, "no feature columns left besides the date"},
        {SMALL(", rolling='stdev:3'"), ETA_EINVAL, "rolling: unknown statistic 'stdev' in 'stdev:3'; did you mean std?"},
        {SMALL(", rolling='std:4'"), ETA_EINVAL, "rolling: 'std:4' looks back 4 rows, more than window=3"},
        {SMALL(", rolling='std'"), ETA_EINVAL, "rolling: 'std' needs a length of at least one row after the colon"},
        {SMALL(", rolling='std:0'"), ETA_EINVAL, "rolling: 'std:0' needs a length"},
        {SMALL(", rolling='std:-1'"), ETA_EINVAL, "rolling: 'std:-1' needs a length"},
        {SMALL(", rolling='std:99999999999999999999999'"), ETA_EINVAL, "rolling: 'std:99999999999999999999999' needs"},
        {SMALL(", rolling=3"), ETA_EINVAL, "rolling: expected 'STAT:N' such as 'std:20', got 3"},
        {"CSV('head.csv', features='close', target='close', task='regression', rolling='std:2', drop='date')", ETA_EINVAL,
         "rolling: statistics of the window need window=W > 0"},
        {SMALL(", target_transform='abss'"), ETA_EINVAL, "target_transform: unknown value 'abss'; did you mean abs?"},
        {SMALL(", target_transform=1"), ETA_EINVAL, "target_transform"},
        {"CSV('head.csv', features='close', target='close', target_transform='abs', window=2)", ETA_EINVAL,
         "target_transform='abs' needs task='regression'"},
        /* the date column's content */
        {"CSV('bad.csv', target='close', task='regression', window=1, split='date', cuts='2000-01-04,2000-01-05')", ETA_EFORMAT,
         "bad.csv:3: field 1 ('date'): expected a date YYYY-MM-DD, got '2000-1-4'"},
        {"CSV('feb.csv', target='close', task='regression', window=1, split='date', cuts='2001-03-01,2001-03-05')", ETA_EFORMAT,
         "feb.csv:3: field 1 ('date'): expected a date YYYY-MM-DD, got '2001-02-29'"},
        {"CSV('back.csv', target='close', task='regression', window=1, split='date', cuts='2000-01-04,2000-01-05')", ETA_EFORMAT,
         "back.csv:3: date 20000103 is not after 20000104 on line 2 (split='date' needs the rows in increasing date order)"},
        {"CSV('nodate.csv', target='close', task='regression', window=1, split='date', cuts='2000-01-04,2000-01-05')", ETA_EINVAL,
         "date: nodate.csv has no column 'date'; valid columns: when, close"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_open_error(cases[i].spec, dir, cases[i].code, cases[i].msg, NULL);
    rm_tmp_dir(dir);
}

/* Garbage in each new argument: an error naming the argument (or, for a
 * value that happens to be valid, a data set), never a crash. Run under
 * the dev preset's ASan and UBSan. */
static void test_series_garbage(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    put_text(dir, "head.csv", head13);
    static const char *const args[] = {"split", "date", "cuts", "rolling", "target_transform"};
    static const char *const values[] = {
        "None", "True", "0", "-1", "1e308", "-1e308", "nan", "''", "' '", "','", "',,'", "'date'", "'abs'",
        "'std:3'", "':'", "'std:'", "':3'", "'std:3,'", "'std:3:3'", "'std:03'", "'abs_mean:1,mean:1,std:1'",
        "'mean:1,mean:1,mean:1,mean:1,mean:1,mean:1,mean:1,mean:1,mean:1,mean:1,mean:1,mean:1,mean:1,mean:1,"
        "mean:1,mean:1,mean:1'",
        "'2000-01-10,2000-01-12'", "'2000-01-10,'", "'0000-00-00,9999-99-99'", "'2000-02-30,2000-03-01'",
        "'2000-01-10T00:00,2000-01-12'", "('2000-01-10',)", "[]", "()", "[1, 2]", "[None, None]", "[[1]]",
        "{'a': 1}", "f(1)", "x", "'\\u00e9'", "'date,close'", "['date']", "'ordered'", "'random'", "'stratified'",
        "'" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "'",
    };
    char spec[1024];
    int opened = 0, failed = 0;
    for (size_t a = 0; a < sizeof args / sizeof args[0]; a++)
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
            /* with and without a valid split='date' around the argument */
            for (int with = 0; with < 2; with++) {
                snprintf(spec, sizeof spec, SMALL("%s, %s=%s"),
                         with && strcmp(args[a], "split") ? (strcmp(args[a], "cuts") ? ", split='date', cuts='2000-01-10,2000-01-12'" : ", split='date'") : "",
                         args[a], values[v]);
                eta_dataset *ds = NULL;
                eta_err err;
                int rc = eta_data_open(&ds, spec, dir, &err);
                if (rc == 0) {
                    opened++;
                    eta_data_free(ds);
                    continue;
                }
                failed++;
                assert_null(ds);
                assert_true(rc < 0);
                /* the message names the argument */
                if (!strstr(err.msg, args[a]))
                    fail_msg("%s: message \"%s\" does not name %s", spec, err.msg, args[a]);
            }
        }
    assert_true(opened > 0 && failed > 0);
    rm_tmp_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_series_by_hand),
        cmocka_unit_test(test_series_sp500),
        cmocka_unit_test(test_series_errors),
        cmocka_unit_test(test_series_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
