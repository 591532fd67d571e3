/* tests/test_configs.c - the shipped configs (every .ini file in configs/)
 * cannot rot: each one is
 * read and checked against the schema (eta_config_read, eta_config_check),
 * its data set opens, and `eta train` builds its run and trains two steps
 * at one thread into a temporary folder; docs/configs.md describes each.
 * A config whose data is not installed (the folder tools/fetch-data.sh or
 * ./bootstrap fills is absent) is skipped with a message; a missing file in
 * a folder that is there is a failure (a path in the config gone wrong).
 * labels: cli full
 */
#include "data_harness.h"

#include <dirent.h>
#include <string.h>

#include "train/config.h"

enum { MAX_CONFIGS = 64 };

/* snprintf into an array, failing the test when it does not fit. */
#define FMT(buf, ...)                                                                                  \
    do {                                                                                               \
        int n_ = snprintf((buf), sizeof(buf), __VA_ARGS__);                                            \
        if (n_ < 0 || (size_t)n_ >= sizeof(buf))                                                       \
            fail_msg("%s:%d: a path or command longer than %zu bytes", __FILE__, __LINE__, sizeof(buf)); \
    } while (0)

static const char *source_dir(void)
{
    const char *d = getenv("ETA_SOURCE_DIR");
    return d && *d ? d : ".";
}

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The names of the .ini files in configs/, sorted; returns the count. */
static int list_configs(char names[][256], int max)
{
    char dir[2048];
    FMT(dir, "%s/configs", source_dir());
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s (ETA_SOURCE_DIR)", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len > 4 && !strcmp(e->d_name + len - 4, ".ini")) {
            assert_true(n < max && len < 256);
            memcpy(names[n++], e->d_name, len + 1);
        }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], by_name);
    return n;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The folder an installation fills for the data set of spec: the folder of
 * each quoted path (relative ones from data_dir()), else the default root of
 * FashionMNIST() or Text(). Writes the first one that is absent to missing
 * and returns false; true when every one is there. */
static bool data_installed(const char *spec, char *missing, size_t n)
{
    bool quoted = false;
    for (const char *s = spec; (s = strchr(s, '\''));) {
        const char *end = strchr(s + 1, '\'');
        if (!end)
            break;
        const char *slash = NULL;
        for (const char *c = s + 1; c < end; c++)
            if (*c == '/')
                slash = c;
        if (slash) {
            quoted = true;
            int len = (int)(slash - (s + 1));
            if (s[1] == '/')
                snprintf(missing, n, "%.*s", len, s + 1);
            else
                snprintf(missing, n, "%s/%.*s", data_dir(), len, s + 1);
            if (!exists(missing))
                return false;
        }
        s = end + 1;
    }
    if (!quoted) {
        const char *def = strstr(spec, "FashionMNIST") ? FMNIST_DIR : strstr(spec, "Text") ? "/usr/share/dasher" : NULL;
        if (def && !exists(def)) {
            snprintf(missing, n, "%s", def);
            return false;
        }
    }
    return true;
}

/* Reads configs/name into path, checks it against the schema (failing the
 * test on any error) and copies its data spec. */
static void read_config(const char *name, char *path, size_t path_size, char *spec, size_t spec_size)
{
    int k = snprintf(path, path_size, "%s/configs/%s", source_dir(), name);
    assert_true(k > 0 && (size_t)k < path_size);
    eta_config *c;
    eta_err err;
    if (eta_config_read(&c, path, &err))
        fail_msg("%s: %s", name, err.msg);
    if (eta_config_check(c, &err))
        fail_msg("%s: %s", name, err.msg);
    const char *s = eta_config_get(c, "data", "spec");
    assert_non_null(s);
    k = snprintf(spec, spec_size, "%s", s);
    assert_true(k > 0 && (size_t)k < spec_size);
    eta_config_free(c);
}

/* Every config reads and passes the schema's checks: no data needed. */
static void test_configs_read_and_check(void **state)
{
    (void)state;
    static char names[MAX_CONFIGS][256];
    int n = list_configs(names, MAX_CONFIGS);
    assert_true(n >= 10); /* fmnist-mlp, fmnist-cnn, five scikit-learn sets, sp500, sentiment, text-lm */
    for (int i = 0; i < n; i++) {
        char path[2048], spec[4096];
        read_config(names[i], path, sizeof path, spec, sizeof spec);
    }
    print_message("%d configs read and checked\n", n);
}

/* Every config has a row in docs/configs.md's table and a paragraph. */
static void test_configs_documented(void **state)
{
    (void)state;
    static char names[MAX_CONFIGS][256];
    int n = list_configs(names, MAX_CONFIGS);
    char path[2048];
    FMT(path, "%s/docs/configs.md", source_dir());
    char *doc = read_file(path, NULL);
    if (!doc)
        fail_msg("cannot read %s", path);
    for (int i = 0; i < n; i++) {
        char needle[300];
        FMT(needle, "**%s**", names[i]); /* its paragraph */
        if (!strstr(doc, needle))
            fail_msg("docs/configs.md has no paragraph on configs/%s", names[i]);
        FMT(needle, "| `%s` |", names[i]); /* its row of the table */
        if (!strstr(doc, needle))
            fail_msg("docs/configs.md's table has no row for configs/%s", names[i]);
    }
    free(doc);
}

/* Every config's data set opens and its run trains two steps. */
static void test_configs_train_two_steps(void **state)
{
    (void)state;
    static char names[MAX_CONFIGS][256];
    int n = list_configs(names, MAX_CONFIGS), ran = 0, skipped = 0;
    char *tmp = tmp_dir();
    for (int i = 0; i < n; i++) {
        char path[2048], spec[4096], missing[2048];
        read_config(names[i], path, sizeof path, spec, sizeof spec);
        if (!data_installed(spec, missing, sizeof missing)) {
            print_message("skipped %s: %s not found (%s; %s)\n", names[i], missing, HOW_FETCH, HOW_DEBIAN);
            skipped++;
            continue;
        }
        eta_dataset *ds;
        eta_err err;
        if (eta_data_open(&ds, spec, data_dir(), &err))
            fail_msg("%s: the data set does not open: %s", names[i], err.msg);
        eta_data_free(ds);
        char args[4096], *out = NULL, *errtext = NULL;
        FMT(args, "train '%s' --set train.steps=2 --set train.threads=1 --set output.dir='%s/%d' --progress off",
            path, tmp, i);
        int rc = run_eta(args, &out, &errtext);
        if (rc != 0)
            fail_msg("%s: eta train exited %d: %s", names[i], rc, errtext ? errtext : "");
        char model[2048];
        FMT(model, "%s/%d/model.safetensors", tmp, i);
        if (!exists(model))
            fail_msg("%s: no %s after the run", names[i], model);
        free(out);
        free(errtext);
        ran++;
    }
    rm_tmp_dir(tmp);
    print_message("%d configs trained two steps, %d skipped (data not installed)\n", ran, skipped);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_configs_read_and_check),
        cmocka_unit_test(test_configs_documented),
        cmocka_unit_test(test_configs_train_two_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
