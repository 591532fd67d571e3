/* cli/cmd_demo_lr.c - `eta demo lr`: what the learning rate does, on real data.
 *
 * Linear regression on scikit-learn's diabetes data (442 patients, 10
 * features, disease progression after a year), features and target
 * standardised, fitted by full-batch gradient descent, w <- w - lr * dL/dw,
 * with L the mean squared error, at a sweep of learning rates from far too
 * small to divergent. eta computes the least-squares optimum L* in closed
 * form (Cholesky on the normal equations) and the largest stable rate,
 * 2/lambda_max of the Hessian (power iteration), and reports for each rate
 * the final loss, the steps to reach 1.01 L*, or the step where the loss
 * blew past 10x its start.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *const CMD = "demo lr";

#define NF 10          /* features */
#define NP (NF + 1)    /* weights and bias */

static void help(void)
{
    printf("usage: eta demo lr [--data DIR] [--steps N] [--lr LIST]\n\n"
           "Fits a linear regression to scikit-learn's diabetes data (442 x 10, standardised)\n"
           "by full-batch gradient descent, w <- w - lr * dL/dw, once per learning rate, and\n"
           "prints a CSV table to stdout:\n"
           "  lr,final_loss,steps_to_target,diverged_at\n"
           "steps_to_target: the first step whose loss is within 1%% of the least-squares\n"
           "optimum (computed in closed form); diverged_at: the step at which the loss\n"
           "exceeded 10x its starting value or stopped being finite. A summary goes to stderr.\n\n"
           "options:\n"
           "  --data DIR    the data directory filled by tools/fetch-data.sh\n"
           "                (default $ETA_DATA_DIR, else %s)\n"
           "  --steps N     the step budget per rate (default 5000)\n"
           "  --lr LIST     comma-separated rates (default 1e-4,1e-3,0.01,0.03,0.1,0.2,0.24,0.3,1)\n"
           "  --help        this text\n",
           ETA_DEFAULT_DATA_DIR);
}

/* L = mean((A w - y)^2) over n rows of A = [X 1]; g = dL/dw. */
static double loss_grad(const double *X, const double *y, int n, const double *w, double *g)
{
    double L = 0;
    if (g)
        memset(g, 0, NP * sizeof *g);
    for (int i = 0; i < n; i++) {
        double r = w[NF] - y[i];
        for (int j = 0; j < NF; j++)
            r += X[i * NF + j] * w[j];
        L += r * r;
        if (g) {
            for (int j = 0; j < NF; j++)
                g[j] += 2 * r * X[i * NF + j] / n;
            g[NF] += 2 * r / n;
        }
    }
    return L / n;
}

/* H = (2/n) A^T A, the Hessian of L. */
static void hessian(const double *X, int n, double H[NP][NP])
{
    for (int a = 0; a < NP; a++)
        for (int b = 0; b < NP; b++) {
            double s = 0;
            for (int i = 0; i < n; i++)
                s += (a < NF ? X[i * NF + a] : 1.0) * (b < NF ? X[i * NF + b] : 1.0);
            H[a][b] = 2 * s / n;
        }
}

/* Solves H w = rhs by Cholesky; returns false if H is not positive definite. */
static bool cholesky_solve(double H[NP][NP], const double *rhs, double *w)
{
    double Lm[NP][NP] = {{0}};
    for (int i = 0; i < NP; i++)
        for (int j = 0; j <= i; j++) {
            double s = H[i][j];
            for (int k = 0; k < j; k++)
                s -= Lm[i][k] * Lm[j][k];
            if (i == j) {
                if (s <= 0)
                    return false;
                Lm[i][i] = sqrt(s);
            } else {
                Lm[i][j] = s / Lm[j][j];
            }
        }
    double z[NP];
    for (int i = 0; i < NP; i++) {
        double s = rhs[i];
        for (int k = 0; k < i; k++)
            s -= Lm[i][k] * z[k];
        z[i] = s / Lm[i][i];
    }
    for (int i = NP - 1; i >= 0; i--) {
        double s = z[i];
        for (int k = i + 1; k < NP; k++)
            s -= Lm[k][i] * w[k];
        w[i] = s / Lm[i][i];
    }
    return true;
}

/* The largest eigenvalue of a symmetric positive semi-definite H. */
static double lambda_max(double H[NP][NP])
{
    double v[NP], lam = 0;
    for (int i = 0; i < NP; i++)
        v[i] = 1.0 / sqrt((double)NP);
    for (int it = 0; it < 1000; it++) {
        double u[NP], norm = 0;
        for (int i = 0; i < NP; i++) {
            u[i] = 0;
            for (int j = 0; j < NP; j++)
                u[i] += H[i][j] * v[j];
            norm += u[i] * u[i];
        }
        norm = sqrt(norm);
        for (int i = 0; i < NP; i++)
            v[i] = u[i] / norm;
        if (fabs(norm - lam) <= 1e-14 * norm)
            return norm;
        lam = norm;
    }
    return lam;
}

static int parse_rates(const char *s, double *lr, int cap)
{
    int n = 0;
    while (*s) {
        char *end;
        if (n == cap)
            return -1;
        lr[n] = strtod(s, &end);
        if (end == s || !(lr[n] > 0) || !isfinite(lr[n]))
            return -1;
        n++;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return n;
}

static int load(const char *dir, eta_table *X, eta_table *y)
{
    char px[4096], py[4096];
    snprintf(px, sizeof px, "%s/sklearn/diabetes_data_raw.csv.gz", dir);
    snprintf(py, sizeof py, "%s/sklearn/diabetes_target.csv.gz", dir);
    eta_err err;
    if (eta_table_read(X, px, NULL, &err) || eta_table_read(y, py, NULL, &err)) {
        fprintf(stderr, "eta demo lr: %s\n", err.msg);
        if (err.code == ETA_EIO)
            fprintf(stderr, "eta demo lr: the diabetes data comes from Debian's python3-sklearn package; "
                            "run tools/fetch-data.sh (or pass --data DIR)\n");
        eta_table_free(X);
        return EXIT_RUN;
    }
    if (X->cols != NF || y->cols != 1 || X->rows != y->rows) {
        fprintf(stderr, "eta demo lr: expected 10 feature columns and one target per row, got %lldx%lld and %lldx%lld\n",
                (long long)X->rows, (long long)X->cols, (long long)y->rows, (long long)y->cols);
        eta_table_free(X);
        eta_table_free(y);
        return EXIT_RUN;
    }
    return EXIT_OK;
}

int cmd_demo_lr(int argc, char **argv)
{
    const char *dir = getenv("ETA_DATA_DIR"), *steps_s = "5000";
    const char *lr_s = "1e-4,1e-3,0.01,0.03,0.1,0.2,0.24,0.3,1";
    const cli_opt opts[] = {
        {"data", true, &dir, NULL}, {"steps", true, &steps_s, NULL}, {"lr", true, &lr_s, NULL},
    };
    int done = cli_parse_opts(CMD, argc, argv, opts, sizeof opts / sizeof opts[0], help, NULL, 0, NULL);
    if (done != CLI_CONTINUE)
        return done;
    long long steps;
    if (!cli_parse_int(CMD, "--steps", steps_s, 1, 10000000, &steps))
        return EXIT_USAGE;
    double rates[64];
    int nrates = parse_rates(lr_s, rates, 64);
    if (nrates <= 0)
        return cli_usage_error(CMD, "--lr: expected up to 64 comma-separated positive numbers, got '%s'", lr_s);
    if (!dir || !*dir)
        dir = ETA_DEFAULT_DATA_DIR;

    eta_table X, y;
    int rc = load(dir, &X, &y);
    if (rc)
        return rc;
    eta_table_standardize(&X, NULL, NULL);
    eta_table_standardize(&y, NULL, NULL);
    int n = (int)X.rows;

    /* The optimum: H w* = (2/n) A^T y. */
    double H[NP][NP], rhs[NP] = {0}, wstar[NP];
    hessian(X.data, n, H);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < NF; j++)
            rhs[j] += 2 * X.data[i * NF + j] * y.data[i] / n;
        rhs[NF] += 2 * y.data[i] / n;
    }
    if (!cholesky_solve(H, rhs, wstar)) {
        fprintf(stderr, "eta demo lr: the normal equations are singular\n");
        eta_table_free(&X);
        eta_table_free(&y);
        return EXIT_RUN;
    }
    double Lstar = loss_grad(X.data, y.data, n, wstar, NULL), lmax = lambda_max(H);
    fprintf(stderr,
            "eta demo lr: linear regression on the diabetes data (%d x %d, standardised), full-batch gradient descent\n"
            "  least-squares optimum L* = %.6f (closed form); target 1.01 L* = %.6f\n"
            "  largest stable rate 2/lambda_max(H) = %.4f: above it every step overshoots more\n",
            n, NF, Lstar, 1.01 * Lstar, 2 / lmax);

    printf("lr,final_loss,steps_to_target,diverged_at\n");
    int best = -1;
    long long best_steps = 0;
    for (int k = 0; k < nrates; k++) {
        eta_optim_config cfg = eta_optim_defaults(ETA_OPTIM_SGD);
        cfg.dtype = ETA_F64;
        cfg.hp.lr = rates[k];
        eta_optim *opt;
        eta_err err;
        double w[NP] = {0}, g[NP];
        if (eta_optim_new(&opt, &cfg, &err) || eta_optim_add_param(opt, 0, w, g, 1, (int64_t[]){NP}) < 0) {
            fprintf(stderr, "eta demo lr: %s\n", err.msg);
            rc = EXIT_RUN;
            break;
        }
        double L0 = loss_grad(X.data, y.data, n, w, g), L = L0;
        long long hit = -1, diverged = -1;
        for (long long t = 1; t <= steps; t++) {
            eta_optim_step(opt); /* w <- w - lr * g */
            L = loss_grad(X.data, y.data, n, w, g);
            if (!isfinite(L) || L > 10 * L0) {
                diverged = t;
                break;
            }
            if (hit < 0 && L <= 1.01 * Lstar)
                hit = t;
        }
        eta_optim_free(opt);
        cli_print_real(stdout, rates[k]);
        putchar(',');
        if (diverged < 0)
            cli_print_real(stdout, L);
        else
            printf("inf");
        if (hit >= 0)
            printf(",%lld,", hit);
        else
            printf(",,");
        if (diverged >= 0)
            printf("%lld", diverged);
        putchar('\n');
        if (hit >= 0 && (best < 0 || hit < best_steps)) {
            best = k;
            best_steps = hit;
        }
    }
    fflush(stdout);
    if (best >= 0)
        fprintf(stderr,
                "  winner: lr = %g reaches 1.01 L* in %lld steps; smaller rates crawl, rates above %.4f diverge\n",
                rates[best], best_steps, 2 / lmax);
    else
        fprintf(stderr, "  no rate reached 1.01 L* within %lld steps\n", steps);
    eta_table_free(&X);
    eta_table_free(&y);
    return rc;
}
