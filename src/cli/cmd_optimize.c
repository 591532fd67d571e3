/* cli/cmd_optimize.c - placeholder. */
#include "cli/cli.h"

int cmd_optimize(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return EXIT_RUN;
}
