/* seed_file.h - for the seed writers of the fuzz harnesses (built with
 * -DFUZZ_SEEDS): one corpus file, a mode byte then the bytes. */
#ifndef ETA_FUZZ_SEED_FILE_H
#define ETA_FUZZ_SEED_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Writes dir/name: the byte `mode`, then b[0..n). Exits 1 on failure. */
static void seed_file(const char *dir, const char *name, uint8_t mode, const void *b, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fputc(mode, f) == EOF || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

#endif
