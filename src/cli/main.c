/* cli/main.c - the `eta` command: a table of subcommands, one file each
 * (cmd_<name>.c). Exit codes: 0 success, 1 a failed run, 2 bad usage. */
#include <string.h>

#include "cli/cli.h"
#include "dist/dist.h"

static const struct {
    const char *name;
    cli_cmd_fn fn;
    const char *help;
} commands[] = {
    {"data", cmd_data, "what eta makes of a data set: splits, shapes, classes, vocabulary; a split as CSV"},
    {"demo", cmd_demo, "train Fashion-MNIST with the guard on; 'eta demo lr': why the rate matters"},
    {"eval", cmd_eval, "evaluate a trained run on its test split: loss, accuracy, confusion matrix"},
    {"lr-find", cmd_lrfind, "the learning-rate range test on a training config, with every rule's suggestion"},
    {"model", cmd_model, "build a network from its PyTorch-style spec and print a summary"},
    {"optimize", cmd_optimize, "run an optimizer on a test function and print the trajectory as CSV"},
    {"plot", cmd_plot, "draw a training run's loss, lr and gradient-norm charts; overlay several runs"},
    {"predict", cmd_predict, "a trained run's outputs on a data set, one CSV row per example"},
    {"rl", cmd_rl, "an agent learns CartPole-v1 by PPO or REINFORCE, its rate annealed or constant"},
    {"schedule", cmd_schedule, "print (and plot) a learning-rate schedule before training"},
    {"sweep", cmd_sweep, "train a config over a grid or random search of its keys, pruning bad trials early"},
    {"train", cmd_train, "train a model from an INI config: progress, metrics, plots, checkpoints, the guard"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char *command_at(const void *ctx, int i)
{
    (void)ctx;
    return commands[i].name;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: eta <command> [options]\n\n"
               "eta: optimizers, learning-rate schedules and tools for gradient descent.\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'eta <command> --help' describes a command. eta %s\n", ETA_VERSION_STRING);
}

static int dispatch(int argc, char **argv);

/* Under mpirun every process runs the same command (dist/dist.h); one that
 * fails ends the job, so the others never wait on it. */
int main(int argc, char **argv)
{
    eta_err err;
    if (eta_dist_init(&argc, &argv, &err)) {
        fprintf(stderr, "eta: %s\n", err.msg);
        return EXIT_USAGE;
    }
    int rc = dispatch(argc, argv);
    if (rc != EXIT_OK && eta_dist_active())
        eta_dist_abort(rc);
    eta_dist_finalize();
    return rc;
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("eta %s\n", ETA_VERSION_STRING);
        return EXIT_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    char msg[1024];
    snprintf(msg, sizeof msg, "unknown command '%s'", argv[1]);
    eta_names_hint(msg, sizeof msg, argv[1], command_at, NULL, (int)NCOMMANDS, "commands", "eta --help");
    fprintf(stderr, "eta: %s\n", msg);
    return EXIT_USAGE;
}
