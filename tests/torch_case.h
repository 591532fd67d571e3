/* tests/torch_case.h - writes a network as a case that
 * tools/check_safetensors.py loads into a live PyTorch: its weights
 * (NAME.safetensors) and NAME.txt with the spec, one example's input
 * shape, the batch, the input (token ids or floats) and the output eta
 * computed for it. */
#ifndef ETA_TEST_TORCH_CASE_H
#define ETA_TEST_TORCH_CASE_H

#include "harness.h"

#include <eta/nn.h>

/* net has just run forward on x (n_in values, int32 when ids, else float);
 * `extra`, when not NULL, is one more line of the case (no newline). */
static inline void torch_case_write(const char *dir, const char *name, eta_net *net, const char *spec, int ndim,
                                    const int64_t *shape, int64_t batch, bool ids, const void *x, size_t n_in,
                                    const char *extra)
{
    eta_err err;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
    if (eta_net_save_safetensors(net, path, &err))
        fail_msg("%s", err.msg);
    snprintf(path, sizeof path, "%s/%s.txt", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "spec %s\ninput_shape", spec);
    for (int d = 0; d < ndim; d++)
        fprintf(f, " %lld", (long long)shape[d]);
    fprintf(f, "\nbatch %lld\ninput_type %s\ninput", (long long)batch, ids ? "i32" : "f32");
    for (size_t i = 0; i < n_in; i++) {
        if (ids)
            fprintf(f, " %d", ((const int32_t *)x)[i]);
        else
            fprintf(f, " %.9g", (double)((const float *)x)[i]);
    }
    int nd;
    int64_t os[4];
    const float *y = eta_net_output(net, &nd, os);
    size_t m = 1;
    fprintf(f, "\noutput %d", nd);
    for (int d = 0; d < nd; d++) {
        fprintf(f, " %lld", (long long)os[d]);
        m *= (size_t)os[d];
    }
    for (size_t i = 0; i < m; i++)
        fprintf(f, " %.9g", (double)y[i]);
    if (extra)
        fprintf(f, "\n%s", extra);
    fprintf(f, "\n");
    assert_int_equal(fclose(f), 0);
}

#endif
