/* examples/quickstart.c - eta for a C program that already has gradients:
 * minimise f(w) = sum_i (w_i - i)^2 with AdamW, in three calls.
 *
 *   cc quickstart.c $(pkg-config --cflags --libs eta) -o quickstart
 */
#include <eta/eta.h>
#include <stdio.h>

int main(void)
{
    float w[4] = {0}, grad[4];
    eta_optim_config cfg;
    eta_err err;
    eta_optim *opt;
    if (eta_optim_config_from_spec(&cfg, "AdamW(lr=0.1, weight_decay=0.0)", &err) ||
        eta_optim_new(&opt, &cfg, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    eta_optim_add_param(opt, 0, w, grad, 1, (int64_t[]){4});
    for (int step = 0; step < 500; step++) {
        for (int i = 0; i < 4; i++)
            grad[i] = 2 * (w[i] - (float)i); /* your gradient here */
        if (eta_optim_step(opt)) {
            fprintf(stderr, "%s\n", eta_optim_error(opt));
            return 1;
        }
    }
    printf("w = %.3f %.3f %.3f %.3f\n", w[0], w[1], w[2], w[3]);
    eta_optim_free(opt);
    return 0;
}
