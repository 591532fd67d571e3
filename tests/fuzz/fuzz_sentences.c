/* fuzz_sentences.c - libFuzzer harness for the JSON reader of labelled
 * sentences (data/sentences.c), the tokenizer and vocabulary (data/vocab.c)
 * and the Sentiment data set (data/sentiment.c).
 *
 * Not built by CMake; the build and run commands (from the source root) are
 * in the line comments below the header. The first byte of an input picks
 * the level (word or char), lowercasing, max_len and the split; the rest is
 * a JSON file. It is parsed from memory: on success every record has a
 * NUL-terminated text of its length, a label in [0, 2) and an offset inside
 * the input; on failure the error is EFORMAT (or ENOMEM) with a message.
 * Then the file is opened as Sentiment(...): a data set must give token ids
 * in [0, vocab), rows that are never all padding, and labels in [0, 2), and
 * its tokens must decode. FUZZ_VERBOSE=1 prints what became of each input.
 */
// clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc src/core/*.c src/data/*.c tests/fuzz/fuzz_sentences.c -lz -lm -lpthread -o fuzz_sentences
// ./fuzz_sentences -runs=1000000 -max_len=4096 tests/fuzz/sentences_seeds
#include <string.h>

#include "data/sentences.h"
#include "eta/data.h"
#include "fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    data_sentences ss = {0};
    eta_err e;
    int rc = data_sentences_parse(&ss, "fuzz", text, len, 2, &e);
    if (rc) {
        check((rc == ETA_EFORMAT || rc == ETA_ENOMEM) && e.msg[0] != '\0');
    } else {
        for (int64_t i = 0; i < ss.n; i++) {
            check(strlen(ss.s[i].text) == ss.s[i].len && ss.s[i].len <= len);
            check(ss.s[i].label == 0 || ss.s[i].label == 1);
            check(ss.s[i].offset >= 0 && (size_t)ss.s[i].offset < len && text[ss.s[i].offset] == '{');
        }
    }
    data_sentences_free(&ss);
    fuzz_write("sentences", 0, "s.json", text, len);
    char spec[256];
    snprintf(spec, sizeof spec, "Sentiment('.', sources='s', level='%s', lowercase=%s, max_len=%s, split='%s', val=%s, test=%s)",
             data[0] & 1 ? "char" : "word", data[0] & 2 ? "True" : "False", data[0] & 4 ? "3" : "None",
             data[0] & 8 ? "stratified" : "random", data[0] & 16 ? "0.3" : "0", data[0] & 32 ? "1" : "0");
    eta_dataset *ds;
    rc = eta_data_open(&ds, spec, fuzz_folder("sentences"), &e);
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "%s: %s\n", spec, rc ? e.msg : "opened");
    if (rc) {
        check(rc == ETA_EFORMAT || rc == ETA_EINVAL || rc == ETA_ENOMEM || rc == ETA_EIO);
        check(e.msg[0] != '\0' && ds == NULL);
        return 0;
    }
    const eta_data_info *in = eta_data_get_info(ds);
    check(in->tokens && in->padding_idx == 0 && in->vocab >= 2 && in->size[0] >= 1);
    for (int64_t id = 0; id < in->vocab; id++)
        check(eta_data_token(ds, id) != NULL);
    int64_t T = in->input_shape[0];
    for (int s = 0; s < 3; s++) {
        void *xv, *yv;
        int64_t n = fuzz_gather(ds, s, &xv, &yv);
        const int32_t *x = xv, *y = yv;
        for (int64_t i = 0; i < n; i++) {
            check(y[i] == 0 || y[i] == 1);
            check(x[i * T] != 0); /* never all padding */
            for (int64_t j = 0; j < T; j++)
                check(x[i * T + j] >= 0 && x[i * T + j] < in->vocab);
        }
        free(xv), free(yv);
    }
    eta_data_free(ds);
    return 0;
}
