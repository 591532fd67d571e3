/* tests/test_cli_docs.c - every command that README.md and docs/<page>.md
 * show with its output is run, and eta must print what the page shows.
 * labels: cli
 *
 * Which blocks: fenced code blocks (``` with any info string) in README.md
 * and docs/<page>.md (under ETA_SOURCE_DIR), found afresh at each run, so a
 * new page or block is covered without touching this file. In a block, a
 * line "$ CMD" starts a command; the lines after it continue the command
 * while a quote is open or the line ends with a backslash (README's two-line
 * `eta model`); every line after that, up to the next "$ " line or the
 * closing fence, is the output the page shows. In that output a line "..."
 * stands for any number of lines, none included. Lines compare exactly,
 * except for trailing blanks, which a page does not show.
 *
 * How a command runs: verbatim with /bin/sh -c, in a new empty directory (so
 * `--plot onecycle.png` writes there), stdin from /dev/null, with PATH
 * starting with a directory whose `eta` is the built binary (ETA_BIN), so the
 * text and eta's own messages both say `eta`; a first word that is a path to
 * an eta (./build/release/eta) becomes `eta`. stdout and stderr go to one
 * file, as with 2>&1: the order a terminal shows as long as eta flushes its
 * table before a later message (eta demo does; a block that differs only in
 * order means a pipe and a terminal show different things). The exit status
 * must be 0, or 1 or 2 when what is shown is an error message: the command
 * then runs a second time to check that it wrote nothing to stdout.
 *
 * Not run, and why:
 *  - "$ " lines of other programs (their output lines are skipped): listed in
 *    this test's log, so a page that starts showing one is noticed;
 *  - blocks without a "$ " line: README's Quick start (`./bootstrap demo` and
 *    `./bootstrap test` install packages and build everything; the `$ eta
 *    demo` block shows what the first ends by printing), the C snippets
 *    (fragments: examples/quickstart.c and examples/digits.c are the whole
 *    programs, built and run by tools/check-install.sh and as tests), the
 *    state-file layout in docs/optim.md and the synopsis under "The command
 *    line" (no command, no output);
 *  - commands in running text, in backticks: cmake and ctest (the build and
 *    the tests themselves), `cc ... $(pkg-config ...)` (needs an install:
 *    tools/check-install.sh), the programs and scripts in bench/ (timings,
 *    which no test asserts), the fixture generators in tools/ (PyTorch), and
 *    eta commands whose claim is a number of their own (test_cli.c checks
 *    `eta optimize` against PyTorch's trajectory, `eta demo` against numpy).
 *
 * On a mismatch the log gives FILE:LINE of the command, the exit status and a
 * diff whose "-" lines are the page's (each with its FILE:LINE) and whose "+"
 * lines are eta's; every block is checked before the test fails. The first
 * two tests check the block finder and the matcher on made-up pages, and the
 * last fails if README.md yields no eta command, so a broken finder cannot
 * pass by finding nothing.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

/* The matcher's table has (page lines + 1) x (output lines + 1) cells. */
#define MAX_CELLS 50000000

/* ---- lines ---------------------------------------------------------------- */

typedef struct {
    char **v;
    int n, cap;
} lines;

/* Appends s[0..len) without its trailing blanks. */
static void lines_push(lines *l, const char *s, size_t len)
{
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        len--;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = realloc(l->v, (size_t)l->cap * sizeof *l->v);
        assert_non_null(l->v);
    }
    char *c = malloc(len + 1);
    assert_non_null(c);
    memcpy(c, s, len);
    c[len] = 0;
    l->v[l->n++] = c;
}

static void lines_free(lines *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    *l = (lines){0};
}

/* Splits text at '\n'; a final newline does not start another line. */
static void lines_split(lines *l, const char *text)
{
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t)(nl - text) : strlen(text);
        lines_push(l, text, len);
        text += len + (nl != NULL);
    }
}

/* ---- finding the blocks ----------------------------------------------------- */

typedef struct {
    char where[128]; /* "README.md:117", the "$ " line */
    const char *file;
    int line, out_line; /* 1-based: the "$ " line, the first output line */
    char *cmd;          /* the command, continuation lines joined by '\n' */
    bool is_eta;        /* run it (else: listed as skipped) */
    lines want;
} block;

typedef struct {
    block *v;
    int n, cap;
} blocks;

static void blocks_free(blocks *b)
{
    for (int i = 0; i < b->n; i++) {
        free(b->v[i].cmd);
        lines_free(&b->v[i].want);
    }
    free(b->v);
    *b = (blocks){0};
}

/* True when sh would read another line: a quote left open, or a final
 * backslash. */
static bool command_continues(const char *s)
{
    char quote = 0;
    for (; *s; s++) {
        if (quote == '\'') {
            if (*s == '\'')
                quote = 0;
        } else if (*s == '\\') {
            if (!s[1] || (s[1] == '\n' && !s[2]))
                return true;
            s++;
        } else if (quote == '"') {
            if (*s == '"')
                quote = 0;
        } else if (*s == '\'' || *s == '"') {
            quote = *s;
        }
    }
    return quote != 0;
}

/* Whether the command runs eta, after leading NAME=value words; a first word
 * that is a path to an eta is rewritten in place to `eta`. */
static bool runs_eta(char *cmd)
{
    char *s = cmd;
    for (;;) {
        size_t w = strcspn(s, " \t\n");
        char *eq = memchr(s, '=', w);
        if (!eq || eq == s || memchr(s, '\'', w) || memchr(s, '"', w))
            break;
        s += w + strspn(s + w, " \t\n");
    }
    size_t w = strcspn(s, " \t\n");
    if (w == 3 && !strncmp(s, "eta", 3))
        return true;
    if (w > 4 && !strncmp(s + w - 4, "/eta", 4) && !memchr(s, '\'', w) && !memchr(s, '"', w)) {
        memmove(s, s + w - 3, strlen(s + w - 3) + 1);
        return true;
    }
    return false;
}

/* Adds the "$ " blocks of one page (name: its path under the source tree). */
static void find_blocks(blocks *out, const char *name, const char *text)
{
    lines doc = {0};
    lines_split(&doc, text);
    size_t fence_indent = 0;
    bool in_fence = false;
    block *cur = NULL;
    for (int i = 0; i < doc.n; i++) {
        const char *raw = doc.v[i];
        size_t indent = strspn(raw, " ");
        if (indent < 4 && !strncmp(raw + indent, "```", 3)) {
            in_fence = !in_fence;
            fence_indent = indent;
            cur = NULL;
            continue;
        }
        if (!in_fence)
            continue;
        const char *s = raw + (indent < fence_indent ? indent : fence_indent);
        if (strncmp(s, "$ ", 2)) {
            if (cur)
                lines_push(&cur->want, s, strlen(s));
            continue;
        }
        if (out->n == out->cap) {
            out->cap = out->cap ? 2 * out->cap : 8;
            out->v = realloc(out->v, (size_t)out->cap * sizeof *out->v);
            assert_non_null(out->v);
        }
        cur = &out->v[out->n++];
        *cur = (block){.file = name, .line = i + 1};
        snprintf(cur->where, sizeof cur->where, "%s:%d", name, i + 1);
        size_t cap = strlen(s) + 1;
        cur->cmd = malloc(cap);
        assert_non_null(cur->cmd);
        strcpy(cur->cmd, s + 2);
        while (command_continues(cur->cmd) && i + 1 < doc.n &&
               strncmp(doc.v[i + 1] + strspn(doc.v[i + 1], " "), "```", 3)) {
            const char *next = doc.v[++i];
            cap += strlen(next) + 1;
            cur->cmd = realloc(cur->cmd, cap);
            assert_non_null(cur->cmd);
            strcat(strcat(cur->cmd, "\n"), next);
        }
        cur->out_line = i + 2;
        cur->is_eta = runs_eta(cur->cmd);
    }
    lines_free(&doc);
}

/* ---- matching and the diff ------------------------------------------------- */

enum { OP_SAME, OP_ANY, OP_DEL, OP_ADD };
typedef struct {
    int kind, want, got, count; /* count: lines an OP_ANY ("...") stood for */
} op;

static bool is_any(const char *s) { return !strcmp(s, "..."); }

/* Edit distance of got from want, where "..." in want absorbs any lines for
 * free; 0 means they match. Fills ops (malloc'd) with the alignment. */
static int match_lines(const lines *want, const lines *got, op **ops, int *nops)
{
    int n = want->n, m = got->n;
    size_t w = (size_t)m + 1;
    int *c = malloc((size_t)(n + 1) * w * sizeof *c);
    assert_non_null(c);
#define C(i, j) c[(size_t)(i) * w + (size_t)(j)]
    for (int j = m; j >= 0; j--)
        C(n, j) = m - j;
    for (int i = n - 1; i >= 0; i--)
        for (int j = m; j >= 0; j--) {
            if (is_any(want->v[i])) {
                C(i, j) = j < m && C(i, j + 1) < C(i + 1, j) ? C(i, j + 1) : C(i + 1, j);
                continue;
            }
            int best = 1 + C(i + 1, j);
            if (j < m) {
                if (!strcmp(want->v[i], got->v[j]) && C(i + 1, j + 1) < best)
                    best = C(i + 1, j + 1);
                if (1 + C(i, j + 1) < best)
                    best = 1 + C(i, j + 1);
            }
            C(i, j) = best;
        }
    int cost = C(0, 0);
    *ops = malloc((size_t)(n + m + 1) * sizeof **ops);
    assert_non_null(*ops);
    int k = 0, i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && is_any(want->v[i])) {
            int j0 = j;
            while (j < m && C(i + 1, j) != C(i, j))
                j++;
            (*ops)[k++] = (op){OP_ANY, i++, j0, j - j0};
        } else if (i < n && j < m && !strcmp(want->v[i], got->v[j]) && C(i, j) == C(i + 1, j + 1)) {
            (*ops)[k++] = (op){OP_SAME, i++, j++, 0};
        } else if (i < n && C(i, j) == 1 + C(i + 1, j)) {
            (*ops)[k++] = (op){OP_DEL, i++, j, 0};
        } else {
            (*ops)[k++] = (op){OP_ADD, i, j++, 0};
        }
    }
#undef C
    free(c);
    *nops = k;
    return cost;
}

/* Whether ops[k] is a change or within 3 of one. */
static bool near_change(const op *ops, int nops, int k)
{
    for (int d = -3; d <= 3; d++)
        if (k + d >= 0 && k + d < nops && (ops[k + d].kind == OP_DEL || ops[k + d].kind == OP_ADD))
            return true;
    return false;
}

/* Prints the alignment: in a long one, only the lines within 3 of a change
 * (the rest as a count). Page lines carry their FILE:LINE. */
static void print_diff(const block *b, const lines *got, const op *ops, int nops)
{
    char label[160];
    for (int k = 0; k < nops;) {
        if (nops > 12 && !near_change(ops, nops, k)) {
            int run = 0;
            for (; k < nops && !near_change(ops, nops, k); k++)
                run++;
            print_error("       [%d line%s that match%s]\n", run, run == 1 ? "" : "s", run == 1 ? "es" : "");
            continue;
        }
        const op *o = &ops[k++];
        snprintf(label, sizeof label, "%s:%d", b->file, b->out_line + o->want);
        if (o->kind == OP_SAME)
            print_error("    %-18s | %s\n", label, b->want.v[o->want]);
        else if (o->kind == OP_ANY)
            print_error("    %-18s | ...   (stands for %d line%s)\n", label, o->count, o->count == 1 ? "" : "s");
        else if (o->kind == OP_DEL)
            print_error("  - %-18s | %s\n", label, b->want.v[o->want]);
        else
            print_error("  + %-18s | %s\n", "eta", got->v[o->got]);
    }
}

/* ---- running a command -------------------------------------------------------- */

static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st))
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        char child[PATH_MAX];
        while (d && (e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(child, sizeof child, "%s/%s", path, e->d_name);
                remove_tree(child);
            }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Runs cmd as the header says; *out gets stdout and stderr together
 * (both_streams) or stdout alone. Returns the exit status, or -signal. */
static int run_command(const char *cmd, bool both_streams, char **out)
{
    const char *bin = getenv("ETA_BIN");
    char cwd[PATH_MAX], eta[2 * PATH_MAX], root[PATH_MAX], path[PATH_MAX + 16], outfile[PATH_MAX + 16],
        workdir[PATH_MAX + 16];
    if (!bin || access(bin, X_OK) || !getcwd(cwd, sizeof cwd))
        fail_msg("ETA_BIN (the built eta) is not set or not found: %s", bin ? bin : "(unset)");
    snprintf(eta, sizeof eta, "%s%s%s", bin[0] == '/' ? "" : cwd, bin[0] == '/' ? "" : "/", bin);
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/eta_docs_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(root));
    snprintf(path, sizeof path, "%s/bin", root);
    snprintf(workdir, sizeof workdir, "%s/work", root);
    snprintf(outfile, sizeof outfile, "%s/output", root);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(mkdir(workdir, 0700), 0);
    strcat(path, "/eta");
    assert_int_equal(symlink(eta, path), 0);
    path[strlen(path) - 4] = 0;
    const char *old = getenv("PATH");
    size_t plen = strlen(path) + (old ? strlen(old) : 0) + 2;
    char *newpath = malloc(plen);
    assert_non_null(newpath);
    snprintf(newpath, plen, "%s:%s", path, old ? old : "/usr/bin:/bin");
    /* In the ASan build, LeakSanitizer lists the suppressions it used (tests/
     * lsan.supp) after the output; a real leak still prints. */
    const char *lsan = getenv("LSAN_OPTIONS");
    char lsan_opts[1024];
    snprintf(lsan_opts, sizeof lsan_opts, "%s%sprint_suppressions=0", lsan ? lsan : "", lsan && *lsan ? ":" : "");

    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null_in = open("/dev/null", O_RDONLY), null_out = open("/dev/null", O_WRONLY);
        if (fd < 0 || null_in < 0 || null_out < 0 || chdir(workdir) || setenv("PATH", newpath, 1) ||
            setenv("LSAN_OPTIONS", lsan_opts, 1))
            _exit(126);
        dup2(null_in, 0);
        dup2(fd, 1);
        dup2(both_streams ? fd : null_out, 2);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    free(newpath);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        assert_int_equal(errno, EINTR);
    *out = read_file(outfile, NULL);
    assert_non_null(*out);
    remove_tree(root);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

/* Checks one block; prints "ok" or the report. Returns true when it passes. */
static bool check_block(const block *b)
{
    char *out;
    int rc = run_command(b->cmd, true, &out);
    lines got = {0};
    lines_split(&got, out);
    free(out);
    bool too_long = (double)(b->want.n + 1) * (got.n + 1) > MAX_CELLS;
    op *ops = NULL;
    int nops = 0, cost = too_long ? 1 : match_lines(&b->want, &got, &ops, &nops);
    bool error_output = false;
    if (rc == 1 || rc == 2) {
        char *stdout_only;
        run_command(b->cmd, false, &stdout_only);
        error_output = stdout_only[0] == 0;
        free(stdout_only);
    }
    bool exit_ok = rc == 0 || error_output;
    if (cost == 0 && exit_ok) {
        print_message("%s: ok, %d lines, exit %d%s: $ %.60s%s\n", b->where, got.n, rc,
                      rc ? " (an error message)" : "", b->cmd, strlen(b->cmd) > 60 ? "..." : "");
    } else {
        print_error("\n%s: $ %s\n", b->where, b->cmd);
        if (rc < 0)
            print_error("  eta was killed by signal %d\n", -rc);
        else if (!exit_ok)
            print_error("  exit %d%s: a page shows a successful command (exit 0) or an error message (exit 1 or 2, "
                        "nothing on stdout)\n", rc, rc == 1 || rc == 2 ? " with output on stdout" : "");
        else
            print_error("  exit %d (fine)\n", rc);
        if (too_long)
            print_error("  eta printed %d lines, too many to compare with the page's %d\n", got.n, b->want.n);
        else if (cost) {
            print_error("  eta's output differs from the page's (- %s, + eta):\n", b->file);
            print_diff(b, &got, ops, nops);
        }
        print_error("  to see it: run the command in an empty directory with eta = %s\n", getenv("ETA_BIN"));
    }
    free(ops);
    lines_free(&got);
    return cost == 0 && exit_ok;
}

/* ---- the block finder and the matcher on made-up pages --------------------- */

static int match_text(const char *want_text, const char *got_text)
{
    lines w = {0}, g = {0};
    lines_split(&w, want_text);
    lines_split(&g, got_text);
    op *ops;
    int nops, cost = match_lines(&w, &g, &ops, &nops);
    free(ops);
    lines_free(&w);
    lines_free(&g);
    return cost;
}

static void test_matcher(void **state)
{
    (void)state;
    assert_int_equal(match_text("a\nb\n", "a\nb\n"), 0);
    assert_int_equal(match_text("a\nb   \n", "a  \nb\n"), 0); /* trailing blanks */
    assert_int_equal(match_text("", ""), 0);
    assert_int_equal(match_text("a\n...\n", "a\n"), 0);       /* none */
    assert_int_equal(match_text("a\n...\nz\n", "a\nb\nc\nd\nz\n"), 0);
    assert_int_equal(match_text("...\nz\n", "a\nz\n"), 0);
    assert_int_equal(match_text("a\n...\nm\n...\n", "a\nb\nm\nn\no\n"), 0);
    assert_int_equal(match_text("a\n...\nm\n...\n", "a\nb\nn\n"), 1); /* m is missing */
    assert_int_equal(match_text("a\nb\n", "a\nc\n"), 2);             /* one line changed */
    assert_int_equal(match_text("a\nb\n", "a\n"), 1);
    assert_int_equal(match_text("a\n", "a\nb\n"), 1);
    assert_int_equal(match_text(" a\n", "a\n"), 2);                  /* leading blanks count */
    assert_int_equal(match_text("a\n\nb\n", "a\nb\n"), 1);           /* so do blank lines */
    assert_int_equal(match_text("a\n...\n", "b\nc\n"), 1);           /* a is missing, ... takes b, c */
}

static void test_finder(void **state)
{
    (void)state;
    const char *page = "# t\n"
                       "$ eta not in a fence\n"
                       "```\n"
                       "$ eta model 'Sequential(Linear(2, 3),\n"
                       "             ReLU())' --input 2\n"
                       "out 1\n"
                       "...\n"
                       "$ cmake --preset release\n"
                       "-- configured\n"
                       "$ ./build/release/eta demo \\\n"
                       "    --steps 3\n"
                       "```\n"
                       "\n"
                       "  ```sh\n"
                       "  $ OMP_NUM_THREADS=1 eta schedule \"StepLR(step_size=3, gamma=0.5)\"\n"
                       "  step,lr\n"
                       "  ```\n"
                       "```c\n"
                       "int x; /* $ eta */\n"
                       "```\n";
    blocks b = {0};
    find_blocks(&b, "page.md", page);
    assert_int_equal(b.n, 4);
    assert_string_equal(b.v[0].where, "page.md:4");
    assert_string_equal(b.v[0].cmd, "eta model 'Sequential(Linear(2, 3),\n             ReLU())' --input 2");
    assert_true(b.v[0].is_eta);
    assert_int_equal(b.v[0].out_line, 6);
    assert_int_equal(b.v[0].want.n, 2);
    assert_string_equal(b.v[0].want.v[1], "...");
    assert_false(b.v[1].is_eta);
    assert_int_equal(b.v[1].want.n, 1);
    assert_true(b.v[2].is_eta);
    assert_string_equal(b.v[2].cmd, "eta demo \\\n    --steps 3");
    assert_int_equal(b.v[2].want.n, 0);
    assert_true(b.v[3].is_eta);
    assert_int_equal(b.v[3].line, 15);
    assert_string_equal(b.v[3].want.v[0], "step,lr");
    blocks_free(&b);
    assert_false(command_continues("eta x 'a\\'"));
    assert_true(command_continues("eta x \"a\\\"b"));
}

/* ---- the pages ------------------------------------------------------------------- */

static int is_md(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 3 && !strcmp(e->d_name + n - 3, ".md");
}

/* Reads README.md and every docs/<page>.md (ETA_SOURCE_DIR); returns how
 * many pages. */
static int read_pages(char ***names, char ***texts)
{
    const char *src = getenv("ETA_SOURCE_DIR");
    if (!src)
        fail_msg("ETA_SOURCE_DIR (the source tree, set by CTest) is not set");
    char dir[PATH_MAX], path[PATH_MAX + 300];
    snprintf(dir, sizeof dir, "%s/docs", src);
    struct dirent **ents;
    int n = scandir(dir, &ents, is_md, alphasort);
    if (n < 0) {
        fail_msg("%s: %s", dir, strerror(errno));
        return 0;
    }
    *names = calloc((size_t)n + 1, sizeof **names);
    *texts = calloc((size_t)n + 1, sizeof **texts);
    assert_true(*names && *texts);
    for (int i = 0; i <= n; i++) {
        char name[300] = "README.md";
        if (i)
            snprintf(name, sizeof name, "docs/%s", ents[i - 1]->d_name);
        snprintf(path, sizeof path, "%s/%s", src, name);
        (*names)[i] = strdup(name);
        (*texts)[i] = read_file(path, NULL);
        if (!(*texts)[i])
            fail_msg("cannot read %s", path);
        if (i)
            free(ents[i - 1]);
    }
    free(ents);
    return n + 1;
}

static void test_docs(void **state)
{
    (void)state;
    char **names, **texts;
    int npages = read_pages(&names, &texts);
    blocks b = {0};
    int run = 0, failed = 0, in_readme = 0;
    for (int p = 0; p < npages; p++) {
        int before = b.n;
        find_blocks(&b, names[p], texts[p]);
        for (int i = before; p == 0 && i < b.n; i++)
            in_readme += b.v[i].is_eta;
    }
    for (int i = 0; i < b.n; i++) {
        if (!b.v[i].is_eta) {
            print_message("%s: not run (not eta): $ %s\n", b.v[i].where, b.v[i].cmd);
            continue;
        }
        run++;
        failed += !check_block(&b.v[i]);
    }
    print_message("%d commands from %d pages run, %d differ from their page\n", run, npages, failed);
    blocks_free(&b);
    for (int p = 0; p < npages; p++) {
        free(names[p]);
        free(texts[p]);
    }
    free(names);
    free(texts);
    if (in_readme == 0)
        fail_msg("README.md: no \"$ eta\" line in a fenced block was found (is the finder broken?)");
    if (failed)
        fail_msg("%d of %d commands shown in the docs print something else than the page says (diffs above)", failed,
                 run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matcher),
        cmocka_unit_test(test_finder),
        cmocka_unit_test(test_docs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
