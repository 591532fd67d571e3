/* dist/sweep.c - a distributed sweep's messages (dist/sweep.h): rank 0's
 * loop serves the workers' calls (claim, report, finish, log) from the
 * coordinator (src/tune/coord.c) and runs its own trials in a second
 * thread; each other rank runs tune's worker (sweep_work_link) with a link
 * whose calls are messages to rank 0. Only rank 0's main thread calls MPI
 * there (MPI_THREAD_FUNNELED). Waits poll (MPI_Test or MPI_Iprobe between
 * short sleeps, see poller) rather than block: Open MPI's blocking calls
 * spin a core, which on a machine with as many processes as cores would
 * take it from a trial.
 *
 * Messages are fixed structs sent as bytes: the job's machines share one
 * architecture (as one build of eta does).
 */
#include "dist/sweep.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/dist.h"
#include "tune/sweep.h"

#ifdef ETA_HAVE_MPI
#include <mpi.h>
#endif

#ifndef ETA_HAVE_MPI

int eta_dist_sweep(const char *dir, const char *data_dir, FILE *log, bool *abandoned, eta_err *err)
{
    *abandoned = false;
    return sweep_work(dir, data_dir, log, err);
}

#else

enum { REQ_CLAIM = 1, REQ_REPORT, REQ_FINISH, REQ_LOG, REQ_BYE };
enum { TAG_REQ = 7101, TAG_REP = 7102 };

/* A worker's call. */
typedef struct req {
    int32_t type, state, rc, lookup;
    int64_t number, step, steps;
    double value, seconds;
    char text[2560]; /* a note, a log line, an error */
} req;

/* Rank 0's answer. */
typedef struct rep {
    int32_t status; /* 0, 1 (claim: none left), or a negative ETA_E* code with msg */
    int32_t decision, rerun, pad;
    int64_t number;
    double value;
    char msg[256];
    char texts[SWEEP_MAX_DIMS][SWEEP_VALUE_LEN];
} rep;

/* How a loop waits for messages without spinning a core: 100 us naps for
 * 20 ms after the last message (a report's round trip then costs about a
 * tenth of a millisecond: a trial that evaluates every few milliseconds
 * does not slow down), then naps doubling up to 5 ms. */
typedef struct poller {
    struct timespec active; /* the last message */
    long ns;
} poller;

static void poll_active(poller *p)
{
    clock_gettime(CLOCK_MONOTONIC, &p->active);
    p->ns = 100000;
}

static void nap(poller *p)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double idle = (double)(now.tv_sec - p->active.tv_sec) + 1e-9 * (double)(now.tv_nsec - p->active.tv_nsec);
    struct timespec t = {0, idle < 0.02 ? 100000 : p->ns};
    nanosleep(&t, NULL);
    if (idle >= 0.02)
        p->ns = p->ns * 2 > 5000000 ? 5000000 : p->ns * 2;
}

static int mpi_fail(eta_err *err, const char *what, int code)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(code, text, &len);
    return eta_spec_fail(err, ETA_EIO, NULL, "sweep: rank %d: MPI failed in %s: %.200s", eta_dist_rank(), what, text);
}

/* A text from rank 0 to all (*s malloc'd on the others). */
static int bcast_text(char **s)
{
    int len = eta_dist_rank() == 0 ? (int)strlen(*s) + 1 : 0;
    int rc = MPI_Bcast(&len, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return rc;
    if (eta_dist_rank() != 0 && !(*s = calloc((size_t)len, 1))) { /* rank 0's next broadcast would pair wrongly */
        fprintf(stderr, "eta sweep: rank %d: out of memory receiving the study's settings\n", eta_dist_rank());
        eta_dist_abort(1);
    }
    return MPI_Bcast(*s, len, MPI_CHAR, 0, MPI_COMM_WORLD);
}

/* ---- a worker (rank > 0) --------------------------------------------------- */

static int call(const req *q, rep *r, bool answer, eta_err *err)
{
    int rc = MPI_Send(q, (int)sizeof *q, MPI_BYTE, 0, TAG_REQ, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return mpi_fail(err, "a message to rank 0", rc);
    if (!answer)
        return ETA_OK;
    MPI_Request wait;
    if ((rc = MPI_Irecv(r, (int)sizeof *r, MPI_BYTE, 0, TAG_REP, MPI_COMM_WORLD, &wait)) != MPI_SUCCESS)
        return mpi_fail(err, "rank 0's answer", rc);
    int done = 0;
    poller pl;
    poll_active(&pl);
    while (!done) {
        if ((rc = MPI_Test(&wait, &done, MPI_STATUS_IGNORE)) != MPI_SUCCESS)
            return mpi_fail(err, "rank 0's answer", rc);
        if (!done)
            nap(&pl);
    }
    if (r->status < 0) {
        eta_err_clear(err);
        if (err) {
            err->code = r->status;
            snprintf(err->msg, sizeof err->msg, "%s", r->msg);
        }
    }
    return r->status;
}

static int w_claim(void *ctx, int64_t *number, bool *rerun, char texts[][SWEEP_VALUE_LEN], eta_err *err)
{
    const sweep_plan *p = ctx;
    req q = {.type = REQ_CLAIM};
    rep r;
    int rc = call(&q, &r, true, err);
    if (rc)
        return rc;
    *number = r.number;
    *rerun = r.rerun;
    for (int i = 0; i < p->space.n; i++)
        memcpy(texts[i], r.texts[i], SWEEP_VALUE_LEN);
    return ETA_OK;
}

static int w_report(void *ctx, int64_t number, int64_t step, double value, sweep_decision *out, eta_err *err)
{
    (void)ctx;
    req q = {.type = REQ_REPORT, .number = number, .step = step, .value = value};
    rep r;
    int rc = call(&q, &r, true, err);
    *out = rc ? SWEEP_GO : (sweep_decision)r.decision;
    return rc;
}

static int w_finish(void *ctx, int64_t number, sweep_state state, double *value, bool lookup, int64_t steps,
                    double seconds, const char *note, eta_err *err)
{
    (void)ctx;
    req q = {.type = REQ_FINISH, .number = number, .state = state, .value = *value, .lookup = lookup,
             .steps = steps, .seconds = seconds};
    snprintf(q.text, sizeof q.text, "%s", note ? note : "");
    q.rc = note != NULL; /* a note given */
    rep r;
    int rc = call(&q, &r, true, err);
    if (!rc)
        *value = r.value;
    return rc;
}

static void w_log(void *ctx, const char *line)
{
    (void)ctx;
    req q = {.type = REQ_LOG};
    snprintf(q.text, sizeof q.text, "%s", line);
    call(&q, NULL, false, NULL);
}

static int worker(const char *data_dir, eta_err *err)
{
    int ok = 0, rc;
    if ((rc = MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD)) != MPI_SUCCESS)
        return mpi_fail(err, "the sweep's start", rc);
    if (!ok) /* rank 0 could not open the study and says why */
        return eta_spec_fail(err, ETA_EIO, NULL, "sweep: rank %d: rank 0 could not open the study", eta_dist_rank());
    char *dir = NULL, *v[SWEEP_NSETTINGS] = {0};
    rc = bcast_text(&dir);
    for (int i = 0; i < SWEEP_NSETTINGS && rc == MPI_SUCCESS; i++)
        rc = bcast_text(&v[i]);
    sweep_plan p;
    int erc = rc != MPI_SUCCESS ? mpi_fail(err, "the study's settings", rc)
                                : sweep_plan_from(&p, dir, (const char *const *)v, err);
    if (!erc) {
        sweep_link link = {&p, w_claim, w_report, w_finish, w_log};
        erc = sweep_work_link(&p, &link, data_dir, err);
        sweep_plan_free(&p);
    }
    req bye = {.type = REQ_BYE, .rc = erc};
    snprintf(bye.text, sizeof bye.text, "%s", erc && err ? err->msg : "");
    call(&bye, NULL, false, NULL);
    free(dir);
    for (int i = 0; i < SWEEP_NSETTINGS; i++)
        free(v[i]);
    return erc;
}

/* ---- rank 0: the coordinator's loop and its own trials -------------------- */

typedef struct hub {
    sweep_coord *c;
    const char *data_dir;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool ready;                 /* the local trial's decision came */
    sweep_decision decision;
    int fatal;                  /* the coordinator failed: the local trial stops */
    bool done;                  /* the local worker ended */
    int rc;
    eta_err err;
} hub;

/* Rank 0's own trial once the coordinator has failed: nothing more is
 * claimed, decided or recorded (a trial cut off here is not a failed one). */
static int stopped(eta_err *err)
{
    return eta_spec_fail(err, ETA_EIO, NULL, "sweep: rank 0: the study failed");
}

static int l_claim(void *ctx, int64_t *number, bool *rerun, char texts[][SWEEP_VALUE_LEN], eta_err *err)
{
    hub *h = ctx;
    pthread_mutex_lock(&h->mu);
    int rc = h->fatal ? stopped(err) : sweep_coord_claim(h->c, number, rerun, texts, err);
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static int l_report(void *ctx, int64_t number, int64_t step, double value, sweep_decision *out, eta_err *err)
{
    hub *h = ctx;
    pthread_mutex_lock(&h->mu);
    int rc = h->fatal ? stopped(err) : sweep_coord_report(h->c, 0, number, step, value, out, err);
    if (rc == 1) { /* the main loop hands the decision over when its turn comes */
        while (!h->ready && !h->fatal)
            pthread_cond_wait(&h->cv, &h->mu);
        rc = h->ready ? 0 : stopped(err);
        *out = h->decision;
        h->ready = false;
    }
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static int l_finish(void *ctx, int64_t number, sweep_state state, double *value, bool lookup, int64_t steps,
                    double seconds, const char *note, eta_err *err)
{
    hub *h = ctx;
    pthread_mutex_lock(&h->mu);
    int rc = h->fatal ? stopped(err) : sweep_coord_finish(h->c, number, state, value, lookup, steps, seconds, note, err);
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static void l_log(void *ctx, const char *line)
{
    hub *h = ctx;
    pthread_mutex_lock(&h->mu);
    sweep_coord_log(h->c, line);
    pthread_mutex_unlock(&h->mu);
}

static void *local_worker(void *arg)
{
    hub *h = arg;
    sweep_link link = {h, l_claim, l_report, l_finish, l_log};
    eta_err err;
    int rc = sweep_work_link(sweep_coord_plan(h->c), &link, h->data_dir, &err);
    pthread_mutex_lock(&h->mu);
    h->rc = rc;
    h->err = err;
    h->done = true;
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static int reply(int to, rep *r)
{
    return MPI_Send(r, (int)sizeof *r, MPI_BYTE, to, TAG_REP, MPI_COMM_WORLD);
}

/* The worst of the outcomes so far (a config that does not build, then any
 * error) with its own message: rank `who` ended with rc and msg. */
static void note_outcome(int *worst, eta_err *first, int who, int rc, const char *msg)
{
    int w = rc == ETA_EINVAL || *worst == ETA_EINVAL ? ETA_EINVAL : *worst ? *worst : rc;
    if (w != *worst)
        snprintf(first->msg, sizeof first->msg, "rank %d: %.240s", who, msg);
    *worst = w;
}

/* One worker's call (h->mu held). Returns an MPI or coordinator failure. */
static int serve(hub *h, int from, const req *q, int *alive, int *worst, eta_err *first)
{
    rep r;
    memset(&r, 0, sizeof r);
    eta_err err;
    eta_err_clear(&err);
    int rc;
    switch (q->type) {
    case REQ_CLAIM: {
        int64_t number = -1;
        bool rerun = false;
        r.status = sweep_coord_claim(h->c, &number, &rerun, r.texts, &err);
        r.number = number;
        r.rerun = rerun;
        break;
    }
    case REQ_REPORT: {
        sweep_decision d = SWEEP_GO;
        r.status = sweep_coord_report(h->c, from, q->number, q->step, q->value, &d, &err);
        if (r.status == 1)
            return MPI_SUCCESS; /* answered when its turn comes */
        r.decision = d;
        break;
    }
    case REQ_FINISH: {
        double value = q->value;
        r.status = sweep_coord_finish(h->c, q->number, (sweep_state)q->state, &value, q->lookup, q->steps,
                                      q->seconds, q->rc ? q->text : NULL, &err);
        r.value = value;
        break;
    }
    case REQ_LOG:
        sweep_coord_log(h->c, q->text);
        return MPI_SUCCESS;
    case REQ_BYE:
        (*alive)--;
        if (q->rc) {
            char line[2700];
            snprintf(line, sizeof line, "rank %d: %s", from, q->text);
            sweep_coord_log(h->c, line);
            note_outcome(worst, first, from, q->rc, q->text);
        }
        return MPI_SUCCESS;
    default:
        return MPI_SUCCESS;
    }
    if (r.status < 0)
        snprintf(r.msg, sizeof r.msg, "%s", err.msg);
    rc = reply(from, &r);
    return rc;
}

static int coordinator(const char *dir, const char *data_dir, FILE *log, bool *abandoned, eta_err *err)
{
    hub h = {.data_dir = data_dir};
    int size = eta_dist_size();
    int rc = sweep_coord_open(&h.c, dir, size, log, err);
    int ok = rc == 0, mrc = MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rc)
        return rc;
    char *d = (char *)dir;
    if (mrc == MPI_SUCCESS)
        mrc = bcast_text(&d);
    const char *const *settings = sweep_coord_settings(h.c);
    for (int i = 0; i < SWEEP_NSETTINGS && mrc == MPI_SUCCESS; i++) {
        char *s = (char *)settings[i];
        mrc = bcast_text(&s);
    }
    if (mrc != MPI_SUCCESS) {
        sweep_coord_close(h.c);
        *abandoned = true;
        return mpi_fail(err, "sending the study's settings", mrc);
    }
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    pthread_t th;
    bool threaded = pthread_create(&th, NULL, local_worker, &h) == 0;
    if (!threaded)
        h.done = true; /* rank 0 only coordinates */
    int alive = size - 1, worst = 0, fatal = 0;
    eta_err first;
    eta_err_clear(&first);
    poller pl;
    poll_active(&pl);
    for (;;) {
        pthread_mutex_lock(&h.mu);
        bool local_done = h.done;
        pthread_mutex_unlock(&h.mu);
        if (alive == 0 && local_done)
            break;
        int flag = 0;
        MPI_Status st;
        if ((mrc = MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQ, MPI_COMM_WORLD, &flag, &st)) != MPI_SUCCESS)
            break;
        if (flag) {
            req q;
            if ((mrc = MPI_Recv(&q, (int)sizeof q, MPI_BYTE, st.MPI_SOURCE, TAG_REQ, MPI_COMM_WORLD,
                                MPI_STATUS_IGNORE)) != MPI_SUCCESS)
                break;
            q.text[sizeof q.text - 1] = 0;
            pthread_mutex_lock(&h.mu);
            mrc = serve(&h, st.MPI_SOURCE, &q, &alive, &worst, &first);
            pthread_mutex_unlock(&h.mu);
            if (mrc != MPI_SUCCESS)
                break;
            poll_active(&pl);
        }
        /* the waiting reports whose turn came */
        pthread_mutex_lock(&h.mu);
        int w;
        sweep_decision dec;
        eta_err e;
        while (mrc == MPI_SUCCESS && (fatal = sweep_coord_ready(h.c, &w, &dec, &e)) == 1) {
            if (w == 0) {
                h.decision = dec;
                h.ready = true;
                pthread_cond_broadcast(&h.cv);
            } else {
                rep r;
                memset(&r, 0, sizeof r);
                r.decision = dec;
                mrc = reply(w, &r);
            }
            poll_active(&pl);
        }
        if (fatal < 0) {
            h.fatal = 1;
            *err = e;
            pthread_cond_broadcast(&h.cv);
        }
        pthread_mutex_unlock(&h.mu);
        if (fatal < 0 || mrc != MPI_SUCCESS)
            break;
        if (!flag)
            nap(&pl);
    }
    if (mrc != MPI_SUCCESS) {
        pthread_mutex_lock(&h.mu);
        h.fatal = 1;
        pthread_cond_broadcast(&h.cv);
        pthread_mutex_unlock(&h.mu);
    }
    if (threaded)
        pthread_join(th, NULL);
    pthread_cond_destroy(&h.cv);
    pthread_mutex_destroy(&h.mu);
    sweep_coord_close(h.c);
    *abandoned = mrc != MPI_SUCCESS || fatal < 0;
    if (mrc != MPI_SUCCESS)
        return mpi_fail(err, "the coordinator's loop", mrc);
    if (fatal < 0)
        return fatal;
    if (h.rc)
        note_outcome(&worst, &first, 0, h.rc, h.err.msg);
    if (worst) {
        *err = first;
        err->code = worst;
    }
    return worst;
}

int eta_dist_sweep(const char *dir, const char *data_dir, FILE *log, bool *abandoned, eta_err *err)
{
    *abandoned = false;
    if (!eta_dist_active())
        return sweep_work(dir, data_dir, log, err);
    return eta_dist_rank() == 0 ? coordinator(dir, data_dir, log, abandoned, err) : worker(data_dir, err);
}

#endif
