/* tune/lrfind_out.c - a range test's outputs: the curve as CSV
 * (step,lr,loss,smoothed_loss), the suggestions as a second CSV table, and
 * the chart of loss against lr with each suggestion a named mark (the plot
 * layer's panels: the raw loss faint under the smoothed one, as runplot.c
 * draws a run's loss).
 */
#include "tune/lrfind.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fmt.h"
#include "eta/plot.h"

static void put_real(FILE *f, double x)
{
    char buf[40];
    eta_fmt_real(buf, sizeof buf, x);
    fputs(buf, f);
}

int eta_lrfind_write_csv(FILE *f, const eta_lrfind_result *res)
{
    fputs("step,lr,loss,smoothed_loss\n", f);
    for (int64_t i = 0; i < res->n; i++) {
        fprintf(f, "%lld,", (long long)i);
        put_real(f, res->lr[i]);
        fputc(',', f);
        put_real(f, res->loss[i]);
        fputc(',', f);
        put_real(f, res->smooth[i]);
        fputc('\n', f);
    }
    return ferror(f) ? ETA_EIO : ETA_OK;
}

void eta_lrfind_write_suggestions(FILE *f, const eta_lr_suggestion *s, int ns, eta_lr_rule def)
{
    fputs("rule,lr,smoothed_loss,note\n", f);
    for (int i = 0; i < ns; i++) {
        fprintf(f, "%s,", eta_lr_rule_name(s[i].rule));
        if (s[i].ok) {
            put_real(f, s[i].lr);
            fputc(',', f);
            put_real(f, s[i].loss);
            fprintf(f, ",%s\n", s[i].rule == def ? "default" : "");
        } else {
            fprintf(f, ",,\"%s%s\"\n", s[i].rule == def ? "default; " : "", s[i].why);
        }
    }
}

int eta_lrfind_plot(const char *path, const eta_lrfind_result *res, const eta_lrfind_config *c,
                    const eta_lr_suggestion *s, int ns, const char *title, eta_err *err)
{
    /* The divergence at the end would set the chart's height and flatten
     * the curve: values above 1.5 times the starting smoothed loss (the
     * highest of the first tenth of the points) are left out, raw and
     * smoothed alike (the lines break there). */
    double top = 0;
    for (int64_t i = 0; i < res->n && (i == 0 || i < res->n / 10); i++)
        if (isfinite(res->smooth[i]))
            top = fmax(top, res->smooth[i]);
    const double cap = 1.5 * top;
    double *raw = malloc((size_t)(res->n > 0 ? 2 * res->n : 1) * sizeof *raw), *sm = raw + res->n;
    enum { MAXS = ETA_LR_RULE_COUNT + 2 };
    eta_plot_series series[MAXS];
    eta_plot_style styles[MAXS];
    char labels[MAXS][64];
    if (!raw)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "lr_find: out of memory");
    for (int64_t i = 0; i < res->n; i++) {
        raw[i] = res->loss[i] > cap ? NAN : res->loss[i];
        sm[i] = res->smooth[i] > cap ? NAN : res->smooth[i];
    }
    int k = 0;
    series[k] = (eta_plot_series){res->lr, raw, (size_t)res->n, "loss", 0};
    styles[k++] = (eta_plot_style){.color = 1, .faint = true};
    series[k] = (eta_plot_series){res->lr, sm, (size_t)res->n, "smoothed loss", 0};
    styles[k++] = (eta_plot_style){.color = 1};
    for (int i = 0; i < ns && k < MAXS; i++) {
        if (!s[i].ok)
            continue;
        snprintf(labels[k], sizeof labels[k], "%s %.3g", eta_lr_rule_name(s[i].rule), s[i].lr);
        series[k] = (eta_plot_series){&s[i].lr, &s[i].loss, 1, labels[k], 0};
        styles[k++] = (eta_plot_style){.color = 2 + i, .markers = true};
    }
    eta_plot_panel p = {.cfg = {.title = title, .xlabel = "learning rate", .ylabel = "loss",
                                .log_x = c->mode == ETA_LRFIND_EXP},
                        .series = series, .styles = styles, .nseries = k};
    int rc = eta_plot_panels(path, &p, 1, err);
    free(raw);
    return rc;
}
