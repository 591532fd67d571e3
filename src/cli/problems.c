/* cli/problems.c - the test functions of `eta optimize`, written as specs:
 * quadratic(a=[1,10]), rosenbrock(a=1, b=100), beale(), rastrigin(A=10).
 * Each gives f(x) and its gradient in double for any dimension it supports.
 */
#include "cli/problems.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PI 3.14159265358979323846

static double quadratic(const problem *p, const double *x, double *g, int n)
{
    double f = 0;
    for (int i = 0; i < n; i++) {
        f += 0.5 * p->a[i] * x[i] * x[i];
        g[i] = p->a[i] * x[i];
    }
    return f;
}

/* sum_i b*(x[i+1] - x[i]^2)^2 + (a - x[i])^2, the n-dimensional chain. */
static double rosenbrock(const problem *p, const double *x, double *g, int n)
{
    double a = p->a[0], b = p->a[1], f = 0;
    for (int i = 0; i < n; i++)
        g[i] = 0;
    for (int i = 0; i + 1 < n; i++) {
        double u = x[i + 1] - x[i] * x[i], v = a - x[i];
        f += b * u * u + v * v;
        g[i] += -4 * b * x[i] * u - 2 * v;
        g[i + 1] += 2 * b * u;
    }
    return f;
}

static double beale(const problem *p, const double *x, double *g, int n)
{
    (void)p;
    (void)n;
    double X = x[0], Y = x[1];
    static const double c[3] = {1.5, 2.25, 2.625};
    double f = 0, gx = 0, gy = 0, yk = 1;
    for (int k = 1; k <= 3; k++) {
        double ykm1 = yk; /* y^(k-1) */
        yk *= Y;          /* y^k */
        double t = c[k - 1] - X + X * yk;
        f += t * t;
        gx += 2 * t * (yk - 1);
        gy += 2 * t * X * k * ykm1;
    }
    g[0] = gx;
    g[1] = gy;
    return f;
}

static double rastrigin(const problem *p, const double *x, double *g, int n)
{
    double A = p->a[0], f = A * n;
    for (int i = 0; i < n; i++) {
        f += x[i] * x[i] - A * cos(2 * PI * x[i]);
        g[i] = 2 * x[i] + 2 * PI * A * sin(2 * PI * x[i]);
    }
    return f;
}

static const struct {
    const char *name, *signature, *help;
    double (*fn)(const problem *, const double *, double *, int);
    int dim; /* 0: any */
    double x0;
} kinds[] = {
    {"quadratic", "quadratic(a=[1, 10])", "f = 1/2 sum a_i x_i^2; dimension = len(a); starts at x = 1",
     quadratic, 0, 1.0},
    {"rosenbrock", "rosenbrock(a=1, b=100)", "sum b(x_{i+1}-x_i^2)^2 + (a-x_i)^2; 2-D unless --x0 says more; starts at (-1.2, 1, ...)",
     rosenbrock, 0, -1.2},
    {"beale", "beale()", "(1.5-x+xy)^2 + (2.25-x+xy^2)^2 + (2.625-x+xy^3)^2; 2-D, minimum at (3, 0.5); starts at (1, 1)",
     beale, 2, 1.0},
    {"rastrigin", "rastrigin(A=10)", "A n + sum x_i^2 - A cos(2 pi x_i); 2-D unless --x0 says more; starts at 2.5",
     rastrigin, 0, 2.5},
};
#define NKINDS (int)(sizeof kinds / sizeof kinds[0])

static const char *kind_name_at(const void *ctx, int i)
{
    (void)ctx;
    return kinds[i].name;
}

void problem_list(FILE *f)
{
    for (int i = 0; i < NKINDS; i++)
        fprintf(f, "  %-24s %s\n", kinds[i].signature, kinds[i].help);
}

double problem_eval(const problem *p, const double *x, double *g)
{
    return kinds[p->kind].fn(p, x, g, p->dim);
}

void problem_start(const problem *p, double *x)
{
    for (int i = 0; i < p->dim; i++)
        x[i] = kinds[p->kind].x0;
    if (p->kind == 1) /* rosenbrock: the classic (-1.2, 1) */
        for (int i = 1; i < p->dim; i += 2)
            x[i] = 1.0;
}

int problem_from_spec(problem *p, const char *text, int dim, eta_err *err)
{
    eta_spec *s;
    int rc = eta_spec_parse(&s, text, err);
    if (rc)
        return rc;
    memset(p, 0, sizeof *p);
    int k = -1;
    if (s->kind == ETA_SPEC_CALL)
        for (int i = 0; i < NKINDS; i++)
            if (!strcmp(s->str, kinds[i].name))
                k = i;
    if (k < 0) {
        const char *name = s->kind == ETA_SPEC_CALL || s->kind == ETA_SPEC_NAME ? s->str : "";
        rc = eta_spec_fail(err, ETA_EINVAL, s, "unknown problem '%s'", name);
        if (err)
            eta_names_hint(err->msg, sizeof err->msg, name, kind_name_at, NULL, NKINDS, "problems",
                           "eta optimize --help");
        goto out;
    }
    p->kind = k;
    const eta_spec *v[2];
    if (k == 0) { /* quadratic(a=[...]) */
        eta_spec_param sig[] = {{"a", false, false}};
        if ((rc = eta_spec_bind(s, sig, 1, v, err)))
            goto out;
        int n = 2;
        p->a[0] = 1;
        p->a[1] = 10;
        if (v[0] && (rc = eta_spec_get_reals(v[0], "a", p->a, -1, PROBLEM_MAXDIM, &n, err)))
            goto out;
        if (n < 1) {
            rc = eta_spec_fail(err, ETA_EINVAL, v[0], "a must have at least one element");
            goto out;
        }
        for (int i = 0; i < n; i++)
            if ((rc = eta_spec_check_range(v[0] ? v[0]->items[i] : s, "a[i]", p->a[i], 0, true, INFINITY, true, err)))
                goto out;
        p->dim = n;
        if (dim > 0 && dim != n) {
            rc = eta_spec_fail(err, ETA_EINVAL, s, "quadratic has %d dimensions (len(a)) but --x0 has %d", n, dim);
            goto out;
        }
    } else if (k == 2) { /* beale() */
        if ((rc = eta_spec_bind(s, NULL, 0, v, err)))
            goto out;
        p->dim = 2;
        if (dim > 0 && dim != 2) {
            rc = eta_spec_fail(err, ETA_EINVAL, s, "beale is 2-D but --x0 has %d values", dim);
            goto out;
        }
    } else { /* rosenbrock(a, b), rastrigin(A) */
        eta_spec_param rsig[] = {{"a", false, false}, {"b", false, false}};
        eta_spec_param asig[] = {{"A", false, false}};
        bool ros = k == 1;
        if ((rc = eta_spec_bind(s, ros ? rsig : asig, ros ? 2 : 1, v, err)))
            goto out;
        p->a[0] = ros ? 1 : 10;
        p->a[1] = 100;
        for (int i = 0; i < (ros ? 2 : 1); i++)
            if (v[i] && (rc = eta_spec_get_real(v[i], ros ? rsig[i].name : "A", &p->a[i], err)))
                goto out;
        p->dim = dim > 0 ? dim : 2;
        if (ros && p->dim < 2) {
            rc = eta_spec_fail(err, ETA_EINVAL, s, "rosenbrock needs at least 2 dimensions");
            goto out;
        }
    }
out:
    eta_spec_free(s);
    return rc;
}
