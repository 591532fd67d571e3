/* cli/cmd_model.c - `eta model SPEC --input C,H,W`: builds a network from its
 * PyTorch-style spec and prints a summary like torchinfo's (layer, module,
 * output shape, parameters) with the total. Shape errors name the layer and
 * both shapes. `eta model --list`: every module and loss. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *const CMD = "model";

static void help(void)
{
    printf("usage: eta model SPEC --input D1,D2,... [--batch N]\n"
           "       eta model --list\n\n"
           "Builds a network from its PyTorch-style spec, checks every layer's shapes for\n"
           "inputs of shape [N, D1, D2, ...], and prints a summary: layer, module, output\n"
           "shape, parameters, and the total, like torchinfo.\n\n"
           "  eta model 'Sequential(Conv2d(1, 32, 5, padding=2), ReLU(), MaxPool2d(2), Flatten(),\n"
           "             Linear(6272, 10))' --input 1,28,28\n\n"
           "options:\n"
           "  --input LIST   the shape of one example (without the batch); token ids for\n"
           "                 networks that start with an Embedding: the sequence length\n"
           "  --batch N      the batch size shown in the output shapes (default 1)\n"
           "  --list         every module and loss with its arguments and defaults\n"
           "  --help         this text\n");
}

/* Every module, then every loss: "  Name(args...): what it computes". */
static void list(void)
{
    printf("modules:\n");
    for (int k = 0, n = eta_nn_module_count(); k < n; k++)
        printf("  %s\n", eta_nn_module_note(k));
    printf("\nlosses (eta_net_set_loss):\n");
    for (int k = 0, n = eta_nn_loss_count(); k < n; k++)
        printf("  %s\n", eta_nn_loss_note(k));
}

int cmd_model(int argc, char **argv)
{
    const char *input_s = NULL, *batch_s = "1", *pos[1];
    bool want_list = false;
    const cli_opt opts[] = {{"input", true, &input_s, NULL}, {"batch", true, &batch_s, NULL},
                            {"list", false, NULL, &want_list}};
    int npos = 0;
    int done = cli_parse_opts(CMD, argc, argv, opts, sizeof opts / sizeof opts[0], help, pos, 1, &npos);
    if (done != CLI_CONTINUE)
        return done;
    if (want_list) {
        list();
        return EXIT_OK;
    }
    if (npos != 1)
        return cli_usage_error(CMD, "expected one model spec, such as 'Sequential(Linear(784, 10))' (see --list)");
    if (!input_s)
        return cli_usage_error(CMD, "--input: give the shape of one example, such as --input 1,28,28");
    long long batch;
    if (!cli_parse_int(CMD, "--batch", batch_s, 1, 1 << 20, &batch))
        return EXIT_USAGE;
    int64_t shape[3];
    int nd = 0;
    const char *s = input_s;
    while (*s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 1 || nd == 3 || (*end && *end != ','))
            return cli_usage_error(CMD, "--input: expected 1 to 3 comma-separated positive integers, got '%s'",
                                   input_s);
        shape[nd++] = v;
        s = *end ? end + 1 : end;
    }
    eta_net *net;
    eta_err err;
    if (eta_net_new(&net, pos[0], &err))
        return cli_spec_error(CMD, NULL, pos[0], &err);
    if (eta_net_prepare(net, batch, nd, shape, &err)) {
        eta_net_free(net);
        return cli_usage_error(CMD, "%s", err.msg);
    }
    size_t need = (size_t)eta_net_summary(net, NULL, 0) + 1;
    char *buf = malloc(need);
    if (!buf) {
        eta_net_free(net);
        return EXIT_RUN;
    }
    eta_net_summary(net, buf, need);
    fputs(buf, stdout);
    free(buf);
    eta_net_free(net);
    return EXIT_OK;
}
