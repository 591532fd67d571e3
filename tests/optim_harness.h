/* tests/optim_harness.h - a helper the optimizer tests share: an optimizer
 * from a spec over one float64 vector. */
#ifndef ETA_TESTS_OPTIM_HARNESS_H
#define ETA_TESTS_OPTIM_HARNESS_H

#include "harness.h"

#include <eta/eta.h>

/* spec's optimizer (float64) with x[0..n) and its gradient g as parameter 0. */
static inline eta_optim *vec_optim(const char *spec, double *x, double *g, int64_t n)
{
    eta_optim_config cfg;
    eta_err err;
    if (eta_optim_config_from_spec(&cfg, spec, &err))
        fail_msg("%s: %s", spec, err.msg);
    cfg.dtype = ETA_F64;
    eta_optim *o;
    if (eta_optim_new(&o, &cfg, &err))
        fail_msg("%s: %s", spec, err.msg);
    assert_int_equal(eta_optim_add_param(o, 0, x, g, 1, &n), 0);
    return o;
}

#endif
