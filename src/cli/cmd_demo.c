/* cli/cmd_demo.c - placeholder until the demo lands. */
#include "cli/cli.h"

int cmd_demo(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return EXIT_RUN;
}
