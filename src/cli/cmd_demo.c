/* cli/cmd_demo.c - `eta demo`: a real training run, start to finish.
 *
 * The CNN of `eta model`'s example on Fashion-MNIST (Debian's
 * dataset-fashion-mnist: 55,000 training, 5,000 validation and 10,000 test
 * images), AdamW with a one-cycle rate whose peak the range test picks
 * before training (optimizer.lr = auto), the divergence guard on; progress
 * on the terminal, metrics, plots, the checkpoint and the model in
 * runs/demo/, the test accuracy at the end. The run is the config below,
 * driven exactly as `eta train` drives one (cli_train_run); it is written to
 * runs/demo/config.ini, so `eta train runs/demo/config.ini` runs it again.
 * `eta demo lr` (cmd_demo_lr.c) is the learning-rate sweep on the diabetes
 * data.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run_cli.h"

static const char *const CMD = "demo";

static const char DEMO_CONFIG[] =
    "; eta demo: Fashion-MNIST, a CNN, AdamW with a one-cycle rate whose peak the range test\n"
    "; picks (lr = auto; the rule `minimum`, the closest on this CNN in bench/autopilot), the guard on\n"
    "[data]\n"
    "spec = FashionMNIST(normalize=True)\n"
    "batch_size = 128\n"
    "[model]\n"
    "spec = Sequential(Conv2d(1, 32, 5, padding=2), ReLU(), MaxPool2d(2), Conv2d(32, 64, 5, padding=2), "
    "ReLU(), MaxPool2d(2), Flatten(), Linear(3136, 128), ReLU(), Linear(128, 10))\n"
    "[optimizer]\n"
    "spec = AdamW(lr=1e-3, weight_decay=0.01)\n"
    "lr = auto\n"
    "no_decay = *.bias\n"
    "[schedule]\n"
    "spec = OneCycleLR(max_lr=3e-3)\n"
    "[train]\n"
    "epochs = 3\n"
    "[lr_find]\n"
    "rule = minimum\n"
    "[output]\n"
    "dir = runs/demo\n";

static void help(void)
{
    printf("usage: eta demo [--epochs N] [--dir DIR] [--threads N]\n"
           "       eta demo lr [--help]\n\n"
           "Trains the CNN of `eta model`'s example on Fashion-MNIST (70,000 images of clothing,\n"
           "10 classes; Debian's dataset-fashion-mnist) with AdamW and a one-cycle learning rate\n"
           "whose peak the range test picks first (optimizer.lr = auto, shown before training;\n"
           "the evidence in DIR/lr_find.png and lr_auto.txt), the divergence guard on, and prints\n"
           "the test accuracy (about 91%% after 3 epochs).\n"
           "Progress goes to stderr; metrics.csv, loss.png, lr.png, grad_norm.png, the\n"
           "checkpoint and model.safetensors to the run directory. The run is an ordinary\n"
           "`eta train` run: its config is DIR/config.ini.\n\n"
           "  eta demo lr    the learning-rate sweep on the diabetes data: too small crawls,\n"
           "                 too large diverges (see 'eta demo lr --help')\n\n"
           "options:\n"
           "  --epochs N     epochs (default 3)\n"
           "  --dir DIR      the run directory (default runs/demo; a previous demo there is\n"
           "                 replaced)\n"
           "  --threads N    threads (default: every core)\n"
           "  --help         this text\n");
}

/* A previous demo's files in dir go; nothing else is touched. */
static void clear_demo(const char *dir)
{
    static const char *const files[] = {"checkpoint.eta", "config.ini", "metrics.csv", "metrics.jsonl",
                                        "layers.csv", "loss.png", "lr.png", "grad_norm.png", "model.safetensors",
                                        "lr_find.csv", "lr_find.png", "lr_auto.txt"};
    char path[1100];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
}

int cmd_demo(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "lr"))
        return cmd_demo_lr(argc - 1, argv + 1);
    const char *epochs_s = "3", *dir = "runs/demo", *threads_s = NULL;
    const cli_opt opts[] = {{"epochs", true, &epochs_s, NULL}, {"dir", true, &dir, NULL},
                            {"threads", true, &threads_s, NULL}};
    int done = cli_parse_opts(CMD, argc, argv, opts, sizeof opts / sizeof opts[0], help, NULL, 0, NULL);
    if (done != CLI_CONTINUE)
        return done;
    long long epochs, threads = 0;
    if (!cli_parse_int(CMD, "--epochs", epochs_s, 1, 1000, &epochs) ||
        (threads_s && !cli_parse_int(CMD, "--threads", threads_s, 1, 1024, &threads)))
        return EXIT_USAGE;
    eta_config *cfg;
    eta_err err;
    int rc = eta_config_read_string(&cfg, DEMO_CONFIG, sizeof DEMO_CONFIG - 1, "eta demo", &err);
    char set[1100];
    if (!rc) {
        snprintf(set, sizeof set, "train.epochs=%lld", epochs);
        rc = eta_config_set(cfg, set, &err);
    }
    if (!rc) {
        snprintf(set, sizeof set, "train.threads=%lld", threads);
        rc = eta_config_set(cfg, set, &err);
    }
    if (!rc) {
        snprintf(set, sizeof set, "output.dir=%s", dir);
        rc = eta_config_set(cfg, set, &err);
    }
    if (rc) {
        fprintf(stderr, "eta %s: %s\n", CMD, err.msg);
        return EXIT_USAGE;
    }
    clear_demo(dir);
    fprintf(stderr, "eta demo: Fashion-MNIST, a CNN (454,922 parameters), AdamW with a one-cycle rate, %lld epochs; "
                    "run directory %s; first the range test picks the peak rate\n",
            epochs, dir);
    eta_run_options ro = {.progress = -1};
    rc = cli_train_run(CMD, cfg, &ro);
    eta_config_free(cfg);
    return rc;
}
