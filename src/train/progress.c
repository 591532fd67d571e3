/* train/progress.c - the progress bar on a terminal, plain periodic lines
 * elsewhere (progress.h describes both). Terminal facts come from isatty,
 * TIOCGWINSZ and the environment (TERM, NO_COLOR: https://no-color.org);
 * the only escape sequences written are the bar's colour, and only when
 * colour is on. Everything else here is text layout.
 */
#include "train/progress.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

enum { MAX_COLS = 1000, LINE_CAP = 4096, MIN_BAR = 10 };

struct eta_progress {
    eta_progress_config cfg;
    bool bar, color;
    bool open;              /* a bar line is on screen, not ended */
    bool started;           /* base_step is set */
    int64_t base_step;      /* the step before the first update seen */
    double last_draw;
    size_t last_cols;       /* visible width of the line on screen */
    char last[LINE_CAP];    /* that line, for redrawing after a message */
    size_t last_len;
};

eta_progress_config eta_progress_defaults(void)
{
    return (eta_progress_config){.fd = 2, .mode = ETA_PROGRESS_AUTO, .log_every = 100, .redraw_interval = 0.1,
                                 .color = -1};
}

static bool term_is_dumb(void)
{
    const char *t = getenv("TERM");
    return t && !strcmp(t, "dumb");
}

int eta_progress_new(eta_progress **out, const eta_progress_config *cfg, eta_err *err)
{
    eta_err_clear(err);
    *out = NULL;
    eta_progress_config c = cfg ? *cfg : eta_progress_defaults();
    if ((unsigned)c.mode >= ETA_PROGRESS_MODE_COUNT)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "progress: mode %d is out of range", (int)c.mode);
    if (c.log_every < 1 || !(c.redraw_interval >= 0) || c.epochs < 0 || c.steps_per_epoch < 0 ||
        c.total_steps < 0 || c.width < 0 || c.color < -1 || c.color > 1)
        return eta_spec_fail(err, ETA_EINVAL, NULL,
                             "progress: log_every must be >= 1; redraw_interval, epochs, steps_per_epoch, "
                             "total_steps and width >= 0; color -1, 0 or 1");
    eta_progress *p = calloc(1, sizeof *p);
    if (!p)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "progress: out of memory");
    if (c.total_steps == 0)
        c.total_steps = c.epochs * c.steps_per_epoch;
    p->cfg = c;
    if (c.mode == ETA_PROGRESS_AUTO)
        p->bar = isatty(c.fd) && !term_is_dumb();
    else
        p->bar = c.mode == ETA_PROGRESS_BAR;
    const char *nc = getenv("NO_COLOR");
    p->color = p->bar && (c.color == 1 || (c.color == -1 && !(nc && nc[0]) && !term_is_dumb()));
    *out = p;
    return ETA_OK;
}

static void write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, s, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        s += k;
        n -= (size_t)k;
    }
}

void eta_progress_free(eta_progress *p)
{
    if (!p)
        return;
    if (p->open)
        write_all(p->cfg.fd, "\n", 1);
    free(p);
}

bool eta_progress_is_bar(const eta_progress *p)
{
    return p->bar && p->cfg.mode != ETA_PROGRESS_OFF;
}

static int columns(const eta_progress *p)
{
    int w = p->cfg.width;
    if (w == 0) {
        struct winsize ws;
        w = ioctl(p->cfg.fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
    }
    return w > MAX_COLS ? MAX_COLS : w;
}

/* "0:42", "12:05", "3:02:09". */
static void fmt_time(char *b, size_t n, double sec)
{
    if (!(sec >= 0) || sec > 359999999)
        sec = 0;
    long t = (long)floor(sec + 0.5);
    if (t >= 3600)
        snprintf(b, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(b, n, "%ld:%02ld", t / 60, t % 60);
}

/* Three significant digits: "512/s", "5.12k/s", "12.8k/s", "128k/s", "1.28M/s". */
static void fmt_rate(char *b, size_t n, double r)
{
    const char *unit = "";
    if (r >= 999.5) {
        r /= 1e3;
        unit = "k";
    }
    if (r >= 999.5 && unit[0]) {
        r /= 1e3;
        unit = "M";
    }
    int dec = !unit[0] || r >= 99.95 ? 0 : r >= 9.995 ? 1 : 2;
    snprintf(b, n, "%.*f%s/s", dec, r, unit);
}

static void set_base(eta_progress *p, const eta_progress_info *s)
{
    if (!p->started) {
        p->started = true;
        p->base_step = s->step - 1;
    }
}

/* Seconds left at the pace of this process, or NaN when unknown. */
static double time_left(const eta_progress *p, const eta_progress_info *s)
{
    int64_t done = s->step - p->base_step;
    if (p->cfg.total_steps <= 0 || done <= 0 || !(s->time > 0))
        return NAN;
    double left = (double)(p->cfg.total_steps - s->step) * s->time / (double)done;
    return left > 0 ? left : 0;
}

static void epoch_text(const eta_progress *p, const eta_progress_info *s, char *b, size_t n)
{
    if (p->cfg.epochs > 0)
        snprintf(b, n, "epoch %lld/%lld", (long long)s->epoch + 1, (long long)p->cfg.epochs);
    else
        snprintf(b, n, "epoch %lld", (long long)s->epoch + 1);
}

static void step_text(const eta_progress *p, const eta_progress_info *s, char *b, size_t n, const char *pre)
{
    if (p->cfg.total_steps > 0)
        snprintf(b, n, "%s%lld/%lld", pre, (long long)s->step, (long long)p->cfg.total_steps);
    else
        snprintf(b, n, "%s%lld", pre, (long long)s->step);
}

/* The bar line, at most `cols` - 1 visible columns, into p->last. Fields
 * in display order, each with a rank: when the line does not fit, the
 * lowest-ranked optional field goes first (samples/s, grad norm, time, lr);
 * the bar needs MIN_BAR columns or is left out. */
enum { F_EPOCH, F_COUNT, F_LOSS, F_LR, F_GRAD, F_RATE, F_TIME, NF };
static const int rank[NF] = {9, 8, 7, 6, 4, 3, 5};
#define ESSENTIAL 7

static void bar_fields(const eta_progress *p, const eta_progress_info *s, char f[NF][64])
{
    memset(f, 0, NF * sizeof f[0]);
    epoch_text(p, s, f[F_EPOCH], sizeof f[0]);
    step_text(p, s, f[F_COUNT], sizeof f[0], "");
    snprintf(f[F_LOSS], sizeof f[0], "loss %.4g", s->loss);
    snprintf(f[F_LR], sizeof f[0], "lr %.1e", s->lr);
    snprintf(f[F_GRAD], sizeof f[0], "|g| %.3g", s->grad_norm);
    if (s->samples_per_s >= 0)
        fmt_rate(f[F_RATE], sizeof f[0], s->samples_per_s);
    char el[32], lf[32];
    fmt_time(el, sizeof el, s->time);
    double left = time_left(p, s);
    if (isnan(left)) {
        snprintf(f[F_TIME], sizeof f[0], "%s", el);
    } else {
        fmt_time(lf, sizeof lf, left);
        snprintf(f[F_TIME], sizeof f[0], "%s<%s", el, lf);
    }
}

/* Appends `str` to the line; `visible` counts its columns. */
typedef struct line_buf {
    char *o;
    size_t n, vis, cap;
} line_buf;

static void add(line_buf *l, const char *str, bool visible)
{
    size_t k = strlen(str);
    if (l->n + k >= l->cap)
        return;
    memcpy(l->o + l->n, str, k);
    l->n += k;
    l->vis += visible ? k : 0;
}

static void layout_bar(eta_progress *p, const eta_progress_info *s, int cols)
{
    char f[NF][64];
    bar_fields(p, s, f);
    /* Fraction done: of the epoch, else of the run, else unknown (no bar). */
    double frac = NAN;
    if (p->cfg.steps_per_epoch > 0)
        frac = (double)s->epoch_step / (double)p->cfg.steps_per_epoch;
    else if (p->cfg.total_steps > 0)
        frac = (double)s->step / (double)p->cfg.total_steps;
    if (!isnan(frac))
        frac = fmin(1, fmax(0, frac));
    int avail = cols - 1, bw = 0;
    for (;;) {
        int used = -1, drop = -1;
        for (int i = 0; i < NF; i++)
            if (f[i][0]) {
                used += (int)strlen(f[i]) + 1;
                if (rank[i] < ESSENTIAL && (drop < 0 || rank[i] < rank[drop]))
                    drop = i;
            }
        bw = isnan(frac) ? 0 : avail - used - 3; /* " [" ... "]" */
        if (bw >= MIN_BAR || (isnan(frac) && used <= avail) || drop < 0)
            break;
        f[drop][0] = 0;
    }
    if (bw < MIN_BAR)
        bw = 0;
    line_buf l = {p->last, 0, 0, sizeof p->last};
    add(&l, f[F_EPOCH], true);
    if (bw > 0) {
        int fill = (int)floor(frac * bw + 1e-9);
        add(&l, " [", true);
        if (p->color && fill > 0)
            add(&l, "\x1b[32m", false);
        for (int i = 0; i < bw; i++) {
            if (i == fill && p->color && fill > 0)
                add(&l, "\x1b[0m", false);
            add(&l, i < fill ? "#" : ".", true);
        }
        if (fill == bw && p->color)
            add(&l, "\x1b[0m", false);
        add(&l, "]", true);
    }
    for (int i = F_COUNT; i < NF; i++)
        if (f[i][0]) {
            add(&l, " ", true);
            add(&l, f[i], true);
        }
    /* A terminal narrower than the essential fields: cut (there is no bar,
     * so no colour code is cut). */
    if (l.vis > (size_t)avail) {
        l.n = l.vis = avail > 0 ? (size_t)avail : 0;
    }
    /* Spaces over what a longer previous line left on screen. */
    if (p->open && l.vis < p->last_cols) {
        size_t pad = p->last_cols - l.vis;
        if (l.n + pad < l.cap) {
            memset(l.o + l.n, ' ', pad);
            l.n += pad;
        }
    } else {
        p->last_cols = l.vis;
    }
    l.o[l.n] = 0;
    p->last_len = l.n;
}

static void draw_bar(eta_progress *p, const eta_progress_info *s)
{
    layout_bar(p, s, columns(p));
    char buf[LINE_CAP + 2];
    buf[0] = '\r';
    memcpy(buf + 1, p->last, p->last_len);
    write_all(p->cfg.fd, buf, p->last_len + 1);
    p->open = true;
    p->last_draw = s->time;
}

/* The plain line: "epoch 2/5 step 1234/4690 loss ... left 1:37". */
static void plain_line(eta_progress *p, const eta_progress_info *s, bool done)
{
    char ep[48], st[64], el[32], lf[48], line[512];
    epoch_text(p, s, ep, sizeof ep);
    step_text(p, s, st, sizeof st, "step ");
    fmt_time(el, sizeof el, s->time);
    double left = time_left(p, s);
    if (isnan(left))
        lf[0] = 0;
    else {
        char t[32];
        fmt_time(t, sizeof t, left);
        snprintf(lf, sizeof lf, " left %s", t);
    }
    char rate[48] = "";
    if (s->samples_per_s >= 0)
        snprintf(rate, sizeof rate, " samples/s %.0f", s->samples_per_s);
    int k = snprintf(line, sizeof line, "%s%s %s loss %.4g lr %.4g grad_norm %.4g%s elapsed %s%s\n", ep,
                     done ? " done:" : "", st, s->loss, s->lr, s->grad_norm, rate, el, lf);
    if (k > 0)
        write_all(p->cfg.fd, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
}

void eta_progress_update(eta_progress *p, const eta_progress_info *s)
{
    if (p->cfg.mode == ETA_PROGRESS_OFF)
        return;
    set_base(p, s);
    if (p->bar) {
        if (!p->open || !(s->time - p->last_draw < p->cfg.redraw_interval))
            draw_bar(p, s);
    } else if (s->step % p->cfg.log_every == 0) {
        plain_line(p, s, false);
    }
}

void eta_progress_epoch_end(eta_progress *p, const eta_progress_info *s)
{
    if (p->cfg.mode == ETA_PROGRESS_OFF)
        return;
    set_base(p, s);
    if (p->bar) {
        draw_bar(p, s);
        write_all(p->cfg.fd, "\n", 1);
        p->open = false;
        p->last_cols = 0;
    } else {
        plain_line(p, s, true);
    }
}

void eta_progress_message(eta_progress *p, const char *text)
{
    if (p->cfg.mode == ETA_PROGRESS_OFF)
        return;
    size_t n = strlen(text), cols = p->open ? p->last_cols : 0;
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    char *buf = malloc(n + 2 * cols + 8);
    if (!buf)
        return;
    size_t k = 0;
    if (cols) { /* clear the bar */
        buf[k++] = '\r';
        memset(buf + k, ' ', cols);
        k += cols;
        buf[k++] = '\r';
    }
    for (size_t i = 0; i < n; i++)
        buf[k++] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? ' ' : text[i];
    buf[k++] = '\n';
    write_all(p->cfg.fd, buf, k);
    free(buf);
    if (p->open) { /* and draw it again */
        char line[LINE_CAP + 1];
        line[0] = '\r';
        memcpy(line + 1, p->last, p->last_len);
        write_all(p->cfg.fd, line, p->last_len + 1);
    }
}
