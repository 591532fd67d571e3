/* cli/cmd_train.c - `eta train CONFIG`: a training run from an INI config
 * (docs/config.md), any key overridden with --set; `eta train --resume
 * RUN_DIR` continues a run from its checkpoint, bit for bit. Progress on
 * stderr; metrics, plots, checkpoints and the model in the run directory.
 * Shared with `eta demo`: cli_train_run, the whole of a run from a config.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "dist/dist.h"
#include "cli/run_cli.h"
#include "tune/lrfind.h"

static const char *const CMD = "train";

enum { MAX_SETS = 64 };

static void help(void)
{
    printf("usage: eta train CONFIG [--set SECTION.KEY=VALUE]... [--dir DIR] [--progress MODE]\n"
           "       eta train --resume RUN_DIR\n"
           "       eta train --list-keys\n\n"
           "Trains a model as the INI file CONFIG says ([data], [model], [optimizer],\n"
           "[schedule], [train], [guard], [dist], [output]; docs/config.md, --list-keys).\n"
           "Progress goes to stderr (a bar on a terminal, plain lines otherwise); the run\n"
           "directory (default runs/<config name>) receives config.ini (resolved),\n"
           "metrics.csv, metrics.jsonl, loss.png, lr.png, grad_norm.png, checkpoint.eta and,\n"
           "at the end, model.safetensors, which PyTorch's load_state_dict takes.\n\n"
           "  eta train configs/fmnist-mlp.ini --set optimizer='SGD(lr=0.05, momentum=0.9)'\n"
           "  eta train configs/fmnist-mlp.ini --set train.epochs=1 --set output.dir=runs/try\n\n"
           "Under mpirun the processes share each batch ([dist]; docs/distributed.md): with\n"
           "[dist] shards fixed, any number of processes ends with the same bits as one.\n"
           "Rank 0 writes the run directory; a killed process ends the job, and --resume\n"
           "continues on any number of processes.\n\n"
           "  mpirun -np 2 eta train configs/fmnist-mlp.ini\n\n"
           "options:\n"
           "  --set K=V        overrides a key (repeatable); SECTION=SPEC sets SECTION.spec:\n"
           "                   --set optimizer='AdamW(lr=3e-3)' --set train.epochs=3\n"
           "  --dir DIR        the run directory (as --set output.dir=DIR)\n"
           "  --resume DIR     continues the run in DIR from its last checkpoint\n"
           "  --progress MODE  auto (default), bar, lines or off\n"
           "  --quiet          no progress and no summary\n"
           "  --list-keys      every section and key with its default\n"
           "  --help           this text\n"
           "exit status: 0 trained, 1 the run failed (the guard stopped it, a file could not\n"
           "be read or written), 2 bad usage or config\n");
}

static void list_keys(void)
{
    const char *last = "";
    for (int i = 0, n = eta_config_key_count(); i < n; i++) {
        const eta_config_key *k = eta_config_key_at(i);
        if (strcmp(k->section, last))
            printf("%s[%s]\n", i ? "\n" : "", k->section);
        last = k->section;
        printf("  %-18s = %-16s %s\n", k->key, k->def && *k->def ? k->def : "''", k->doc);
    }
}

int cli_run_report(const char *cmd, const char *full, const eta_err *err, int rc)
{
    fprintf(stderr, "eta %s: %s\n", cmd, full && *full ? full : err->msg[0] ? err->msg : eta_strerror(rc));
    return rc == ETA_EINVAL || rc == ETA_EFORMAT ? EXIT_USAGE : EXIT_RUN;
}

const char *cli_data_dir(void)
{
    const char *d = getenv("ETA_DATA_DIR");
    return d && *d ? d : ETA_DEFAULT_DATA_DIR;
}

/* optimizer.lr = auto: the range test before training, its pick on stderr
 * (tune/lrauto.c writes the evidence into the run directory); with
 * optimizer.auto = sweep, the test and a sweep (cli/lr_sweep.c). */
static int lr_auto(const char *cmd, eta_run *r, const eta_config *cfg, bool quiet)
{
    eta_err err;
    eta_lr_auto_report rep;
    const char *how = eta_config_get(cfg, "optimizer", "auto");
    if (eta_run_lr_pending(r) && how && !strcmp(how, "sweep"))
        return cli_lr_auto_sweep(cmd, r, cfg, quiet);
    int rc = eta_lr_auto(r, cfg, &rep, &err);
    if (rc == 1)
        return EXIT_OK;
    if (rc) /* bad [lr_find] settings: 2; a test that ran and gave no rate: 1 */
        return cli_run_report(cmd, NULL, &err, rc == ETA_EINVAL ? rc : ETA_EIO);
    if (!quiet)
        fprintf(stderr, "eta %s: lr = auto: the range test (%lld batches%s) picks %.3g (%s) as the peak rate, "
                        "the specs' was %.3g; %s/lr_auto.txt\n",
                cmd, (long long)rep.points, rep.stopped ? ", stopped early" : "", rep.lr,
                eta_lr_rule_name(rep.rule), rep.spec_peak, eta_run_dir(r));
    return EXIT_OK;
}

int cli_train_run(const char *cmd, eta_config *cfg, const eta_run_options *opts_in)
{
    eta_err err;
    eta_run *r;
    char full[2048] = "";
    eta_run_options o = *opts_in;
    if (!o.data_dir)
        o.data_dir = cli_data_dir();
    o.msg = full;
    o.msg_size = sizeof full;
    const eta_run_options *opts = &o;
    int rc = eta_config_check(cfg, &err);
    if (rc)
        return cli_run_report(cmd, NULL, &err, rc);
    eta_run_comm *comm = NULL; /* under mpirun: the processes share each step (src/dist) */
    if (eta_dist_active()) {
        if ((rc = eta_dist_comm_new(&comm, cfg, &err)))
            return cli_run_report(cmd, NULL, &err, rc);
        o.comm = comm;
        o.quiet = o.quiet || eta_dist_rank() != 0;
    }
    rc = eta_run_new(&r, cfg, opts, &err);
    if (rc) {
        eta_dist_comm_free(comm);
        return cli_run_report(cmd, full, &err, rc);
    }
    if (opts->resume) {
        char path[1100];
        snprintf(path, sizeof path, "%s/checkpoint.eta", eta_run_dir(r));
        if ((rc = eta_run_load(r, path, &err))) {
            eta_run_free(r);
            eta_dist_comm_free(comm);
            /* a missing, damaged or foreign checkpoint is a run that cannot go on (1), not bad usage */
            return cli_run_report(cmd, NULL, &err, ETA_EIO);
        }
    }
    if (!opts->resume && (rc = lr_auto(cmd, r, cfg, opts->quiet)) != EXIT_OK) {
        eta_run_free(r);
        eta_dist_comm_free(comm);
        return rc;
    }
    rc = eta_run_fit(r, &err);
    if (rc) {
        eta_run_free(r);
        eta_dist_comm_free(comm);
        /* a run that started and failed: 1; the guard's report in full when it stopped the run */
        return cli_run_report(cmd, full, &err, ETA_EIO);
    }
    double tl, ta;
    eta_run_test_result(r, &tl, &ta);
    if (!opts->quiet) {
        fprintf(stderr, "eta %s: done after %lld steps", cmd, (long long)eta_run_step_count(r));
        if (tl == tl)
            fprintf(stderr, "; test loss %.4f", tl);
        if (ta == ta)
            fprintf(stderr, ", test accuracy %.2f%%", 100 * ta);
        fprintf(stderr, "\n  %s/model.safetensors, metrics.csv, loss.png, lr.png, grad_norm.png\n", eta_run_dir(r));
    }
    eta_run_free(r);
    eta_dist_comm_free(comm);
    return EXIT_OK;
}

/* An error reading the config file: "eta train: file:line:col: message"
 * and, when it points into the file, that line with a caret under the
 * culprit (err->pos is a byte offset in the file). */
static void read_error(const char *path, const eta_err *err)
{
    void *data = NULL;
    size_t n = 0;
    eta_err e2;
    if (err->pos < 0 || eta_file_read_all(path, &data, &n, &e2) || (size_t)err->pos > n) {
        fprintf(stderr, "eta %s: %s\n", CMD, err->msg);
        free(data);
        return;
    }
    const char *t = data, *ls = t + err->pos, *le = ls;
    while (ls > t && ls[-1] != '\n')
        ls--;
    while (le < t + n && *le != '\n' && *le != '\r')
        le++;
    char *line = malloc((size_t)(le - ls) + 1), buf[4096];
    if (line) {
        memcpy(line, ls, (size_t)(le - ls));
        line[le - ls] = 0;
        eta_err e = *err;
        e.pos = (int)(t + err->pos - ls);
        eta_err_format(&e, line, buf, sizeof buf);
    }
    fprintf(stderr, "eta %s: %s\n", CMD, line ? buf : err->msg);
    free(line);
    free(data);
}

int cmd_train(int argc, char **argv)
{
    const char *sets[MAX_SETS], *dir = NULL, *resume = NULL, *progress = NULL, *pos[1];
    int nsets = 0, npos = 0;
    bool quiet = false, keys = false;
    const cli_opt opts[] = {
        {"set", true, NULL, NULL}, /* taken out below; listed for --help's and hints' sake */
        {"dir", true, &dir, NULL},
        {"resume", true, &resume, NULL},
        {"progress", true, &progress, NULL},
        {"quiet", false, NULL, &quiet},
        {"list-keys", false, NULL, &keys},
    };
    if (!cli_take_repeated(CMD, "set", &argc, argv, sets, MAX_SETS, &nsets))
        return EXIT_USAGE;
    int done = cli_parse_opts(CMD, argc, argv, opts, sizeof opts / sizeof opts[0], help, pos, 1, &npos);
    if (done != CLI_CONTINUE)
        return done;
    if (keys) {
        list_keys();
        return EXIT_OK;
    }
    eta_run_options ro = {.resume = resume != NULL, .progress = -1, .quiet = quiet};
    if (progress) {
        static const char *const modes[] = {"auto", "bar", "lines", "off"}; /* eta_progress_mode's order */
        for (int i = 0; i < 4; i++)
            if (!strcmp(progress, modes[i]))
                ro.progress = i;
        if (ro.progress < 0)
            return cli_usage_error(CMD, "--progress: '%s' is not a mode (auto, bar, lines, off)", progress);
    }
    char path[1100];
    if (resume) {
        if (npos || nsets || dir)
            return cli_usage_error(CMD, "--resume takes the run directory alone: its config.ini is the config "
                                        "(a resumed run runs the same config)");
        snprintf(path, sizeof path, "%s/config.ini", resume);
        ro.dir = resume;
    } else {
        if (npos != 1)
            return cli_usage_error(CMD, "expected one config file, such as configs/fmnist-mlp.ini "
                                        "(or --resume RUN_DIR; see --help)");
        snprintf(path, sizeof path, "%s", pos[0]);
    }
    eta_err err;
    eta_config *cfg;
    int rc = eta_config_read(&cfg, path, &err);
    if (rc) {
        read_error(path, &err);
        return resume && rc == ETA_EIO ? EXIT_RUN : EXIT_USAGE;
    }
    for (int i = 0; i < nsets; i++)
        if ((rc = eta_config_set(cfg, sets[i], &err))) {
            cli_spec_error(CMD, NULL, sets[i], &err); /* the assignment, a caret under the culprit */
            eta_config_free(cfg);
            return EXIT_USAGE;
        }
    if (dir) { /* kept in the run's config.ini, so that a resume finds it */
        char set[1100];
        snprintf(set, sizeof set, "output.dir=%s", dir);
        if ((rc = eta_config_set(cfg, set, &err))) {
            fprintf(stderr, "eta %s: --dir: %s\n", CMD, err.msg);
            eta_config_free(cfg);
            return EXIT_USAGE;
        }
    }
    rc = cli_train_run(CMD, cfg, &ro);
    eta_config_free(cfg);
    return rc;
}
