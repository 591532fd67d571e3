/* test_data_csv.c - the CSV reader and data set. labels: unit full
 *
 * On scikit-learn's files (data/sklearn, from tools/fetch-data.sh; skipped
 * when absent): counts, classes and class names from the odd first line
 * ("150,4,setosa,versicolor,virginica"), the defaults, standardisation with
 * statistics from the training split only (the test computes them itself
 * from eta_table_read's matrix), stratified splits with exact per-class
 * counts (worked out by hand in the test), one-hot targets, a regression
 * target in its own file (diabetes). On the S&P 500 daily prices
 * (vega-datasets): the date column, log returns and windows, checked
 * against returns the test computes from the file's text. Constants from
 * Debian's Python: np.loadtxt(...) and np.bincount of the label column.
 * On small files written here: every error, with file, line and field.
 */
#include "data_harness.h"

#define IRIS "sklearn/iris.csv"
#define WINE "sklearn/wine_data.csv"
#define SP500 "node_modules/vega-datasets/data/sp500-2000.csv"

static void count_classes(const eta_dataset *ds, eta_split s, int64_t *count, int classes)
{
    void *x, *y;
    gather_all(ds, s, &x, &y);
    for (int c = 0; c < classes; c++)
        count[c] = 0;
    for (int64_t i = 0; i < eta_data_get_info(ds)->size[s]; i++)
        count[((int32_t *)y)[i]]++;
    free(x);
    free(y);
}

/* The examples of each class over the three splits. */
static void check_class_totals(const eta_dataset *ds, int classes, const int64_t *want)
{
    int64_t total[16] = {0}, count[16];
    for (int s = 0; s < 3; s++) {
        count_classes(ds, (eta_split)s, count, classes);
        for (int c = 0; c < classes; c++)
            total[c] += count[c];
    }
    for (int c = 0; c < classes; c++)
        assert_int_equal(total[c], want[c]);
}

static void test_csv_iris_defaults(void **state)
{
    (void)state;
    SKIP_UNLESS(data_file(IRIS), HOW_FETCH);
    eta_dataset *ds = open_ok("CSV('" IRIS "')", data_dir());
    const eta_data_info *in = eta_data_get_info(ds);
    assert_string_equal(in->name, "CSV");
    assert_int_equal(in->size[0], 90); /* val and test 0.2: ceil(0.2 * 150) each */
    assert_int_equal(in->size[1], 30);
    assert_int_equal(in->size[2], 30);
    assert_false(in->tokens);
    assert_int_equal(in->input_ndim, 1);
    assert_int_equal(in->input_shape[0], 4);
    assert_true(in->class_target);
    assert_int_equal(in->target_ndim, 0);
    assert_int_equal(in->classes, 3);
    assert_int_equal(in->vocab, 0);
    assert_int_equal(in->padding_idx, -1);
    assert_string_equal(eta_data_class_name(ds, 0), "setosa");
    assert_string_equal(eta_data_class_name(ds, 2), "virginica");
    check_partition(ds, 150);
    check_class_totals(ds, 3, (const int64_t[]){50, 50, 50});
    /* standardised by default: the training split has mean 0, std 1 */
    assert_int_equal(eta_data_input_stats(ds, NULL, NULL), 4);
    void *x, *y;
    gather_all(ds, ETA_SPLIT_TRAIN, &x, &y);
    for (int j = 0; j < 4; j++) {
        double m = 0, v = 0;
        for (int i = 0; i < 90; i++)
            m += ((float *)x)[i * 4 + j];
        m /= 90;
        for (int i = 0; i < 90; i++)
            v += (((float *)x)[i * 4 + j] - m) * (((float *)x)[i * 4 + j] - m);
        assert_true(fabs(m) < 1e-6 && fabs(sqrt(v / 90) - 1) < 1e-6);
    }
    free(x);
    free(y);
    /* every default written out gives the same bytes */
    eta_dataset *same = open_ok("CSV('" IRIS "', target=-1, features=None, drop=None, task='classification', "
                                "header='auto', sep=None, target_file=None, classes=None, onehot=False, "
                                "standardize=True, standardize_target=False, window=0, transform=None, val=0.2, "
                                "test=0.2, split=None, seed=0)",
                                data_dir());
    for (int s = 0; s < 3; s++) {
        void *x1, *y1, *x2, *y2;
        gather_all(ds, (eta_split)s, &x1, &y1);
        gather_all(same, (eta_split)s, &x2, &y2);
        assert_memory_equal(x1, x2, (size_t)in->size[s] * 16);
        assert_memory_equal(y1, y2, (size_t)in->size[s] * 4);
        free(x1), free(y1), free(x2), free(y2);
    }
    eta_data_free(same);
    eta_data_free(ds);
}

static void test_csv_standardize_from_train(void **state)
{
    (void)state;
    SKIP_UNLESS(data_file(WINE), HOW_FETCH);
    eta_table t;
    eta_err err;
    eta_table_options o = {1, 0};
    assert_int_equal(eta_table_read(&t, data_file(WINE), &o, &err), 0);
    assert_int_equal(t.rows, 178);
    assert_int_equal(t.cols, 14);
    eta_dataset *ds = open_ok("CSV('" WINE "', seed=5, val=0.1, test=0.3)", data_dir());
    int64_t ntr;
    const int64_t *tr = eta_data_split_index(ds, ETA_SPLIT_TRAIN, &ntr);
    double mean[13], sd[13];
    for (int j = 0; j < 13; j++) {
        double m = 0, v = 0;
        for (int64_t i = 0; i < ntr; i++)
            m += t.data[tr[i] * 14 + j];
        m /= (double)ntr;
        for (int64_t i = 0; i < ntr; i++)
            v += (t.data[tr[i] * 14 + j] - m) * (t.data[tr[i] * 14 + j] - m);
        mean[j] = m;
        sd[j] = sqrt(v / (double)ntr);
    }
    const double *gm, *gs;
    assert_int_equal(eta_data_input_stats(ds, &gm, &gs), 13);
    for (int j = 0; j < 13; j++) {
        assert_true(fabs(gm[j] - mean[j]) <= 1e-12 * fabs(mean[j]));
        assert_true(fabs(gs[j] - sd[j]) <= 1e-12 * sd[j]);
    }
    for (int s = 0; s < 3; s++) {
        int64_t n;
        const int64_t *ix = eta_data_split_index(ds, (eta_split)s, &n);
        void *x, *y;
        gather_all(ds, (eta_split)s, &x, &y);
        for (int64_t i = 0; i < n; i++) {
            for (int j = 0; j < 13; j++) {
                float want = (float)((t.data[ix[i] * 14 + j] - mean[j]) / sd[j]);
                if (((float *)x)[i * 13 + j] != want)
                    fail_msg("split %d row %lld col %d: got %.9g, want %.9g", s, (long long)ix[i], j,
                             ((float *)x)[i * 13 + j], want);
            }
            assert_int_equal(((int32_t *)y)[i], (int)t.data[ix[i] * 14 + 13]);
        }
        free(x);
        free(y);
    }
    eta_data_free(ds);
    /* standardize=False: the file's numbers as float32 */
    ds = open_ok("CSV('" WINE "', standardize=False)", data_dir());
    assert_int_equal(eta_data_input_stats(ds, NULL, NULL), 0);
    int64_t n;
    const int64_t *ix = eta_data_split_index(ds, ETA_SPLIT_TEST, &n);
    void *x, *y;
    gather_all(ds, ETA_SPLIT_TEST, &x, &y);
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < 13; j++)
            assert_true(((float *)x)[i * 13 + j] == (float)t.data[ix[i] * 14 + j]);
    free(x);
    free(y);
    eta_data_free(ds);
    eta_table_free(&t);
}

static void test_csv_stratified(void **state)
{
    (void)state;
    SKIP_UNLESS(data_file(WINE), HOW_FETCH);
    /* wine has 59, 71 and 48 of classes 0, 1, 2. test = ceil(0.2 * 178) = 36:
     * 36 * (59, 71, 48) / 178 = 11.93, 14.36, 9.71 -> 11, 14, 9 (34), and the
     * two largest remainders get one more: 12, 14, 10. val = 36 of the 142
     * left (47, 57, 38): 11.92, 14.45, 9.63 -> 12, 14, 10 alike. */
    eta_dataset *ds = open_ok("CSV('" WINE "', split='stratified', seed=11)", data_dir());
    check_partition(ds, 178);
    int64_t count[3];
    static const int64_t want[3][3] = {{35, 43, 28}, {12, 14, 10}, {12, 14, 10}};
    for (int s = 0; s < 3; s++) {
        count_classes(ds, (eta_split)s, count, 3);
        for (int c = 0; c < 3; c++)
            assert_int_equal(count[c], want[s][c]);
    }
    eta_data_free(ds);
}

static void test_csv_onehot_and_labels(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    /* one-hot target columns in the file, named in the header */
    put_text(dir, "hot.csv", "a,b,y0,y1,y2\n1,2,0,1,0\n3,4,1,0,0\n5,6,0,0,1\n7,8,0,1,0\n9,10,0,0,1\n");
    eta_dataset *ds = open_ok("CSV('hot.csv', target=['y0', 'y1', 'y2'], val=0, test=0, standardize=False)", dir);
    const eta_data_info *in = eta_data_get_info(ds);
    assert_int_equal(in->classes, 3);
    assert_int_equal(in->input_shape[0], 2);
    assert_string_equal(eta_data_class_name(ds, 1), "y1");
    void *x, *y;
    gather_all(ds, ETA_SPLIT_TRAIN, &x, &y);
    static const int32_t lab[5] = {1, 0, 2, 1, 2};
    assert_memory_equal(y, lab, sizeof lab);
    assert_true(((float *)x)[2] == 3.0f && ((float *)x)[3] == 4.0f);
    free(x), free(y);
    eta_data_free(ds);
    /* class names as labels, sorted into indices; onehot=True gives float rows */
    put_text(dir, "names.csv", "x,species\n1,b\n2,a\n3,c\n4,a\n5,b\n");
    ds = open_ok("CSV('names.csv', target='species', val=0, test=0, onehot=True)", dir);
    in = eta_data_get_info(ds);
    assert_int_equal(in->classes, 3);
    assert_false(in->class_target);
    assert_int_equal(in->target_ndim, 1);
    assert_int_equal(in->target_shape[0], 3);
    assert_string_equal(eta_data_class_name(ds, 0), "a");
    assert_string_equal(eta_data_class_name(ds, 2), "c");
    gather_all(ds, ETA_SPLIT_TRAIN, &x, &y);
    static const float hot[15] = {0, 1, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0};
    assert_memory_equal(y, hot, sizeof hot);
    free(x), free(y);
    eta_data_free(ds);
    rm_tmp_dir(dir);
    /* breast cancer: two classes, named by scikit-learn's first line */
    SKIP_UNLESS(data_file("sklearn/breast_cancer.csv"), HOW_FETCH);
    ds = open_ok("CSV('sklearn/breast_cancer.csv', onehot=True)", data_dir());
    in = eta_data_get_info(ds);
    assert_int_equal(in->input_shape[0], 30);
    assert_int_equal(in->size[0] + in->size[1] + in->size[2], 569);
    assert_string_equal(eta_data_class_name(ds, 0), "malignant");
    assert_string_equal(eta_data_class_name(ds, 1), "benign");
    int64_t benign = 0;
    for (int s = 0; s < 3; s++) {
        gather_all(ds, (eta_split)s, &x, &y);
        for (int64_t i = 0; i < in->size[s]; i++) {
            float a = ((float *)y)[2 * i], b = ((float *)y)[2 * i + 1];
            assert_true(a + b == 1.0f && (a == 0.0f || a == 1.0f));
            benign += b == 1.0f;
        }
        free(x), free(y);
    }
    assert_int_equal(benign, 357);
    eta_data_free(ds);
}

static void test_csv_digits_diabetes(void **state)
{
    (void)state;
    SKIP_UNLESS(data_file("sklearn/digits.csv.gz"), HOW_FETCH);
    /* digits: gzip, no header, label last */
    eta_dataset *ds = open_ok("CSV('sklearn/digits.csv.gz', split='stratified')", data_dir());
    const eta_data_info *in = eta_data_get_info(ds);
    assert_int_equal(in->input_shape[0], 64);
    assert_int_equal(in->classes, 10);
    check_partition(ds, 1797);
    check_class_totals(ds, 10, (const int64_t[]){178, 182, 177, 183, 181, 182, 181, 179, 174, 180});
    eta_data_free(ds);
    /* diabetes: blank-separated, the target in another file, regression */
    ds = open_ok("CSV('sklearn/diabetes_data_raw.csv.gz', target_file='sklearn/diabetes_target.csv.gz', "
                 "task='regression', standardize=False, val=0, test=0)",
                 data_dir());
    in = eta_data_get_info(ds);
    assert_int_equal(in->size[0], 442);
    assert_int_equal(in->input_shape[0], 10);
    assert_false(in->class_target);
    assert_int_equal(in->target_ndim, 1);
    assert_int_equal(in->target_shape[0], 1);
    assert_int_equal(in->classes, 0);
    float x[10], y;
    eta_err err;
    assert_int_equal(eta_data_gather(ds, ETA_SPLIT_TRAIN, (int64_t[]){0}, 1, x, &y, &err), 0);
    static const float row0[10] = {59, 2, 32.1f, 101, 157, 93.2f, 38, 4, 4.8598f, 87};
    assert_memory_equal(x, row0, sizeof row0);
    assert_true(y == 151.0f);
    eta_data_free(ds);
    /* standardize_target: the target's train statistics too */
    ds = open_ok("CSV('sklearn/diabetes_data_raw.csv.gz', target_file='sklearn/diabetes_target.csv.gz', "
                 "task='regression', standardize_target=True, seed=2)",
                 data_dir());
    const double *m, *s;
    assert_int_equal(eta_data_target_stats(ds, &m, &s), 1);
    void *xs, *ys;
    gather_all(ds, ETA_SPLIT_TRAIN, &xs, &ys);
    double mean = 0;
    for (int64_t i = 0; i < eta_data_get_info(ds)->size[0]; i++)
        mean += ((float *)ys)[i];
    assert_true(fabs(mean / (double)eta_data_get_info(ds)->size[0]) < 1e-6);
    assert_true(m[0] > 140 && m[0] < 165 && s[0] > 70 && s[0] < 85);
    free(xs), free(ys);
    eta_data_free(ds);
}

static void test_csv_sp500_window(void **state)
{
    (void)state;
    SKIP_UNLESS(data_file(SP500), HOW_FETCH);
    /* the closes, read here with sscanf: date,open,high,low,close,adjclose,volume */
    FILE *f = fopen(data_file(SP500), "r");
    assert_non_null(f);
    static double close[6000];
    int rows = 0;
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "date,open,high,low,close,adjclose,volume\n");
    while (fgets(line, sizeof line, f)) {
        double o, h, l;
        assert_int_equal(sscanf(line, "%*[^,],%lf,%lf,%lf,%lf", &o, &h, &l, &close[rows]), 4);
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 5105);
    /* the date is no number: the message says where and how to leave it out */
    expect_open_error("CSV('" SP500 "', target='close', task='regression')", data_dir(), ETA_EFORMAT,
                      "sp500-2000.csv:2: field 1 ('date'): expected a number, got '2000-01-03'",
                      "drop= leaves a column out", NULL);
    eta_dataset *ds = open_ok("CSV('" SP500 "', drop='date', features='close', target='close', task='regression', "
                              "window=20, transform='log_return', standardize=False)",
                              data_dir());
    const eta_data_info *in = eta_data_get_info(ds);
    int64_t n = rows - 21; /* a row for the first return, 20 for the first window */
    assert_int_equal(in->size[0] + in->size[1] + in->size[2], n);
    assert_int_equal(in->size[2], 1017); /* ceil(0.2 * 5084) */
    assert_int_equal(in->input_shape[0], 20);
    /* in time order: train, then val, then test; example i is data row 21 + i */
    int64_t at = 21;
    for (int s = 0; s < 3; s++) {
        int64_t k;
        const int64_t *ix = eta_data_split_index(ds, (eta_split)s, &k);
        void *x, *y;
        gather_all(ds, (eta_split)s, &x, &y);
        for (int64_t i = 0; i < k; i++, at++) {
            assert_int_equal(ix[i], at);
            for (int j = 0; j < 20; j++) {
                int64_t r = at - 20 + j;
                assert_true(((float *)x)[i * 20 + j] == (float)log(close[r] / close[r - 1]));
            }
            assert_true(((float *)y)[i] == (float)log(close[at] / close[at - 1]));
        }
        free(x), free(y);
    }
    /* hand-checked: math.log(1399.420044 / 1455.219971), the first return */
    float x0[20], y0;
    eta_err err;
    assert_int_equal(eta_data_gather(ds, ETA_SPLIT_TRAIN, (int64_t[]){0}, 1, x0, &y0, &err), 0);
    assert_true(x0[0] == (float)-0.03909917550586638);
    assert_true(y0 == (float)-0.00011356372325381405);
    eta_data_free(ds);
}

static void test_csv_formats(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    /* quotes, ';', comments, blank lines, CRLF, blanks around fields */
    put_text(dir, "q.csv", "# a comment\r\n\"x, one\" ; \"say \"\"hi\"\"\";label\r\n\r\n 1.5 ; 2 ; 0\r\n3;4;1\r\n"
                           "5 ;6;0\r\n7;\"8\";1\r\n");
    eta_dataset *ds = open_ok("CSV('q.csv', target='label', val=0, test=0, standardize=False, features=['x, one', "
                              "'say \"hi\"'])",
                              dir);
    void *x, *y;
    gather_all(ds, ETA_SPLIT_TRAIN, &x, &y);
    static const float wx[8] = {1.5f, 2, 3, 4, 5, 6, 7, 8};
    static const int32_t wy[4] = {0, 1, 0, 1};
    assert_memory_equal(x, wx, sizeof wx);
    assert_memory_equal(y, wy, sizeof wy);
    free(x), free(y);
    eta_data_free(ds);
    /* blank-separated without a header; columns by number, from the end too */
    put_text(dir, "w.txt", "1 2   3 0\n 4  5 6 1\n7 8 9 0  \n10 11 12 1\n");
    ds = open_ok("CSV('w.txt', target=3, drop=-3, val=0, test=0, standardize=False)", dir);
    gather_all(ds, ETA_SPLIT_TRAIN, &x, &y);
    static const float wx2[8] = {1, 3, 4, 6, 7, 9, 10, 12};
    assert_memory_equal(x, wx2, sizeof wx2);
    free(x), free(y);
    eta_data_free(ds);
    /* scikit-learn's header with a line of names after it; header=True/False */
    put_text(dir, "sk.csv", "3,2\nA,B,T\n1,2,0.5\n3,4,1.5\n5,6,2.5\n");
    ds = open_ok("CSV('sk.csv', target='T', task='regression', val=0, test=0, standardize=False)", dir);
    assert_int_equal(eta_data_get_info(ds)->size[0], 3);
    eta_data_free(ds);
    put_text(dir, "h.csv", "1,2,0\n3,4,1\n5,6,0\n");
    expect_open_error("CSV('h.csv', header=True, target='x')", dir, ETA_EINVAL, "h.csv has no column 'x'", NULL);
    expect_open_error("CSV('h.csv', header=True)", dir, ETA_EINVAL, "2 examples cannot give 1 for validation and 1 for test", NULL);
    ds = open_ok("CSV('h.csv', header=True, target='0', val=0, test=0)", dir); /* names "1", "2", "0" */
    assert_int_equal(eta_data_get_info(ds)->size[0], 2);
    eta_data_free(ds);
    ds = open_ok("CSV('h.csv', header=False, val=0, test=0)", dir);
    assert_int_equal(eta_data_get_info(ds)->size[0], 3);
    eta_data_free(ds);
    rm_tmp_dir(dir);
}

static void test_csv_errors(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    /* one small file each: its text, the spec, the code and the message */
    static const struct {
        const char *file, *text, *spec;
        int code;
        const char *msg;
    } cases[] = {
        {"ragged.csv", "a,b,c\n1,2,3\n4,5\n", NULL, ETA_EFORMAT, "ragged.csv:3: 2 fields, expected 3 as on line 1"},
        {"nan.csv", "a,b,y\n1,2,0\n1,nan,1\n", NULL, ETA_ENONFINITE, "nan.csv:3: field 2 ('b'): NaN feature 'nan'"},
        {"inf.csv", "a,b,y\n1,-inf,0\n1,2,1\n", NULL, ETA_ENONFINITE, "inf.csv:2: field 2 ('b'): infinite feature '-inf'"},
        {"empty.csv", "", NULL, ETA_EFORMAT, "empty.csv: empty file"},
        {"comments.csv", "# nothing\n\n", NULL, ETA_EFORMAT, "comments.csv: empty file"},
        {"head.csv", "a,b\n", NULL, ETA_EFORMAT, "head.csv: no data rows after the header"},
        {"field.csv", "a,b,y\n1,,0\n", NULL, ETA_EFORMAT, "field.csv:2: field 2 ('b'): empty field"},
        {"date.csv", "d,x,y\n2000-01-03,1,0\n", NULL, ETA_EFORMAT,
         "date.csv:2: field 1 ('d'): expected a number, got '2000-01-03' (drop= leaves a column out)"},
        {"quote.csv", "a,b\n\"1,2\n", NULL, ETA_EFORMAT, "quote.csv:2: field 1: unterminated quote"},
        {"after.csv", "a,b\n\"1\"x,2\n", NULL, ETA_EFORMAT, "after.csv:2: field 1: text after the closing quote"},
        /* labels */
        {"lab.csv", "a,y\n1,0\n2,1\n3,3\n4,2\n", "CSV('lab.csv', classes=3)", ETA_EFORMAT,
         "lab.csv:4: field 2 ('y'): label '3' out of range [0, 3)"},
        {"neg.csv", "a,y\n1,0\n2,-1\n", NULL, ETA_EFORMAT,
         "neg.csv:3: field 2 ('y'): label '-1' is not a class index 0, 1, ... (task='regression' for a numeric target)"},
        {"half.csv", "a,y\n1,0\n2,0.5\n", NULL, ETA_EFORMAT, "half.csv:3: field 2 ('y'): label '0.5' is not a class index"},
        {"one.csv", "a,y\n1,0\n2,0\n3,0\n", NULL, ETA_EFORMAT, "one.csv: only one class"},
        {"hot.csv", "a,p,q\n1,1,1\n", "CSV('hot.csv', target=['p', 'q'])", ETA_EFORMAT,
         "hot.csv:2: one-hot label with two 1s"},
        /* scikit-learn's header promises counts the data must keep */
        {"sk.csv", "3,2,a,b\n1,2,0\n3,4,1\n", NULL, ETA_EFORMAT, "sk.csv:1: the header promises 3 rows, the file has 2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char spec[128];
        snprintf(spec, sizeof spec, "CSV('%s')", cases[i].file);
        put_text(dir, cases[i].file, cases[i].text);
        expect_open_error(cases[i].spec ? cases[i].spec : spec, dir, cases[i].code, cases[i].msg, NULL);
    }
    put_file(dir, "nul.csv", "a,b\n1,2\n3\0,4\n", 13, false);
    expect_open_error("CSV('nul.csv')", dir, ETA_EFORMAT, "nul.csv:3: NUL byte at byte 9", NULL);
    /* columns and arguments */
    put_text(dir, "ok.csv", "alpha,beta,target\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,1,0\n");
    expect_open_error("CSV('ok.csv', target='targte')", dir, ETA_EINVAL, "target: ok.csv has no column 'targte'",
                      "did you mean target?", NULL);
    expect_open_error("CSV('ok.csv', drop='bta')", dir, ETA_EINVAL, "drop: ok.csv has no column 'bta'", "did you mean beta?",
                      NULL);
    expect_open_error("CSV('ok.csv', target=7)", dir, ETA_EINVAL, "target: column 7 is outside the 3 columns", NULL);
    expect_open_error("CSV('ok.csv', features=['alpha', 'target'])", dir, ETA_EINVAL, "features: column 2 is the target",
                      NULL);
    expect_open_error("CSV('ok.csv', drop=['alpha', 'beta'])", dir, ETA_EINVAL, "no feature columns left", NULL);
    expect_open_error("CSV('ok.csv', task='regresion')", dir, ETA_EINVAL, "task: unknown value 'regresion'",
                      "did you mean regression?", NULL);
    expect_open_error("CSV('ok.csv', task='regression', split='stratified')", dir, ETA_EINVAL,
                      "split='stratified' needs task='classification'", NULL);
    expect_open_error("CSV('ok.csv', sep='::')", dir, ETA_EINVAL, "sep must be", NULL);
    expect_open_error("CSV('ok.csv', val=0.5, test=0.5)", dir, ETA_EINVAL, "keep one for training", NULL);
    expect_open_error("CSV('ok.csv', val=1.5)", dir, ETA_EINVAL, "val must be in [0, 1), got 1.5", NULL);
    expect_open_error("CSV('ok.csv', window=5, task='regression')", dir, ETA_EINVAL, "5 rows leave 0 examples after the window",
                      NULL);
    put_text(dir, "zero.csv", "p,y\n1,0\n0,1\n2,0\n3,1\n");
    expect_open_error("CSV('zero.csv', transform='log_return')", dir, ETA_EFORMAT,
                      "zero.csv:3: field 1 ('p'): log_return needs positive values, got 0 after 1", NULL);
    expect_open_error("CSV('zero.csv', transform='pct_change')", dir, ETA_EFORMAT,
                      "zero.csv:4: field 1 ('p'): pct_change after a 0 on line 3", NULL);
    expect_open_error("CSV()", dir, ETA_EINVAL, "CSV() missing required argument 'path'", NULL);
    expect_open_error("CSV('ok.csv', targte='beta')", dir, ETA_EINVAL, "unexpected keyword argument 'targte'",
                      "did you mean target?", NULL);
    expect_open_error("CSV('missing.csv')", dir, ETA_EIO, "missing.csv: No such file or directory", NULL);
    /* a gzip stream cut short */
    char big[8192];
    size_t n = 0;
    uint32_t s = 7;
    n += (size_t)snprintf(big, sizeof big, "a,b,y\n");
    while (n < sizeof big - 64) {
        s = s * 1103515245u + 12345u;
        n += (size_t)snprintf(big + n, sizeof big - n, "%u,%u,%u\n", s >> 8, s >> 20, (s >> 9) & 1);
    }
    const char *path = put_file(dir, "cut.csv.gz", big, n, true);
    truncate_file(path, file_size(path) - 40);
    expect_open_error("CSV('cut.csv.gz')", dir, ETA_EFORMAT, "cut.csv.gz: gzip stream: unexpected end of file",
                      "truncated or corrupt", NULL);
    rm_tmp_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_iris_defaults),
        cmocka_unit_test(test_csv_standardize_from_train),
        cmocka_unit_test(test_csv_stratified),
        cmocka_unit_test(test_csv_onehot_and_labels),
        cmocka_unit_test(test_csv_digits_diabetes),
        cmocka_unit_test(test_csv_sp500_window),
        cmocka_unit_test(test_csv_formats),
        cmocka_unit_test(test_csv_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
