/* config_schema.c - the one table of a training config's keys, and the checks
 * of a value against its row.
 *
 * Names follow PyTorch and Lightning where they have one (batch_size,
 * drop_last, clip_grad_norm, accumulate as accumulate_grad_batches, interval
 * and monitor as in Lightning's lr_scheduler dict, patience, min_delta and
 * mode as in EarlyStopping). docs/config.md holds the same table, checked
 * against this one by tests/test_train_config.c. Reading and locating values
 * live in config_read.c and config.c.
 */
#include "train/config_impl.h"

#include "core/error.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG 2147483647.0 /* counts go into int-sized variables */
#define INF INFINITY

enum { REQ = ETA_CONFIG_REQUIRED, EMPTY = ETA_CONFIG_EMPTY_OK, DERIVED = ETA_CONFIG_DERIVED };
#define S ETA_CONFIG_STRING
#define SPEC ETA_CONFIG_SPEC
#define INT ETA_CONFIG_INT
#define REAL ETA_CONFIG_REAL
#define BOOL ETA_CONFIG_BOOL
#define ENUM ETA_CONFIG_ENUM
#define PATH ETA_CONFIG_PATH
#define LIST ETA_CONFIG_LIST

static const struct {
    const char *name;
    const char *doc;
} SECTIONS[] = {
    {"data", "the data set (a spec) and how it is cut into batches, as torch.utils.data.DataLoader"},
    {"model", "the network (an nn spec), its loss and the weights it starts from"},
    {"optimizer", "the optimizer (a spec, as torch.optim) and the parameters without weight decay"},
    {"schedule", "the learning-rate schedule (a spec, as torch.optim.lr_scheduler) and when it steps"},
    {"train", "length, seed, threads, gradient clipping and accumulation, evaluation, early stopping, "
              "weight averaging"},
    {"guard", "the divergence guard: what counts as diverging and what is done then"},
    {"dist", "data-parallel training under mpirun: shards, sharded optimizer state, buckets (docs/distributed.md)"},
    {"lr_find", "the learning-rate range test of eta lr-find and optimizer.lr = auto (docs/lrfind.md)"},
    {"output", "the run directory: checkpoints, plots and progress on the terminal"},
};
enum { NSECTIONS = (int)(sizeof SECTIONS / sizeof SECTIONS[0]) };

/* section, key, type, default, lo, hi, lo_open, hi_open, values, flags, doc */
static const eta_config_key KEYS[] = {
    {"data", "spec", SPEC, "", 0, 0, 0, 0, NULL, REQ,
     "the data set: FashionMNIST(...), CSV('wine.csv', target='target'), Sentiment(...), Text(...)"},
    {"data", "batch_size", INT, "64", 1, BIG, 0, 0, NULL, 0, "examples per training batch"},
    {"data", "eval_batch_size", INT, "data.batch_size", 1, BIG, 0, 0, NULL, DERIVED,
     "examples per batch when evaluating"},
    {"data", "shuffle", BOOL, "true", 0, 0, 0, 0, NULL, 0, "a new order of the training examples every epoch"},
    {"data", "drop_last", BOOL, "false", 0, 0, 0, 0, NULL, 0, "skip the last training batch of an epoch when short"},
    {"data", "prefetch", BOOL, "true", 0, 0, 0, 0, NULL, 0,
     "prepare the next batch on another thread while one trains"},
    {"model", "spec", SPEC, "", 0, 0, 0, 0, NULL, REQ,
     "the network: Sequential(Linear(784, 256), ReLU(), Linear(256, 10)), ..."},
    {"model", "loss", SPEC, "auto", 0, 0, 0, 0, NULL, 0,
     "the loss; auto: CrossEntropyLoss() for classes, MSELoss() otherwise"},
    {"model", "init", PATH, "", 0, 0, 0, 0, NULL, EMPTY,
     "a .safetensors file (state_dict names) to start from; empty: fresh weights"},
    {"optimizer", "spec", SPEC, "AdamW()", 0, 0, 0, 0, NULL, 0, "the optimizer: SGD(lr=0.1, momentum=0.9), ..."},
    {"optimizer", "lr", SPEC, "", 0, 0, 0, 0, NULL, EMPTY,
     "the run's peak rate (the schedule scaled to reach it); auto: the range test picks it; empty: the specs'"},
    {"optimizer", "auto", ENUM, "test", 0, 0, 0, 0, "test|sweep", 0,
     "how lr = auto decides: the range test's rule (lr_find.rule), or a successive-halving sweep over the "
     "rates the test brackets (lr_find.sweep_*)"},
    {"optimizer", "no_decay", LIST, "", 0, 0, 0, 0, NULL, EMPTY,
     "parameter name patterns (globs, such as *.bias) given weight_decay=0"},
    {"schedule", "spec", SPEC, "", 0, 0, 0, 0, NULL, EMPTY,
     "the learning-rate schedule: OneCycleLR(max_lr=0.01), ...; empty: constant lr"},
    {"schedule", "interval", ENUM, "step", 0, 0, 0, 0, "step|epoch", 0,
     "when the schedule advances: after every optimizer step or every epoch"},
    {"schedule", "monitor", S, "val_loss", 0, 0, 0, 0, NULL, 0, "the metric fed to ReduceLROnPlateau"},
    {"train", "epochs", INT, "10", 1, BIG, 0, 0, NULL, 0, "passes over the training split"},
    {"train", "steps", INT, "0", 0, INF, 0, 0, NULL, 0, "optimizer steps in all; 0: from epochs"},
    {"train", "seed", INT, "0", 0, INF, 0, 0, NULL, 0, "seed of every random stream (weights, order, dropout)"},
    {"train", "threads", INT, "0", 0, 1024, 0, 0, NULL, 0, "threads to compute with; 0: every core"},
    {"train", "clip_grad_norm", REAL, "0", 0, INF, 0, 0, NULL, 0,
     "scale gradients down to this global L2 norm (clip_grad_norm_); 0: off"},
    {"train", "clip_grad_value", REAL, "0", 0, INF, 0, 0, NULL, 0,
     "clamp each gradient to [-v, v] (clip_grad_value_); 0: off"},
    {"train", "accumulate", INT, "1", 1, BIG, 0, 0, NULL, 0, "batches whose gradients add up into one step"},
    {"train", "eval_every", INT, "0", 0, BIG, 0, 0, NULL, 0,
     "evaluate on the validation split every this many steps; 0: every epoch"},
    {"train", "log_every", INT, "50", 1, BIG, 0, 0, NULL, 0, "steps between metric rows and progress lines"},
    {"train", "early_stopping", BOOL, "false", 0, 0, 0, 0, NULL, 0,
     "stop when `monitor` has not improved for `patience` evaluations"},
    {"train", "monitor", S, "val_loss", 0, 0, 0, 0, NULL, 0, "the metric early stopping watches"},
    {"train", "mode", ENUM, "auto", 0, 0, 0, 0, "auto|min|max", 0,
     "whether the monitored metric should fall or rise; auto: max for accuracies, else min"},
    {"train", "patience", INT, "5", 0, BIG, 0, 0, NULL, 0, "evaluations without improvement before stopping"},
    {"train", "min_delta", REAL, "0", 0, INF, 0, 0, NULL, 0, "the least change that counts as an improvement"},
    {"train", "average", SPEC, "", 0, 0, 0, 0, NULL, EMPTY,
     "weight averaging as AveragedModel: SWA(start=0.75), EMA(decay=0.999); empty: none"},
    {"train", "lr_scaling", ENUM, "none", 0, 0, 0, 0, "none|linear|sqrt", 0,
     "the rate when the global batch (batch_size x accumulate) is k times reference_batch: times k (linear, "
     "Goyal et al., for SGD) or sqrt(k) (sqrt, for adaptive rules such as Adam); none: as written"},
    {"train", "reference_batch", INT, "0", 0, BIG, 0, 0, NULL, 0,
     "the global batch the config's rates were tuned for; 0: unset (lr_scaling needs it)"},
    {"train", "lr_scaling_warmup", REAL, "5", 0, 1e6, 0, 0, NULL, 0,
     "epochs over which lr_scaling's factor rises linearly, step by step, from 1 to its full value (Goyal et "
     "al.'s gradual warm-up); 0: the full factor from the first step"},
    {"guard", "enabled", BOOL, "true", 0, 0, 0, 0, NULL, 0, "watch every step for divergence"},
    {"guard", "action", ENUM, "rollback", 0, 0, 0, 0, "rollback|skip|stop", 0,
     "on divergence: restore the last snapshot with a lower lr, skip the step, or stop"},
    {"guard", "lr_factor", REAL, "0.5", 0, 1, 1, 1, NULL, 0, "lr multiplier after each rollback"},
    {"guard", "max_tries", INT, "5", 1, BIG, 0, 0, NULL, 0, "rollbacks in a row before the run stops"},
    {"guard", "loss_factor", REAL, "4.0", 1, INF, 1, 0, NULL, 0, "diverging: smoothed loss above this times its best"},
    {"guard", "window", INT, "100", 2, BIG, 0, 0, NULL, 0, "steps of loss and grad norm behind the z-scores"},
    {"guard", "z_threshold", REAL, "0", 0, INF, 0, 0, NULL, 0,
     "a spike: loss or grad norm this many standard deviations above the window's mean; 0: off"},
    {"guard", "snapshot_every", INT, "100", 1, BIG, 0, 0, NULL, 0, "steps between in-memory snapshots"},
    {"guard", "warmup", INT, "100", 2, BIG, 0, 0, NULL, 0, "steps before spikes are looked for"},
    {"dist", "shards", INT, "0", 0, 1024, 0, 0, NULL, 0,
     "shards of each batch, summed in order: the same bits at any process count; 0: the process count"},
    {"dist", "zero_optimizer", BOOL, "false", 0, 0, 0, 0, NULL, 0,
     "each process keeps only its slice of the optimizer state (ZeRO-1, ZeroRedundancyOptimizer)"},
    {"dist", "bucket_cap_mb", REAL, "25", 0, INF, 1, 0, NULL, 0,
     "gradients sent in buckets of this many MB as backward goes (DDP's bucket_cap_mb)"},
    {"dist", "timeout", REAL, "300", 0, INF, 1, 0, NULL, 0,
     "seconds to wait for another process before stopping with its name"},
    {"lr_find", "start", REAL, "1e-7", 0, INF, 1, 0, NULL, 0, "the range test's first rate (fastai's start_lr)"},
    {"lr_find", "end", REAL, "10", 0, INF, 1, 0, NULL, 0, "the rate it would reach after `steps` batches (end_lr)"},
    {"lr_find", "steps", INT, "100", 2, 100000, 0, 0, NULL, 0, "batches of the range test (num_it)"},
    {"lr_find", "mode", ENUM, "exp", 0, 0, 0, 0, "exp|linear", 0,
     "how the rate grows from start to end: geometrically or linearly"},
    {"lr_find", "beta", REAL, "0.98", 0, 1, 0, 1, NULL, 0, "smoothing of the loss (debiased EMA)"},
    {"lr_find", "stop_factor", REAL, "4", 0, INF, 0, 0, NULL, 0,
     "stop when the smoothed loss passes this times its best; 0: never"},
    {"lr_find", "rule", ENUM, "valley", 0, 0, 0, 0, "valley|slide|minimum|steep|gradient|log_gradient", 0,
     "the suggestion optimizer.lr = auto takes (docs/lrfind.md)"},
    {"lr_find", "sweep_rates", INT, "9", 2, 64, 0, 0, NULL, 0,
     "optimizer.auto = sweep: the rates tried, downwards from 10^(1/per_decade) times the test's lowest point"},
    {"lr_find", "sweep_per_decade", INT, "3", 1, 100, 0, 0, NULL, 0, "optimizer.auto = sweep: rates a decade"},
    {"lr_find", "sweep_reduction", INT, "3", 2, 100, 0, 0, NULL, 0,
     "optimizer.auto = sweep: successive halving's reduction factor f; rungs after 1/f^2 and 1/f of the run"},
    {"output", "dir", PATH, "runs/<config name>", 0, 0, 0, 0, NULL, DERIVED,
     "the run directory: metrics, plots, checkpoints, config.ini, model.safetensors"},
    {"output", "checkpoint_every", INT, "0", 0, BIG, 0, 0, NULL, 0, "steps between checkpoints; 0: every epoch"},
    {"output", "keep_checkpoints", INT, "1", 1, BIG, 0, 0, NULL, 0, "checkpoints kept: checkpoint.eta and the K - 1 before it as checkpoint-STEP.eta (this process's)"},
    {"output", "plots", BOOL, "true", 0, 0, 0, 0, NULL, 0, "draw loss.png, lr.png and grad_norm.png"},
    {"output", "progress", ENUM, "auto", 0, 0, 0, 0, "auto|bar|lines|off", 0,
     "on stderr: a bar, periodic lines, nothing; auto: a bar on a terminal, else lines"},
};
enum { NKEYS = (int)(sizeof KEYS / sizeof KEYS[0]) };

int eta_config_key_count(void)
{
    return NKEYS;
}

const eta_config_key *eta_config_key_at(int i)
{
    return i >= 0 && i < NKEYS ? &KEYS[i] : NULL;
}

int eta_config_row_(const char *section, const char *key)
{
    if (!section || !key)
        return -1;
    for (int i = 0; i < NKEYS; i++)
        if (strcmp(KEYS[i].section, section) == 0 && strcmp(KEYS[i].key, key) == 0)
            return i;
    return -1;
}

const eta_config_key *eta_config_key_find(const char *section, const char *key)
{
    return eta_config_key_at(eta_config_row_(section, key));
}

int eta_config_section_count(void)
{
    return NSECTIONS;
}

const char *eta_config_section_at(int i, const char **doc)
{
    if (i < 0 || i >= NSECTIONS)
        return NULL;
    if (doc)
        *doc = SECTIONS[i].doc;
    return SECTIONS[i].name;
}

int eta_config_section_index_(const char *name)
{
    for (int i = 0; name && i < NSECTIONS; i++)
        if (strcmp(SECTIONS[i].name, name) == 0)
            return i;
    return -1;
}

bool eta_config_section_has_spec_(int i)
{
    return i >= 0 && i < NSECTIONS && eta_config_row_(SECTIONS[i].name, "spec") >= 0;
}

const char *eta_config_type_name(eta_config_type t)
{
    static const char *const names[] = {"string", "spec", "int", "real", "bool", "enum", "path", "list"};
    return (unsigned)t < ETA_CONFIG_TYPE_COUNT ? names[t] : "?";
}

/* ---- hints ---------------------------------------------------------------- */

static const char *section_name_at(const void *ctx, int i)
{
    (void)ctx;
    return SECTIONS[i].name;
}

void eta_config_hint_section_(char *buf, size_t n, const char *name)
{
    eta_names_hint(buf, n, name, section_name_at, NULL, NSECTIONS, "sections", NULL);
}

/* The keys of one section, for eta_names_hint: index i of the section's rows. */
static const char *section_key_at(const void *ctx, int i)
{
    const char *sec = ctx;
    for (int r = 0; r < NKEYS; r++)
        if (strcmp(KEYS[r].section, sec) == 0 && i-- == 0)
            return KEYS[r].key;
    return NULL;
}

void eta_config_hint_key_(char *buf, size_t n, int sec, const char *key)
{
    /* A key of another section: say where it goes. */
    char where[128] = "";
    int found = 0;
    for (int s = 0; s < NSECTIONS; s++) {
        if (s == sec || eta_config_row_(SECTIONS[s].name, key) < 0)
            continue;
        size_t len = strlen(where);
        snprintf(where + len, sizeof where - len, "%s[%s]", found ? " and " : "", SECTIONS[s].name);
        found++;
    }
    size_t len = strnlen(buf, n);
    if (found) {
        if (len < n)
            snprintf(buf + len, n - len, "; it belongs in %s", where);
        return;
    }
    if (sec < 0)
        return;
    int count = 0;
    while (section_key_at(SECTIONS[sec].name, count))
        count++;
    char what[64];
    snprintf(what, sizeof what, "keys in [%s]", SECTIONS[sec].name);
    eta_names_hint(buf, n, key, section_key_at, SECTIONS[sec].name, count, what, NULL);
}

/* ---- checking a value ---------------------------------------------------- */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static bool same_nocase(const char *a, const char *b, size_t bn)
{
    size_t i = 0;
    for (; i < bn && a[i]; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return i == bn && a[i] == '\0';
}

bool eta_config_parse_int_(const char *s, int64_t *out, bool *overflow)
{
    const char *p = s;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    bool digits = false, over = false;
    for (; *p; p++) {
        if (*p == '_' && digits && p[1] >= '0' && p[1] <= '9') /* 1_000, as Python */
            continue;
        if (*p < '0' || *p > '9')
            return false;
        digits = true;
        unsigned d = (unsigned)(*p - '0');
        if (v > (limit - d) / 10)
            over = true;
        else
            v = v * 10 + d;
    }
    if (!digits)
        return false;
    *overflow = over;
    if (!over)
        *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static int fail(eta_err *e, int code, const char *text, const char *fmt, ...) CFG_PRINTF(4, 5);
static int fail(eta_err *e, int code, const char *text, const char *fmt, ...)
{
    e->code = code;
    e->pos = 0;
    e->len = (int)strlen(text);
    va_list ap;
    va_start(ap, fmt);
    eta_msg_vformat_(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

/* Replaces *text by the static `canon`. */
static int replace(char **text, const char *canon, eta_err *e)
{
    char *t = realloc(*text, strlen(canon) + 1);
    if (!t)
        return fail(e, ETA_ENOMEM, "", "out of memory");
    strcpy(t, canon);
    *text = t;
    return ETA_OK;
}

static const char *string_at(const void *ctx, int i)
{
    return ((const char *const *)ctx)[i];
}

static int check_enum(const eta_config_key *k, const char *name, char **text, eta_err *e)
{
    const char *vals[8];
    size_t lens[8];
    int n = 0;
    for (const char *p = k->values; *p && n < 8; n++) {
        size_t l = strcspn(p, "|");
        vals[n] = p;
        lens[n] = l;
        p += l + (p[l] == '|');
    }
    for (int i = 0; i < n; i++) {
        if (same_nocase(*text, vals[i], lens[i])) {
            char canon[32];
            snprintf(canon, sizeof canon, "%.*s", (int)lens[i], vals[i]);
            return replace(text, canon, e);
        }
    }
    char names[8][32];
    const char *at[8];
    for (int i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "%.*s", (int)lens[i], vals[i]);
        at[i] = names[i];
    }
    fail(e, ETA_EINVAL, *text, "%s: unknown value '%.60s'", name, *text);
    eta_names_hint(e->msg, sizeof e->msg, *text, string_at, at, n, "values", NULL);
    return ETA_EINVAL;
}

int eta_config_check_value_(int row, char **text, eta_err *e)
{
    const eta_config_key *k = &KEYS[row];
    char name[64];
    snprintf(name, sizeof name, "%s.%s", k->section, k->key);
    eta_err_clear(e);
    const char *t = *text;
    switch (k->type) {
    case ETA_CONFIG_SPEC: {
        eta_spec *s = NULL;
        int rc = eta_spec_parse(&s, t, e);
        eta_spec_free(s);
        if (rc != ETA_OK && rc != ETA_ENOMEM) {
            char msg[sizeof e->msg];
            memcpy(msg, e->msg, sizeof msg);
            snprintf(e->msg, sizeof e->msg, "%s: ", name);
            size_t len = strlen(e->msg);
            snprintf(e->msg + len, sizeof e->msg - len, "%s", msg);
            if (len + strlen(msg) >= sizeof e->msg)
                eta_msg_mark_cut_(e->msg, sizeof e->msg);
        }
        return rc;
    }
    case ETA_CONFIG_INT: {
        int64_t v;
        bool over;
        if (!eta_config_parse_int_(t, &v, &over))
            return fail(e, ETA_EINVAL, t, "%s must be an integer, got '%.60s'", name, t);
        if (over)
            return fail(e, ETA_EINVAL, t, "%s: %.60s does not fit a 64-bit integer", name, t);
        /* Below the range: "must be >= 1" (the upper end is mostly just int's). */
        if ((double)v < k->lo || (double)v > k->hi) {
            if ((double)v < k->lo || k->hi == BIG || isinf(k->hi))
                return fail(e, ETA_EINVAL, t, "%s must be >= %.0f, got %" PRId64, name, k->lo, v);
            return fail(e, ETA_EINVAL, t, "%s must be in [%.0f, %.0f], got %" PRId64, name, k->lo, k->hi, v);
        }
        return ETA_OK;
    }
    case ETA_CONFIG_REAL: {
        eta_spec *s = NULL;
        eta_err pe;
        int rc = eta_spec_parse(&s, t, &pe);
        if (rc == ETA_ENOMEM)
            return fail(e, rc, "", "out of memory");
        bool num = rc == ETA_OK && s->kind == ETA_SPEC_NUMBER;
        double v = num ? s->num : 0;
        eta_spec_free(s);
        if (!num)
            return fail(e, ETA_EINVAL, t, "%s must be a number, got '%.60s'", name, t);
        if (!isfinite(v))
            return fail(e, ETA_EINVAL, t, "%s must be a finite number, got %.60s", name, t);
        rc = eta_spec_check_range(NULL, name, v, k->lo, k->lo_open, k->hi, k->hi_open, e);
        if (rc)
            e->pos = 0, e->len = (int)strlen(t);
        return rc;
    }
    case ETA_CONFIG_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
        for (int i = 0; i < 4; i++) {
            if (same_nocase(t, yes[i], strlen(yes[i])))
                return replace(text, "true", e);
            if (same_nocase(t, no[i], strlen(no[i])))
                return replace(text, "false", e);
        }
        return fail(e, ETA_EINVAL, t, "%s must be true or false, got '%.60s'", name, t);
    }
    case ETA_CONFIG_ENUM:
        return check_enum(k, name, text, e);
    default: /* string, path, list: any text */
        return ETA_OK;
    }
}
