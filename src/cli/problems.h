/* cli/problems.h - test functions for `eta optimize` (problems.c). */
#ifndef ETA_CLI_PROBLEMS_H
#define ETA_CLI_PROBLEMS_H

#include <eta/eta.h>
#include <stdio.h>

#define PROBLEM_MAXDIM 64

typedef struct problem {
    int kind;
    int dim;
    double a[PROBLEM_MAXDIM]; /* quadratic: a_i; rosenbrock: a, b; rastrigin: A */
} problem;

/* Parses "quadratic(a=[1,10])" etc. dim: the length of --x0, or 0 if not
 * given. Errors are located in `text`. */
int problem_from_spec(problem *p, const char *text, int dim, eta_err *err);
/* f(x); writes the gradient to g. */
double problem_eval(const problem *p, const double *x, double *g);
/* The default starting point. */
void problem_start(const problem *p, double *x);
/* One line per problem for --help. */
void problem_list(FILE *f);

#endif
