/* cli/cmd_data.c - `eta data SPEC|CONFIG`: what eta makes of a data set,
 * the splits, shapes, classes, vocabulary and standardisation, as `eta
 * train` would open it; `--dump SPLIT` prints a split as CSV, each example
 * as the model sees it (its source index first), so that another program
 * (a PyTorch twin, a notebook) can train on exactly eta's split. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/run_cli.h"
#include "core/fmt.h"

static const char *const CMD = "data";

static void help(void)
{
    printf("usage: eta data SPEC|CONFIG [--dump train|val|test [--index-only]] [--vocab]\n\n"
           "Opens a data set as `eta train` would (a spec, docs/data.md, or a config's [data]\n"
           "spec) and prints what eta made of it: the examples in each split, the input and\n"
           "target shapes, the classes, the vocabulary's size and the standardisation taken\n"
           "from the training split.\n\n"
           "  eta data configs/sentiment.ini\n"
           "  eta data \"CSV('sklearn/wine_data.csv', split='stratified')\" --dump test\n\n"
           "options:\n"
           "  --dump SPLIT   print the split as CSV: index (the source example: CSV row, image\n"
           "                 in its file, sentence, text offset), the target(s) y0.., then the\n"
           "                 input x0.. exactly as the model gets it (after standardisation;\n"
           "                 token ids for text), float32 values with 9 significant digits\n"
           "  --index-only   with --dump: the index and the target(s) only\n"
           "  --vocab        print the vocabulary, id,token per line\n"
           "  --help         this text\n"
           "Relative paths in specs start at $ETA_DATA_DIR or the data folder.\n"
           "exit status: 0 done, 1 the data could not be read, 2 bad usage or spec\n");
}

static int64_t numel(const int64_t *shape, int ndim)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

static void print_shape(const int64_t *shape, int ndim)
{
    printf("[");
    for (int i = 0; i < ndim; i++)
        printf("%s%lld", i ? ", " : "", (long long)shape[i]);
    printf("]");
}

static void summary(const eta_dataset *ds)
{
    const eta_data_info *in = eta_data_get_info(ds);
    static const char *const names[3] = {"train", "val", "test"};
    printf("data: %s\n", in->name);
    for (int s = 0; s < 3; s++)
        printf("%s: %lld examples\n", names[s], (long long)in->size[s]);
    printf("input: %s ", in->tokens ? "int32 token ids" : "float32");
    print_shape(in->input_shape, in->input_ndim);
    printf("\ntarget: %s ", in->class_target ? "int32 class" : "float32");
    print_shape(in->target_shape, in->target_ndim);
    printf("\n");
    if (in->classes > 0) {
        printf("classes: %d", in->classes);
        for (int k = 0; k < in->classes && k < 20; k++) {
            const char *c = eta_data_class_name(ds, k);
            printf("%s%s", k ? ", " : " (", c ? c : "?");
        }
        printf("%s\n", in->classes > 20 ? ", ...)" : ")");
    }
    if (in->vocab > 0)
        printf("vocab: %lld ids (padding id %lld)\n", (long long)in->vocab, (long long)in->padding_idx);
    const double *mean, *std;
    int64_t n = eta_data_input_stats(ds, &mean, &std);
    if (n > 0)
        printf("inputs standardised: (x - mean) / std, %lld statistic%s from the training split; first mean "
               "%.6g, std %.6g\n",
               (long long)n, n > 1 ? "s" : "", mean[0], std[0]);
    n = eta_data_target_stats(ds, &mean, &std);
    if (n > 0)
        printf("targets standardised: mean %.6g, std %.6g (from the training split)\n", mean[0], std[0]);
}

/* The split as CSV, a chunk of examples at a time. */
static int dump(const eta_dataset *ds, eta_split split, bool index_only, eta_err *err)
{
    const eta_data_info *in = eta_data_get_info(ds);
    int64_t n;
    const int64_t *src = eta_data_split_index(ds, split, &n);
    int64_t nx = numel(in->input_shape, in->input_ndim), ny = numel(in->target_shape, in->target_ndim);
    enum { CHUNK = 256 };
    void *x = malloc((size_t)(CHUNK * nx) * 4), *y = malloc((size_t)(CHUNK * ny) * 4);
    int64_t *idx = malloc(CHUNK * sizeof *idx);
    int rc = x && y && idx ? ETA_OK : ETA_ENOMEM;
    printf("index");
    for (int64_t j = 0; j < ny; j++)
        printf(",y%lld", (long long)j);
    for (int64_t j = 0; !index_only && j < nx; j++)
        printf(",x%lld", (long long)j);
    printf("\n");
    for (int64_t at = 0; !rc && at < n; at += CHUNK) {
        int64_t m = n - at < CHUNK ? n - at : CHUNK;
        for (int64_t i = 0; i < m; i++)
            idx[i] = at + i;
        if ((rc = eta_data_gather(ds, split, idx, m, index_only ? NULL : x, y, err)))
            break;
        for (int64_t i = 0; i < m; i++) {
            printf("%lld", (long long)src[at + i]);
            for (int64_t j = 0; j < ny; j++) {
                if (in->class_target)
                    printf(",%d", ((const int32_t *)y)[i * ny + j]);
                else
                    printf(",%.9g", (double)((const float *)y)[i * ny + j]);
            }
            for (int64_t j = 0; !index_only && j < nx; j++) {
                if (in->tokens)
                    printf(",%d", ((const int32_t *)x)[i * nx + j]);
                else
                    printf(",%.9g", (double)((const float *)x)[i * nx + j]);
            }
            printf("\n");
        }
    }
    free(x);
    free(y);
    free(idx);
    return rc;
}

int cmd_data(int argc, char **argv)
{
    const char *split_s = NULL, *pos[1];
    bool index_only = false, vocab = false;
    const cli_opt opts[] = {{"dump", true, &split_s, NULL},
                            {"index-only", false, NULL, &index_only},
                            {"vocab", false, NULL, &vocab}};
    int npos = 0;
    int done = cli_parse_opts(CMD, argc, argv, opts, sizeof opts / sizeof opts[0], help, pos, 1, &npos);
    if (done != CLI_CONTINUE)
        return done;
    if (npos != 1)
        return cli_usage_error(CMD, "expected one data spec or config, such as configs/sentiment.ini or "
                                    "\"FashionMNIST(flatten=True)\" (see --help)");
    eta_split split = ETA_SPLIT_TRAIN;
    if (split_s) {
        if (!strcmp(split_s, "val"))
            split = ETA_SPLIT_VAL;
        else if (!strcmp(split_s, "test"))
            split = ETA_SPLIT_TEST;
        else if (strcmp(split_s, "train"))
            return cli_usage_error(CMD, "--dump: '%s' is not a split (train, val, test)", split_s);
    }
    if (index_only && !split_s)
        return cli_usage_error(CMD, "--index-only goes with --dump SPLIT");
    eta_err err;
    const char *spec = pos[0];
    eta_config *cfg = NULL;
    size_t len = strlen(spec);
    if (len > 4 && !strcmp(spec + len - 4, ".ini")) { /* a config: its [data] spec */
        if (eta_config_read(&cfg, spec, &err))
            return cli_usage_error(CMD, "%s", err.msg);
        spec = eta_config_get(cfg, "data", "spec");
        if (!spec || !*spec) {
            eta_config_free(cfg);
            return cli_usage_error(CMD, "%s has no [data] spec", pos[0]);
        }
    }
    eta_dataset *ds;
    int rc = eta_data_open(&ds, spec, cli_data_dir(), &err);
    if (rc) {
        int code = cli_spec_error(CMD, NULL, spec, &err);
        eta_config_free(cfg);
        return rc == ETA_EINVAL ? code : EXIT_RUN;
    }
    if (split_s)
        rc = dump(ds, split, index_only, &err);
    else if (vocab)
        for (int64_t id = 0; id < eta_data_get_info(ds)->vocab; id++) {
            printf("%lld,", (long long)id);
            eta_fmt_csv_field(stdout, eta_data_token(ds, id));
            printf("\n");
        }
    else
        summary(ds);
    if (rc)
        fprintf(stderr, "eta %s: %s\n", CMD, err.msg);
    eta_data_free(ds);
    eta_config_free(cfg);
    return rc ? EXIT_RUN : EXIT_OK;
}
