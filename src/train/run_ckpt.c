/* train/run_ckpt.c - the run's state as bytes: the guard's snapshot and
 * the checkpoint.
 *
 * The state (run_state_save / _restore; versioned, little-endian) is what
 * the guard rolls back to and the core of a checkpoint:
 *   the counters (step, epoch, batch in epoch, examples seen, the best
 *   monitored value and the evaluations without improvement, finished),
 *   weights and buffers, the network's random streams, the optimizer, the
 *   schedule's state (ReduceLROnPlateau's), the training loader's seed,
 *   epoch and position, and (version 2) the weight average ([train]
 *   average; empty without one).
 * A checkpoint (an eta_ckpt container, core/ckpt.c: named sections, each
 * CRC-checked, written to a temporary file, flushed and renamed) holds:
 *   config    the resolved config text (a resume must run the same config)
 *   state     the above
 *   guard     the guard's state, its own snapshot and lr scale included
 *   metrics   the metrics sink's state (file lengths, smoothing)
 * A checkpoint is the run's saved state, nothing more.
 *
 * Fault injection, for the crash tests (tests/test_train_resume.c): with
 * ETA_FAULT_KILL_IN_CHECKPOINT=N in the environment, the N-th checkpoint
 * this process writes goes, complete, into a temporary file beside the
 * target (<path>.tmp.<pid>.fault, as eta_file_write_atomic names its own)
 * and the process kills itself with SIGKILL before any rename: the state a
 * crash in the middle of a checkpoint leaves (the previous checkpoint.eta
 * untouched, a stray temporary file). Unset, it costs a getenv per
 * checkpoint.
 */
#include "train/run_impl.h"

#include "train/bytes.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { RUN_VERSION = 2 }; /* 2: bn_step after finished, the weight average last; version 1 files
                             (before both) load with bn_step -1 and no average */

/* Sizes before blobs (u64), on the train layer's byte helpers. */
static void put_blob(tbuf *b, const void *p, size_t n)
{
    tbuf_put_u(b, n, 8);
    tbuf_put_bytes(b, p, n);
}

static const void *get_blob(tcur *c, size_t *n)
{
    *n = (size_t)tcur_u(c, 8);
    return tcur_bytes(c, *n);
}

/* ---- the state -------------------------------------------------------- */

static void blob_of(tbuf *b, int (*save)(void *, void **, size_t *), void *obj, int *rc)
{
    void *p = NULL;
    size_t n = 0;
    if (!*rc)
        *rc = save(obj, &p, &n);
    if (!*rc)
        put_blob(b, p, n);
    free(p);
}

static int save_net(void *o, void **p, size_t *n) { return eta_net_save_state(o, p, n); }
static int save_sched(void *o, void **p, size_t *n) { return eta_sched_save(o, p, n); }
static int save_avg(void *o, void **p, size_t *n)
{
    /* eta_average_save allocates with malloc (the run gives no allocator), blob_of frees */
    return eta_average_save(o, p, n);
}

static int state_save(eta_run *r, void **buf, size_t *len);

/* The state is saved at the optimizer's evaluation point (Schedule-Free's x,
 * as its authors ask of checkpoints): the weights and the optimizer's mode
 * say so, and the next step switches back (run_step). Nothing else changes. */
int run_state_save(eta_run *r, void **buf, size_t *len)
{
    bool switched = r->opt && eta_optim_has_eval_point(r->opt) && !eta_optim_is_eval(r->opt);
    if (switched)
        eta_optim_eval(r->opt);
    int rc = state_save(r, buf, len);
    if (switched)
        eta_optim_train(r->opt);
    return rc;
}

static int state_save(eta_run *r, void **buf, size_t *len)
{
    tbuf b = {0};
    tbuf_put_u(&b, RUN_VERSION, 8);
    tbuf_put_u(&b, (uint64_t)r->step, 8);
    tbuf_put_u(&b, (uint64_t)r->epoch, 8);
    tbuf_put_u(&b, (uint64_t)r->batch_in_epoch, 8);
    tbuf_put_u(&b, (uint64_t)r->samples, 8);
    tbuf_put_f64(&b, r->best);
    tbuf_put_u(&b, (uint64_t)r->bad_evals, 8);
    tbuf_put_u(&b, r->finished, 8);
    tbuf_put_u(&b, (uint64_t)r->bn_step, 8);
    size_t np;
    const float *p = eta_net_params(r->net, &np);
    put_blob(&b, p, np * sizeof *p);
    int rc = ETA_OK;
    blob_of(&b, save_net, r->net, &rc);
    void *os = NULL;
    size_t ol = 0;
    if (r->zero && r->ckpt_io) { /* the whole optimizer, as one process writes it (run_zero.c) */
        if (!rc && !(rc = run_zero_optim_save(r, &os, &ol, NULL)))
            put_blob(&b, os, ol);
        free(os);
        os = NULL;
    } else if (!rc && !(rc = eta_optim_save(r->opt, &os, &ol))) {
        put_blob(&b, os, ol);
    }
    if (os)
        eta_optim_free_buf(r->opt, os);
    if (r->sched)
        blob_of(&b, save_sched, r->sched, &rc);
    else
        put_blob(&b, NULL, 0);
    eta_loader_state st = {0};
    if (r->loader)
        eta_loader_get_state(r->loader, &st);
    tbuf_put_u(&b, st.seed, 8);
    tbuf_put_u(&b, (uint64_t)st.epoch, 8);
    tbuf_put_u(&b, (uint64_t)st.pos, 8);
    if (r->avg)
        blob_of(&b, save_avg, r->avg, &rc);
    else
        put_blob(&b, NULL, 0);
    if (!rc && b.oom)
        rc = ETA_ENOMEM;
    if (rc) {
        free(b.p);
        return rc;
    }
    *buf = b.p;
    *len = b.len;
    return ETA_OK;
}

int run_state_restore(eta_run *r, const void *buf, size_t len, eta_err *err)
{
    tcur b = {buf, len, 0, false};
    uint64_t version = tcur_u(&b, 8);
    int64_t step = (int64_t)tcur_u(&b, 8), epoch = (int64_t)tcur_u(&b, 8), bie = (int64_t)tcur_u(&b, 8),
            samples = (int64_t)tcur_u(&b, 8);
    double best = tcur_f64(&b);
    int64_t bad = (int64_t)tcur_u(&b, 8);
    bool finished = tcur_u(&b, 8) != 0;
    int64_t bn_step = version >= 2 ? (int64_t)tcur_u(&b, 8) : -1;
    size_t np, pl, nl, ol, sl;
    float *p = eta_net_params(r->net, &np);
    const void *pw = get_blob(&b, &pl), *ns = get_blob(&b, &nl), *os = get_blob(&b, &ol), *ss = get_blob(&b, &sl);
    eta_loader_state st;
    st.seed = tcur_u(&b, 8);
    st.epoch = (int64_t)tcur_u(&b, 8);
    st.pos = (int64_t)tcur_u(&b, 8);
    size_t al = 0;
    const void *as = version >= 2 ? get_blob(&b, &al) : NULL;
    if (b.bad || b.pos != b.len || version < 1 || version > RUN_VERSION)
        return run_fail(err, ETA_EFORMAT, "the run's state is malformed (version %llu, %zu of %zu bytes read)",
                        (unsigned long long)version, b.pos, b.len);
    if (pl != np * sizeof *p)
        return run_fail(err, ETA_EFORMAT, "the run's state holds %zu bytes of weights; this network has %zu", pl,
                        np * sizeof *p);
    if (step < 0 || epoch < 0 || bie < 0 || bie > r->batches || (sl != 0) != (r->sched != NULL))
        return run_fail(err, ETA_EFORMAT, "the run's state does not fit this run (step %lld, batch %lld of %lld)",
                        (long long)step, (long long)bie, (long long)r->batches);
    int rc = eta_net_load_state(r->net, ns, nl, err);
    if (rc)
        return rc;
    if ((al != 0) != (r->avg != NULL))
        return run_fail(err, ETA_EFORMAT, "the run's state %s a weight average; this run %s one (train.average)",
                        al ? "holds" : "has no", r->avg ? "keeps" : "keeps no");
    if (r->avg && (rc = eta_average_load(r->avg, as, al)))
        return run_fail(err, rc, "the weight average: %s", eta_average_error(r->avg));
    if (r->zero && r->ckpt_io) {
        if ((rc = run_zero_optim_load(r, os, ol, err)))
            return rc;
    } else if ((rc = eta_optim_load(r->opt, os, ol))) {
        return run_fail(err, rc, "the optimizer's state: %s", eta_optim_error(r->opt));
    }
    if (r->sched && (rc = eta_sched_load(r->sched, ss, sl, err)))
        return rc;
    if (r->loader && (rc = eta_loader_set_state(r->loader, &st, err)))
        return rc;
    memcpy(p, pw, pl);
    r->step = step;
    r->epoch = epoch;
    r->batch_in_epoch = bie;
    r->samples = samples;
    r->best = best;
    r->bad_evals = bad;
    r->finished = finished;
    r->bn_step = bn_step;
    return ETA_OK;
}

/* ---- a snapshot in memory (the range test) ------------------------------ */

int eta_run_snapshot(eta_run *r, void **buf, size_t *len)
{
    void *state = NULL, *guard = NULL;
    size_t sn = 0, gn = 0;
    int rc = run_state_save(r, &state, &sn);
    if (!rc)
        rc = eta_guard_save_state(r->guard, &guard, &gn);
    tbuf b = {0};
    if (!rc) {
        put_blob(&b, state, sn);
        put_blob(&b, guard, gn);
        if (b.oom)
            rc = ETA_ENOMEM;
    }
    free(state);
    free(guard);
    if (rc) {
        free(b.p);
        return rc;
    }
    *buf = b.p;
    *len = b.len;
    return ETA_OK;
}

int eta_run_restore(eta_run *r, const void *buf, size_t len, eta_err *err)
{
    tcur c = {buf, len, 0, false};
    size_t sn, gn;
    const void *state = get_blob(&c, &sn), *guard = get_blob(&c, &gn);
    if (c.bad || c.pos != c.len)
        return run_fail(err, ETA_EFORMAT, "the run's snapshot is malformed (%zu of %zu bytes read)", c.pos, c.len);
    int rc = run_state_restore(r, state, sn, err);
    if (!rc)
        rc = eta_guard_load_state(r->guard, guard, gn, err);
    return rc;
}

/* ---- the checkpoint ---------------------------------------------------- */

/* The fault hook (the header comment): returns only when it does not fire. */
static void fault_kill_in_checkpoint(eta_run *r, const eta_ckpt *c, const char *path)
{
    const char *v = getenv("ETA_FAULT_KILL_IN_CHECKPOINT");
    r->checkpoints++;
    if (!v || !*v || strtoll(v, NULL, 10) != r->checkpoints)
        return;
    void *buf;
    size_t len;
    if (eta_ckpt_to_bytes(c, &buf, &len))
        return;
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.fault", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (f) {
        fwrite(buf, 1, len, f);
        fclose(f);
    }
    free(buf);
    raise(SIGKILL);
}

int eta_run_save(eta_run *r, const char *path, eta_err *err)
{
    eta_ckpt *c = NULL;
    void *state = NULL, *guard = NULL, *metrics = NULL;
    char *conf = NULL;
    size_t state_n = 0, guard_n = 0, metrics_n = 0, conf_n = 0;
    r->ckpt_io = true;
    int rc = run_state_save(r, &state, &state_n);
    r->ckpt_io = false;
    if (!rc)
        rc = eta_guard_save_state(r->guard, &guard, &guard_n);
    if (!rc)
        rc = eta_metrics_save_state(r->metrics, &metrics, &metrics_n, err);
    if (!rc)
        rc = eta_config_to_string(r->cfg, &conf, &conf_n, err);
    if (!rc)
        rc = eta_ckpt_new(&c);
    if (!rc && !((rc = eta_ckpt_add(c, "config", conf, conf_n)) || (rc = eta_ckpt_add(c, "state", state, state_n)) ||
                 (rc = eta_ckpt_add(c, "guard", guard, guard_n)) ||
                 (rc = eta_ckpt_add(c, "metrics", metrics, metrics_n)))) {
        fault_kill_in_checkpoint(r, c, path);
        rc = eta_ckpt_write(c, path, err);
    }
    else if (rc && err && !err->code)
        run_fail(err, rc, "saving the checkpoint %s: %s", path, eta_strerror(rc));
    eta_ckpt_free(c);
    free(state);
    free(guard);
    free(metrics);
    free(conf);
    return rc;
}

/* Whether the config text a checkpoint holds gives every key the value the
 * run's config gives it. Compared key by key, not as text, so that a key
 * added to eta after the checkpoint was written (optimizer.lr, [lr_find])
 * takes its default on both sides and an older run still resumes. */
static bool same_config(const char *text, size_t n, const char *path, const eta_config *cfg)
{
    eta_config *old;
    eta_err e;
    if (eta_config_read_string(&old, text, n, path, &e))
        return false;
    bool same = true;
    for (int i = 0, k = eta_config_key_count(); i < k && same; i++) {
        const eta_config_key *key = eta_config_key_at(i);
        const char *a = eta_config_get(old, key->section, key->key), *b = eta_config_get(cfg, key->section, key->key);
        same = a && b && !strcmp(a, b);
    }
    eta_config_free(old);
    return same;
}

static int section(const eta_ckpt *c, const char *path, const char *name, const void **p, size_t *n, eta_err *err)
{
    if (eta_ckpt_get(c, name, p, n))
        return run_fail(err, ETA_EFORMAT, "%s: no '%s' section: not the checkpoint of a training run", path, name);
    return ETA_OK;
}

int eta_run_load(eta_run *r, const char *path, eta_err *err)
{
    eta_ckpt *c;
    int rc = eta_ckpt_read(&c, path, err);
    if (rc)
        return rc;
    const void *p;
    size_t n;
    if ((rc = section(c, path, "config", &p, &n, err)))
        goto done;
    if (!same_config(p, n, path, r->cfg)) {
        rc = run_fail(err, ETA_EINVAL, "%s was written with another config than %s/config.ini", path, r->dir);
        goto done;
    }
    r->ckpt_io = true;
    rc = section(c, path, "state", &p, &n, err);
    if (!rc)
        rc = run_state_restore(r, p, n, err);
    r->ckpt_io = false;
    if (rc)
        goto done;
    if ((rc = section(c, path, "guard", &p, &n, err)) || (rc = eta_guard_load_state(r->guard, p, n, err)))
        goto done;
    if ((rc = section(c, path, "metrics", &p, &n, err)))
        goto done;
    free(r->metrics_resume);
    r->metrics_resume = malloc(n ? n : 1);
    if (!r->metrics_resume) {
        rc = ETA_ENOMEM;
        goto done;
    }
    memcpy(r->metrics_resume, p, n);
    r->metrics_resume_len = n;
done:
    eta_ckpt_free(c);
    return rc;
}
