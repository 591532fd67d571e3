/* tests/test_core_names.c - "did you mean" hints (eta_name_distance,
 * eta_names_hint) and messages too long for their buffer: the nearest names
 * first, a list either whole or cut with "..." and where to see it all, and
 * any cut message ending in "..."; the schedule, optimizer and keyword sites
 * that use them (modules and losses: test_nn_dense.c; the eta command:
 * test_cli_ux.c).
 * labels: unit
 */
#include "harness.h"

#include <eta/eta.h>

static const char *const FEW[] = {"SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Lion"};

/* 40 names, "name_00" ... "name_39", and a few real ones. */
static char many[44][24];

static const char *at(const void *ctx, int i)
{
    return ((const char *const *)ctx)[i];
}

static const char *many_at(const void *ctx, int i)
{
    (void)ctx;
    return many[i];
}

static void test_distance(void **state)
{
    (void)state;
    assert_int_equal(eta_name_distance("Linera", "Linear"), 1); /* a swap of neighbours */
    assert_int_equal(eta_name_distance("relu", "ReLU"), 0);     /* case is ignored */
    assert_int_equal(eta_name_distance("kitten", "sitting"), 3);
    assert_int_equal(eta_name_distance("", "abc"), 3);
    assert_int_equal(eta_name_distance("CosineAnealingLR", "CosineAnnealingLR"), 1);
    char longer[200];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    assert_int_equal(eta_name_distance(longer, "a"), 199);
}

static void expect_hint(const char *name, const char *const *names, int count, size_t n, const char *want)
{
    char buf[512] = "lead";
    assert_true(n <= sizeof buf);
    size_t len = eta_names_hint(buf, n, name, at, names, count, "optimizers", "eta optimize --help");
    assert_string_equal(buf, want);
    assert_int_equal(len, strlen(want));
}

static void test_forms(void **state)
{
    (void)state;
    const int nf = (int)(sizeof FEW / sizeof FEW[0]);
    /* Close names (the smallest distance only), then the whole list. */
    expect_hint("Adamm", FEW, nf, 512,
                "lead; did you mean Adam or AdamW? valid optimizers: SGD, Adam, AdamW, Adamax, NAdam, RAdam, Lion");
    expect_hint("adamw", FEW, nf, 512,
                "lead; did you mean AdamW? valid optimizers: SGD, Adam, AdamW, Adamax, NAdam, RAdam, Lion");
    expect_hint("Foo", FEW, nf, 512, "lead; valid optimizers: SGD, Adam, AdamW, Adamax, NAdam, RAdam, Lion");
    /* One-letter names are close to nothing but themselves in another case. */
    expect_hint("x", FEW, nf, 512, "lead; valid optimizers: SGD, Adam, AdamW, Adamax, NAdam, RAdam, Lion");
    /* A prefix of three characters or more is close. */
    expect_hint("Lio", FEW, nf, 512,
                "lead; did you mean Lion? valid optimizers: SGD, Adam, AdamW, Adamax, NAdam, RAdam, Lion");
    /* The list does not fit: the close name and where to see all. */
    expect_hint("Adamm", FEW, nf, 70, "lead; did you mean Adam or AdamW? (eta optimize --help shows all 7)");
    expect_hint("Adamm", FEW, nf, 36, "lead; did you mean Adam or AdamW?");
    expect_hint("Adamm", FEW, nf, 10, "lead");
    /* A long catalogue with no close name: the nearest few, "..." and where
     * to see all; fewer while they do not fit; then where to see all alone;
     * then nothing. */
    const struct {
        size_t n;
        const char *want;
    } near[] = {
        {200, "lead; valid schedules include WSD, StepLR, name_00, name_01, name_02, ... (eta schedule --list shows "
              "all 44)"},
        {90, "lead; valid schedules include WSD, StepLR, ... (eta schedule --list shows all 44)"},
        {80, "lead; valid schedules include WSD, ... (eta schedule --list shows all 44)"},
        {50, "lead; (eta schedule --list shows all 44)"},
        {40, "lead"},
    };
    for (size_t i = 0; i < sizeof near / sizeof near[0]; i++) {
        char buf[512] = "lead";
        eta_names_hint(buf, near[i].n, "Foo", many_at, NULL, 44, "schedules", "eta schedule --list");
        assert_string_equal(buf, near[i].want);
    }
    /* Three close names at most, all at the smallest distance. */
    char buf[512] = "lead";
    eta_names_hint(buf, 100, "name_4", many_at, NULL, 44, "schedules", "eta schedule --list");
    assert_string_equal(buf, "lead; did you mean name_04, name_14 or name_24? (eta schedule --list shows all 44)");
    /* An empty catalogue, and no buffer. */
    expect_hint("Foo", FEW, 0, 512, "lead; valid optimizers: none");
    assert_int_equal(eta_names_hint(NULL, 0, "x", at, FEW, nf, "a", NULL), 0);
    /* No place named: the count. */
    snprintf(buf, 64, "f() got 'nope'");
    eta_names_hint(buf, 64, "nope", many_at, NULL, 40, "arguments", NULL);
    assert_string_equal(buf, "f() got 'nope'; (40 arguments in all)");
}

/* Whatever the room, the text already there stays, the result fits, and a
 * list is whole or ends with "..." and says where all of them are. */
static void test_never_cut_silently(void **state)
{
    (void)state;
    const char *lead = "unknown schedule 'Cosine'";
    const char *names[] = {"zzz", "Cosine_", "quadratic", "nope", "name_7", "NAME_07"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        for (size_t n = 1; n <= 400; n++) {
            char buf[400];
            snprintf(buf, sizeof buf, "%s", lead);
            if (n <= strlen(lead))
                buf[n - 1] = '\0';
            char before[400];
            snprintf(before, sizeof before, "%s", buf);
            size_t len = eta_names_hint(buf, n, names[k], many_at, NULL, 44, "schedules", "eta schedule --list");
            assert_int_equal(len, strlen(buf));
            assert_true(len < n);
            assert_int_equal(strncmp(buf, before, strlen(before)), 0);
            const char *hint = buf + strlen(before);
            const char *list = strstr(hint, "valid schedules");
            if (!list)
                continue;
            if (strstr(list, "valid schedules: ")) {
                assert_non_null(strstr(list, many[0]));
                assert_non_null(strstr(list, many[43])); /* the whole list, to its last name */
            } else {
                assert_non_null(strstr(list, ", ... (eta schedule --list shows all 44)"));
            }
        }
}

/* A message longer than its buffer ends with "...", at a character boundary. */
static void test_cut_messages(void **state)
{
    (void)state;
    eta_err e;
    char word[400];
    memset(word, 'x', sizeof word - 1);
    word[sizeof word - 1] = '\0';
    assert_int_equal(eta_spec_fail(&e, ETA_EINVAL, NULL, "bad '%s'", word), ETA_EINVAL);
    assert_int_equal(strlen(e.msg), sizeof e.msg - 1);
    assert_string_equal(e.msg + strlen(e.msg) - 4, "x...");
    /* UTF-8: never half a character before the mark. */
    char utf[400] = "";
    while (strlen(utf) + 2 < sizeof utf - 1)
        strcat(utf, "\xc3\xa9"); /* e-acute */
    eta_spec_fail(&e, ETA_EINVAL, NULL, "%s%s", "a", utf);
    size_t len = strlen(e.msg);
    assert_string_equal(e.msg + len - 3, "...");
    assert_true(((unsigned char)e.msg[len - 4] & 0xC0) != 0xC0); /* not a lead byte without its tail */
    /* A message that fits is left alone. */
    eta_spec_fail(&e, ETA_EINVAL, NULL, "short");
    assert_string_equal(e.msg, "short");
    /* The long keyword name of a real schedule: cut with the mark, no hint. */
    char spec[600];
    snprintf(spec, sizeof spec, "StepLR(step_size=3, %s=1)", word);
    eta_sched *s;
    assert_int_equal(eta_sched_new(&s, spec, &e), ETA_EINVAL);
    assert_string_equal(e.msg + strlen(e.msg) - 3, "...");
}

/* The sites: schedules, optimizers and keyword arguments. */
static void test_sites(void **state)
{
    (void)state;
    eta_err e;
    eta_sched *s;
    assert_int_equal(eta_sched_new(&s, "CosineAnealingLR(T_max=10)", &e), ETA_EINVAL);
    char want[128];
    snprintf(want, sizeof want,
             "unknown schedule 'CosineAnealingLR'; did you mean CosineAnnealingLR? (eta schedule --list shows all %d)",
             eta_sched_kind_count());
    assert_string_equal(e.msg, want);
    assert_int_equal(eta_sched_new(&s, "Foo()", &e), ETA_EINVAL);
    assert_non_null(strstr(e.msg, "unknown schedule 'Foo'; valid schedules include "));
    assert_non_null(strstr(e.msg, ", ... (eta schedule --list shows all "));
    eta_optim_config cfg;
    assert_int_equal(eta_optim_config_from_spec(&cfg, "Adamw(lr=0.1)", &e), ETA_EINVAL);
    /* 27 optimizers no longer fit in a message: the close name and where to see them all */
    snprintf(want, sizeof want, "unknown optimizer 'Adamw'; did you mean AdamW? (eta optimize --help shows all %d)",
             ETA_OPTIM_COUNT);
    assert_string_equal(e.msg, want);
    assert_int_equal(eta_sched_new(&s, "OneCycleLR(max_lr=0.1, total_step=100)", &e), ETA_EINVAL);
    assert_string_equal(e.msg, "OneCycleLR() got an unexpected keyword argument 'total_step'; did you mean "
                               "total_steps? (14 arguments in all)");
    assert_int_equal(eta_sched_new(&s, "StepLR(step_sze=3)", &e), ETA_EINVAL);
    assert_string_equal(e.msg, "StepLR() got an unexpected keyword argument 'step_sze'; did you mean step_size? "
                               "valid arguments: step_size, gamma, last_epoch, verbose");
}

int main(void)
{
    for (int i = 0; i < 40; i++)
        snprintf(many[i], sizeof many[i], "name_%02d", i);
    snprintf(many[40], sizeof many[40], "CosineDecay");
    snprintf(many[41], sizeof many[41], "StepLR");
    snprintf(many[42], sizeof many[42], "LinearLR");
    snprintf(many[43], sizeof many[43], "WSD");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_never_cut_silently),
        cmocka_unit_test(test_cut_messages),
        cmocka_unit_test(test_sites),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
