/* test_core_spec.c - the spec parser, binder, typed readers and error record. labels: unit
 *
 * Every literal kind, nesting, byte positions, parse errors with exact
 * locations and messages, Python's argument binding rules, range messages,
 * eta_err_format byte for byte, CRC-32. Leaks are caught by the ASan build.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eta/core.h"

static eta_spec *parse_ok(const char *text)
{
    eta_spec *s = NULL;
    eta_err e;
    int rc = eta_spec_parse(&s, text, &e);
    if (rc != ETA_OK)
        fail_msg("parse of <%s> failed at %d: %s", text, e.pos, e.msg);
    assert_non_null(s);
    assert_int_equal(e.code, ETA_OK);
    return s;
}

static void expect_parse_error(const char *text, int pos, int len, const char *msg)
{
    eta_spec *s = (eta_spec *)&s; /* must be reset to NULL */
    eta_err e;
    int rc = eta_spec_parse(&s, text, &e);
    if (rc != ETA_EFORMAT)
        fail_msg("<%s>: expected ETA_EFORMAT, got %d", text, rc);
    assert_null(s);
    assert_int_equal(e.code, ETA_EFORMAT);
    assert_string_equal(e.msg, msg);
    if (e.pos != pos || e.len != len)
        fail_msg("<%s>: expected error at %d+%d, got %d+%d", text, pos, len, e.pos, e.len);
}

static void expect_number(const eta_spec *s, double v, bool is_int, int pos, int len)
{
    assert_int_equal(s->kind, ETA_SPEC_NUMBER);
    if (isnan(v))
        assert_true(isnan(s->num));
    else if (s->num != v)
        fail_msg("expected %.17g, got %.17g", v, s->num);
    assert_int_equal(s->is_int, is_int);
    assert_int_equal(s->pos, pos);
    assert_int_equal(s->len, len);
}

static void expect_number_text(const char *text, double v, bool is_int)
{
    eta_spec *s = parse_ok(text);
    expect_number(s, v, is_int, 0, (int)strlen(text));
    eta_spec_free(s);
}

/* ---- literals ----------------------------------------------------------- */

static void test_numbers(void **state)
{
    (void)state;
    expect_number_text("0", 0, true);
    expect_number_text("42", 42, true);
    expect_number_text("1_000", 1000, true);
    expect_number_text("1_000.5", 1000.5, false);
    expect_number_text(".5", 0.5, false);
    expect_number_text("5.", 5.0, false);
    expect_number_text("1e-3", 1e-3, false);
    expect_number_text("3e-4", 3e-4, false);
    expect_number_text("1E+3", 1000.0, false);
    expect_number_text("2.5e1_0", 2.5e10, false);
    expect_number_text("0.1", 0.1, false);
    expect_number_text("-0.8", -0.8, false);
    expect_number_text("+1", 1, true);
    expect_number_text("--2", 2, true);
    expect_number_text("- 3", -3, true);
    expect_number_text("00", 0, true);
    expect_number_text("01.5", 1.5, false);
    expect_number_text("0x1F", 31, true);
    expect_number_text("0o17", 15, true);
    expect_number_text("0b101", 5, true);
    expect_number_text("0x_ff", 255, true);
    expect_number_text("1e999", INFINITY, false);
    expect_number_text("1e-999", 0.0, false);
    expect_number_text("inf", INFINITY, false);
    expect_number_text("-inf", -INFINITY, false);
    expect_number_text("nan", NAN, false);
    expect_number_text("math.inf", INFINITY, false);
    expect_number_text("float('inf')", INFINITY, false);
    expect_number_text("float(\"nan\")", NAN, false);
    expect_number_text("float('-Infinity')", -INFINITY, false);
    expect_number_text("-float('inf')", -INFINITY, false);
    expect_number_text("float(' 1_0.5 ')", 10.5, false);
    expect_number_text("float(3)", 3.0, false);
    expect_number_text("float()", 0.0, false);
    /* Correct rounding, also past the digits kept (0.1 followed by 900 zeros and a 1). */
    expect_number_text("2.2250738585072011e-308", 2.2250738585072011e-308, false);
    expect_number_text("9007199254740993", 9007199254740992.0, true);
    char big[1000];
    strcpy(big, "0.1");
    memset(big + 3, '0', 900);
    strcpy(big + 903, "1");
    expect_number_text(big, 0.1, false);
    /* -0 is the integer 0, -0.0 keeps its sign. */
    eta_spec *s = parse_ok("-0");
    assert_false(signbit(s->num));
    eta_spec_free(s);
    s = parse_ok("-0.0");
    assert_true(signbit(s->num));
    eta_spec_free(s);
}

static void test_constants_strings_names(void **state)
{
    (void)state;
    eta_spec *s = parse_ok("True");
    assert_int_equal(s->kind, ETA_SPEC_BOOL);
    assert_true(s->num == 1);
    eta_spec_free(s);
    s = parse_ok(" False ");
    assert_int_equal(s->kind, ETA_SPEC_BOOL);
    assert_true(s->num == 0);
    assert_int_equal(s->pos, 1);
    assert_int_equal(s->len, 5);
    eta_spec_free(s);
    s = parse_ok("None");
    assert_int_equal(s->kind, ETA_SPEC_NONE);
    eta_spec_free(s);

    s = parse_ok("'linear'");
    assert_int_equal(s->kind, ETA_SPEC_STRING);
    assert_string_equal(s->str, "linear");
    assert_int_equal(s->len, 8);
    eta_spec_free(s);
    s = parse_ok("\"it's\"");
    assert_string_equal(s->str, "it's");
    eta_spec_free(s);
    s = parse_ok("''");
    assert_string_equal(s->str, "");
    eta_spec_free(s);
    s = parse_ok("'a\\tb\\n\\\\\\'\\\"\\x41\\101\\u00e9\\U0001F600\\q'");
    assert_string_equal(s->str, "a\tb\n\\'\"AA\xc3\xa9\xf0\x9f\x98\x80\\q");
    eta_spec_free(s);
    s = parse_ok("'ab' \"cd\"");  /* adjacent literals concatenate */
    assert_string_equal(s->str, "abcd");
    assert_int_equal(s->len, 9);
    eta_spec_free(s);
    s = parse_ok("u'x' R'\\'' U\"y\"");
    assert_string_equal(s->str, "x\\'y");
    eta_spec_free(s);
    s = parse_ok("r'\\d+'");
    assert_string_equal(s->str, "\\d+");
    eta_spec_free(s);
    s = parse_ok("'''a'b\nc'''");
    assert_string_equal(s->str, "a'b\nc");
    eta_spec_free(s);

    s = parse_ok("relu");
    assert_int_equal(s->kind, ETA_SPEC_NAME);
    assert_string_equal(s->str, "relu");
    eta_spec_free(s);
    s = parse_ok("torch.float32");
    assert_int_equal(s->kind, ETA_SPEC_NAME);
    assert_string_equal(s->str, "float32");
    assert_int_equal(s->pos, 0);
    assert_int_equal(s->len, 13);
    eta_spec_free(s);
}

/* ---- containers, calls, positions -------------------------------------- */

static void test_containers(void **state)
{
    (void)state;
    eta_spec *s = parse_ok("(0.9,)");
    assert_int_equal(s->kind, ETA_SPEC_TUPLE);
    assert_int_equal(s->n, 1);
    expect_number(s->items[0], 0.9, false, 1, 3);
    assert_int_equal(s->pos, 0);
    assert_int_equal(s->len, 6);
    eta_spec_free(s);
    s = parse_ok("(0.9)"); /* just a number */
    expect_number(s, 0.9, false, 1, 3);
    eta_spec_free(s);
    s = parse_ok("()");
    assert_int_equal(s->kind, ETA_SPEC_TUPLE);
    assert_int_equal(s->n, 0);
    eta_spec_free(s);
    s = parse_ok("[]");
    assert_int_equal(s->kind, ETA_SPEC_LIST);
    assert_int_equal(s->n, 0);
    eta_spec_free(s);
    s = parse_ok("{}");
    assert_int_equal(s->kind, ETA_SPEC_DICT);
    assert_int_equal(s->n, 0);
    eta_spec_free(s);
    s = parse_ok("[1, [2, (3, 4),], ]");
    assert_int_equal(s->kind, ETA_SPEC_LIST);
    assert_int_equal(s->n, 2);
    expect_number(s->items[0], 1, true, 1, 1);
    const eta_spec *in = s->items[1];
    assert_int_equal(in->kind, ETA_SPEC_LIST);
    assert_int_equal(in->pos, 4);
    assert_int_equal(in->len, 12);
    assert_int_equal(in->n, 2);
    assert_int_equal(in->items[1]->kind, ETA_SPEC_TUPLE);
    expect_number(in->items[1]->items[1], 4, true, 12, 1);
    eta_spec_free(s);

    const char *text = "{5: 1.5, 'a': [None], 10: -0.25,}";
    s = parse_ok(text);
    assert_int_equal(s->kind, ETA_SPEC_DICT);
    assert_int_equal(s->n, 3);
    expect_number(s->items[0], 5, true, 1, 1);
    expect_number(s->items[1], 1.5, false, 4, 3);
    assert_string_equal(s->items[2]->str, "a");
    assert_int_equal(s->items[3]->kind, ETA_SPEC_LIST);
    assert_int_equal(s->items[3]->items[0]->kind, ETA_SPEC_NONE);
    expect_number(s->items[5], -0.25, false, 26, 5);
    eta_spec_free(s);

    /* White space, newlines and comments anywhere between tokens. */
    s = parse_ok("\n [ 1 ,\n\t2 # two\n , ( 3 , ) ]\n");
    assert_int_equal(s->n, 3);
    assert_int_equal(s->pos, 2);
    expect_number(s->items[1], 2, true, 9, 1);
    assert_int_equal(s->items[2]->kind, ETA_SPEC_TUPLE);
    eta_spec_free(s);
}

static void test_calls_and_positions(void **state)
{
    (void)state;
    const char *text = "AdamW(lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1)";
    eta_spec *s = parse_ok(text);
    assert_int_equal(s->kind, ETA_SPEC_CALL);
    assert_string_equal(s->str, "AdamW");
    assert_int_equal(s->pos, 0);
    assert_int_equal(s->len, (int)strlen(text));
    assert_int_equal(s->n, 3);
    assert_string_equal(s->keys[0], "lr");
    assert_string_equal(s->keys[1], "betas");
    assert_string_equal(s->keys[2], "weight_decay");
    assert_int_equal(s->key_pos[0], 6);
    assert_int_equal(s->key_pos[1], 15);
    assert_int_equal(s->key_pos[2], 34);
    expect_number(s->items[0], 3e-4, false, 9, 4);
    const eta_spec *b = s->items[1];
    assert_int_equal(b->kind, ETA_SPEC_TUPLE);
    assert_int_equal(b->pos, 21);
    assert_int_equal(b->len, 11);
    expect_number(b->items[1], 0.95, false, 27, 4);
    expect_number(s->items[2], 0.1, false, 47, 3);
    eta_spec_free(s);

    s = parse_ok("SequentialLR([LinearLR(start_factor=0.1, total_iters=3), CosineAnnealingLR(T_max=5)], "
                 "milestones=[3])");
    assert_int_equal(s->n, 2);
    assert_null(s->keys[0]);
    assert_int_equal(s->key_pos[0], -1);
    const eta_spec *l = s->items[0];
    assert_int_equal(l->kind, ETA_SPEC_LIST);
    assert_int_equal(l->n, 2);
    assert_string_equal(l->items[0]->str, "LinearLR");
    assert_int_equal(l->items[0]->pos, 14);
    assert_string_equal(l->items[1]->str, "CosineAnnealingLR");
    assert_string_equal(l->items[1]->keys[0], "T_max");
    assert_string_equal(s->keys[1], "milestones");
    eta_spec_free(s);

    s = parse_ok("piecewise_interpolate_schedule('linear', 200, {5: 1.5, 10: 0.25})");
    assert_int_equal(s->n, 3);
    assert_string_equal(s->items[0]->str, "linear");
    expect_number(s->items[1], 200, true, 41, 3);
    assert_int_equal(s->items[2]->kind, ETA_SPEC_DICT);
    assert_int_equal(s->items[2]->n, 2);
    eta_spec_free(s);

    s = parse_ok("Adafactor(eps=(None, 1e-3))");
    assert_int_equal(s->items[0]->items[0]->kind, ETA_SPEC_NONE);
    eta_spec_free(s);

    s = parse_ok("torch.optim.SGD(lr=0.1)");
    assert_string_equal(s->str, "SGD");
    assert_int_equal(s->pos, 0);
    assert_int_equal(s->len, 23);
    assert_int_equal(s->key_pos[0], 16);
    eta_spec_free(s);

    s = parse_ok("quadratic(a=[1,10],)");
    assert_int_equal(s->n, 1);
    assert_int_equal(s->items[0]->n, 2);
    eta_spec_free(s);

    s = parse_ok("f()");
    assert_int_equal(s->n, 0);
    eta_spec_free(s);
    s = parse_ok("f (\n  1 ,\n  b = 'x' ,\n)");
    assert_int_equal(s->n, 2);
    assert_string_equal(s->keys[1], "b");
    assert_int_equal(s->key_pos[1], 12);
    eta_spec_free(s);
    /* float(x) with x not a literal stays a call. */
    s = parse_ok("float(x)");
    assert_int_equal(s->kind, ETA_SPEC_CALL);
    eta_spec_free(s);
}

/* Dicts: string keys (keyword arguments, as Optax's sgdr_schedule takes
 * them) or number keys (Optax's {step: scale}); dict(a=1) is {'a': 1}. */
static void test_dicts(void **state)
{
    (void)state;
    const char *text = "[{'init_value': 0.1, \"decay_steps\": 100, 'x': {'y': f(1)}}, {}]";
    eta_spec *s = parse_ok(text);
    assert_int_equal(s->n, 2);
    const eta_spec *d = s->items[0];
    assert_int_equal(d->kind, ETA_SPEC_DICT);
    assert_int_equal(d->n, 3);
    assert_int_equal(d->pos, 1);
    assert_int_equal(d->len, (int)(strstr(text, "}}") - text) + 2 - 1);
    assert_int_equal(d->items[0]->kind, ETA_SPEC_STRING);
    assert_string_equal(d->items[0]->str, "init_value");
    assert_int_equal(d->items[0]->pos, 2);
    expect_number(d->items[1], 0.1, false, 16, 3);
    assert_string_equal(d->items[2]->str, "decay_steps");
    expect_number(d->items[3], 100, true, 36, 3);
    assert_int_equal(d->items[5]->kind, ETA_SPEC_DICT);
    assert_int_equal(d->items[5]->items[1]->kind, ETA_SPEC_CALL);
    assert_int_equal(s->items[1]->kind, ETA_SPEC_DICT);
    assert_int_equal(s->items[1]->n, 0);
    eta_spec_free(s);

    /* A repeated number key is Python's: both pairs are kept, the binder
     * lets the last win. */
    s = parse_ok("{2: 0.1, 2: 0.5, -1.5: 3}");
    assert_int_equal(s->n, 3);
    expect_number(s->items[4], -1.5, false, 17, 4);
    eta_spec_free(s);

    /* dict(...) with keywords only folds into a dict, keys at the keywords. */
    text = "sgdr([dict(init_value=0, peak_value=1.5), dict()])";
    s = parse_ok(text);
    d = s->items[0]->items[0];
    assert_int_equal(d->kind, ETA_SPEC_DICT);
    assert_int_equal(d->n, 2);
    assert_int_equal(d->pos, 6);
    assert_int_equal(d->items[2]->kind, ETA_SPEC_STRING);
    assert_string_equal(d->items[2]->str, "peak_value");
    assert_int_equal(d->items[2]->pos, (int)(strstr(text, "peak") - text));
    assert_int_equal(d->items[2]->len, 10);
    expect_number(d->items[3], 1.5, false, (int)(strstr(text, "1.5") - text), 3);
    assert_int_equal(s->items[0]->items[1]->kind, ETA_SPEC_DICT);
    assert_int_equal(s->items[0]->items[1]->n, 0);
    eta_spec_free(s);
    s = parse_ok("dict(1, a=2)"); /* positional: a call, for the binder to reject */
    assert_int_equal(s->kind, ETA_SPEC_CALL);
    assert_string_equal(s->str, "dict");
    eta_spec_free(s);

    expect_parse_error("{'a': 1, 'b': 2, 'a': 3}", 17, 3, "duplicate key 'a' in dict");
    expect_parse_error("dict(a=1, b=2, a=3)", 15, 1, "duplicate key 'a' in dict");
    expect_parse_error("{[1]: 2}", 1, 3, "dict keys must be strings or numbers, got list");
    expect_parse_error("{None: 2}", 1, 4, "dict keys must be strings or numbers, got None");
    expect_parse_error("{f(x): 2}", 1, 4, "dict keys must be strings or numbers, got call");
    expect_parse_error("{'a': 1, 'b'", 0, 1, "'{' was never closed");
    expect_parse_error("{'a': 1, 'b':", 13, 1, "expected a value, got end of text");
    expect_parse_error("[{'a' 1}]", 6, 1, "expected ':' after dict key");
    expect_parse_error("{'a': 1 'b': 2}", 8, 1, "expected '}' or ',' after dict item");
}

/* ---- parse errors ------------------------------------------------------- */

static void test_parse_errors(void **state)
{
    (void)state;
    expect_parse_error("", 0, 1, "expected a value, got end of text");
    expect_parse_error("  ", 2, 1, "expected a value, got end of text");
    expect_parse_error("AdamW(lr=0.1 betas=1)", 13, 1, "expected ')' or ',' after argument");
    expect_parse_error("AdamW(lr=)", 9, 1, "expected a value, got ')'");
    expect_parse_error("AdamW(lr=1", 5, 1, "'(' was never closed");
    expect_parse_error("AdamW(lr=1))", 11, 1, "unexpected trailing text");
    expect_parse_error("1 2", 2, 1, "unexpected trailing text");
    expect_parse_error("'abc", 0, 1, "unterminated string");
    expect_parse_error("f('ab\ncd')", 2, 1, "unterminated string");
    expect_parse_error("'\\", 0, 1, "unterminated string");
    expect_parse_error("[1, 2", 0, 1, "'[' was never closed");
    expect_parse_error("[1 2]", 3, 1, "expected ']' or ',' after list item");
    expect_parse_error("(1 2)", 3, 1, "expected ')' or ',' after tuple item");
    expect_parse_error("{1, 2}", 2, 1, "expected ':' after dict key");
    expect_parse_error("{1: 2 3}", 6, 1, "expected '}' or ',' after dict item");
    expect_parse_error("[,]", 1, 1, "expected a value, got ','");
    expect_parse_error("(,)", 1, 1, "expected a value, got ','");
    expect_parse_error("f(,)", 2, 1, "expected a value, got ','");
    expect_parse_error("012", 0, 3, "leading zeros in decimal integer literals are not permitted");
    expect_parse_error("1e", 0, 2, "invalid number literal");
    expect_parse_error("1_", 0, 2, "invalid number literal");
    expect_parse_error("1__0", 0, 4, "invalid number literal");
    expect_parse_error("f(x=1.5j)", 4, 4, "invalid number literal");
    expect_parse_error("0x", 0, 2, "invalid number literal");
    expect_parse_error("1.2.3", 3, 1, "unexpected trailing text");
    expect_parse_error("-'a'", 0, 1, "unary '-' needs a number, got string");
    expect_parse_error("[+True]", 1, 1, "unary '+' needs a number, got bool");
    expect_parse_error("f(True=1)", 2, 4, "cannot use True as a keyword");
    expect_parse_error("float('abc')", 6, 5, "could not convert string to float: 'abc'");
    expect_parse_error("a.(1)", 2, 1, "expected a name after '.'");
    expect_parse_error("'\\x4'", 1, 3, "truncated \\x escape (needs 2 hex digits)");
    expect_parse_error("'\\0'", 1, 2, "strings may not contain NUL characters");
    expect_parse_error("'\\U00110000'", 1, 10, "illegal Unicode character");
    expect_parse_error("'\\ud800'", 1, 6, "lone surrogate in string");
    expect_parse_error("'\\N{DASH}'", 1, 2, "\\N{...} escapes are not supported");
    expect_parse_error("f(*a)", 2, 1, "expected a value, got '*'");
    expect_parse_error("\xc3\xa9", 0, 1, "expected a value, got byte 0xc3");
    expect_parse_error("f(a.b=1)", 5, 1, "expected ')' or ',' after argument");
    char big[500];
    memset(big, '9', 400);
    big[400] = '\0';
    expect_parse_error(big, 0, 400, "integer literal too large");

    /* NULL arguments. */
    eta_err e;
    eta_spec *s;
    assert_int_equal(eta_spec_parse(NULL, "1", &e), ETA_EINVAL);
    assert_int_equal(eta_spec_parse(&s, NULL, NULL), ETA_EINVAL);
    assert_null(s);
    eta_spec_free(NULL);
}

static void test_depth_limit(void **state)
{
    (void)state;
    char text[300];
    /* 64 levels parse, 65 do not; the 65th bracket is located. */
    for (int depth = 64; depth <= 65; depth++) {
        int n = 0;
        for (int i = 0; i < depth; i++)
            text[n++] = i % 2 ? '(' : '[';
        for (int i = depth - 1; i >= 0; i--)
            text[n++] = i % 2 ? ')' : ']';
        text[n] = '\0';
        if (depth == 64)
            eta_spec_free(parse_ok(text));
        else
            expect_parse_error(text, 64, 1, "nesting too deep (more than 64 levels)");
    }
    /* Calls count too. */
    char calls[400] = "";
    for (int i = 0; i < 65; i++)
        strcat(calls, "f(");
    expect_parse_error(calls, 129, 1, "nesting too deep (more than 64 levels)");
}

/* ---- binding ------------------------------------------------------------ */

static const eta_spec_param adamw_sig[] = {
    {"lr", false, false},      {"betas", false, false},   {"eps", false, false},
    {"weight_decay", false, false}, {"amsgrad", false, false}, {"maximize", false, true},
};
enum { ADAMW_NSIG = 6 };

static int bind_text(const char *text, const eta_spec_param *sig, int nsig, const eta_spec **out, eta_err *e,
                     eta_spec **root)
{
    *root = parse_ok(text);
    return eta_spec_bind(*root, sig, nsig, out, e);
}

static void expect_bind_error(const char *text, const eta_spec_param *sig, int nsig, int pos, int len,
                              const char *msg)
{
    const eta_spec *out[16];
    eta_err e;
    eta_spec *root;
    int rc = bind_text(text, sig, nsig, out, &e, &root);
    assert_int_equal(rc, ETA_EINVAL);
    assert_int_equal(e.code, ETA_EINVAL);
    assert_string_equal(e.msg, msg);
    if (e.pos != pos || e.len != len)
        fail_msg("<%s>: expected error at %d+%d, got %d+%d", text, pos, len, e.pos, e.len);
    for (int i = 0; i < nsig; i++)
        assert_null(out[i]);
    eta_spec_free(root);
}

static void test_bind_ok(void **state)
{
    (void)state;
    const eta_spec *out[ADAMW_NSIG];
    eta_err e;
    eta_spec *root;
    assert_int_equal(bind_text("AdamW(0.1, (0.9, 0.99), weight_decay=0.5, maximize=True)", adamw_sig, ADAMW_NSIG,
                               out, &e, &root), ETA_OK);
    expect_number(out[0], 0.1, false, 6, 3);
    assert_int_equal(out[1]->kind, ETA_SPEC_TUPLE);
    assert_null(out[2]);
    expect_number(out[3], 0.5, false, 37, 3);
    assert_null(out[4]);
    assert_int_equal(out[5]->kind, ETA_SPEC_BOOL);
    eta_spec_free(root);

    /* Positionals skip keyword-only parameters wherever they are declared. */
    const eta_spec_param sig[] = {{"a", true, false}, {"k", false, true}, {"b", false, false}};
    assert_int_equal(bind_text("f(1, 2)", sig, 3, out, &e, &root), ETA_OK);
    expect_number(out[0], 1, true, 2, 1);
    assert_null(out[1]);
    expect_number(out[2], 2, true, 5, 1);
    eta_spec_free(root);

    const eta_spec_param none[1] = {{"x", false, false}};
    assert_int_equal(bind_text("f()", none, 0, out, &e, &root), ETA_OK);
    eta_spec_free(root);
}

static void test_bind_errors(void **state)
{
    (void)state;
    expect_bind_error("AdamW(betas1=0.9)", adamw_sig, ADAMW_NSIG, 6, 6,
                      "AdamW() got an unexpected keyword argument 'betas1'; did you mean betas? valid arguments: "
                      "lr, betas, eps, weight_decay, amsgrad, maximize");
    expect_bind_error("AdamW(0.1, lr=0.2)", adamw_sig, ADAMW_NSIG, 11, 2,
                      "AdamW() got multiple values for argument 'lr'");
    expect_bind_error("AdamW(lr=0.1, eps=1, lr=0.2)", adamw_sig, ADAMW_NSIG, 21, 2,
                      "AdamW() got multiple values for argument 'lr'");
    /* keyword-only by position */
    expect_bind_error("AdamW(0.1, (0.9, 0.99), 1e-8, 0, False, True)", adamw_sig, ADAMW_NSIG, 40, 4,
                      "AdamW() takes at most 5 positional arguments (6 given)");
    const eta_spec_param one[] = {{"a", false, false}, {"b", false, true}};
    expect_bind_error("f(1, 2)", one, 2, 5, 1, "f() takes at most 1 positional argument (2 given)");
    const eta_spec_param kwonly[] = {{"a", false, true}};
    expect_bind_error("g(1)", kwonly, 1, 2, 1, "g() takes no positional arguments (1 given)");
    const eta_spec_param onecycle[] = {{"max_lr", true, false}, {"total_steps", false, false}};
    const char *oc = "OneCycleLR(total_steps=10)";
    expect_bind_error(oc, onecycle, 2, 0, (int)strlen(oc), "OneCycleLR() missing required argument 'max_lr'");
    expect_bind_error("AdamW(lr=0.1, 2)", adamw_sig, ADAMW_NSIG, 14, 1, "positional argument follows keyword argument");
    /* CPython's order: keywords are checked before the positional count. */
    expect_bind_error("f(1, 2, c=3)", one, 2, 8, 1,
                      "f() got an unexpected keyword argument 'c'; valid arguments: a, b");
    expect_bind_error("f(x=1)", one, 0, 2, 1, "f() got an unexpected keyword argument 'x'; valid arguments: none");

    /* A long signature: the nearest names, "..." and the count, within the message. */
    static char names[40][24];
    eta_spec_param many[40];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "param_%02d", i);
        many[i] = (eta_spec_param){names[i], false, false};
    }
    const eta_spec *out[40];
    eta_err e;
    eta_spec *root;
    assert_int_equal(bind_text("F(nope=1)", many, 40, out, &e, &root), ETA_EINVAL);
    assert_string_equal(e.msg, "F() got an unexpected keyword argument 'nope'; valid arguments include param_00, "
                               "param_01, param_02, param_03, param_04, ... (40 arguments in all)");
    eta_spec_free(root);

    root = parse_ok("[1]");
    assert_int_equal(eta_spec_bind(root, adamw_sig, ADAMW_NSIG, out, &e), ETA_EINVAL);
    assert_string_equal(e.msg, "expected a call such as Name(...), got list");
    assert_int_equal(e.pos, 0);
    eta_spec_free(root);
}

/* ---- typed readers and ranges ------------------------------------------- */

static void expect_err(const eta_err *e, int code, int pos, int len, const char *msg)
{
    assert_int_equal(e->code, code);
    assert_string_equal(e->msg, msg);
    assert_int_equal(e->pos, pos);
    assert_int_equal(e->len, len);
}

static void test_getters(void **state)
{
    (void)state;
    eta_spec *s = parse_ok("f(1, 2.0, True, 'min', min, None, (0.9, 0.95), [1, 2, 3], (1, 'x'), 1e30)");
    const eta_spec *const *a = (const eta_spec *const *)s->items;
    eta_err e;
    double d = 0;
    int64_t i = 0;
    bool b = false;
    const char *str = NULL;

    assert_int_equal(eta_spec_get_real(a[0], "lr", &d, &e), ETA_OK);
    assert_true(d == 1.0);
    assert_int_equal(eta_spec_get_real(a[1], "lr", &d, &e), ETA_OK);
    assert_true(d == 2.0);
    assert_int_equal(eta_spec_get_real(a[2], "lr", &d, &e), ETA_EINVAL);
    expect_err(&e, ETA_EINVAL, 10, 4, "lr must be a number, got bool");
    assert_int_equal(eta_spec_get_real(NULL, "lr", &d, &e), ETA_EINVAL);
    expect_err(&e, ETA_EINVAL, -1, 0, "lr is required");

    assert_int_equal(eta_spec_get_int(a[0], "steps", &i, &e), ETA_OK);
    assert_int_equal(i, 1);
    assert_int_equal(eta_spec_get_int(a[1], "steps", &i, &e), ETA_EINVAL);
    expect_err(&e, ETA_EINVAL, 5, 3, "steps must be an integer, got 2.0");
    assert_int_equal(eta_spec_get_int(a[3], "steps", &i, &e), ETA_EINVAL);
    assert_string_equal(e.msg, "steps must be an integer, got string");
    assert_int_equal(eta_spec_get_int(a[9], "steps", &i, &e), ETA_EINVAL);
    assert_string_equal(e.msg, "steps must be an integer, got 1e+30");

    assert_int_equal(eta_spec_get_bool(a[2], "nesterov", &b, &e), ETA_OK);
    assert_true(b);
    assert_int_equal(eta_spec_get_bool(a[0], "nesterov", &b, &e), ETA_EINVAL);
    assert_string_equal(e.msg, "nesterov must be True or False, got number");

    assert_int_equal(eta_spec_get_string(a[3], "mode", &str, &e), ETA_OK);
    assert_string_equal(str, "min");
    assert_int_equal(eta_spec_get_string(a[4], "mode", &str, &e), ETA_EINVAL);
    assert_string_equal(e.msg, "mode must be a string, got name min (write it in quotes: 'min')");
    assert_int_equal(eta_spec_get_string(a[5], "mode", &str, &e), ETA_EINVAL);
    assert_string_equal(e.msg, "mode must be a string, got None");

    double v[3] = {0, 0, 0};
    int count = 0;
    assert_int_equal(eta_spec_get_reals(a[6], "betas", v, 2, 2, &count, &e), ETA_OK);
    assert_int_equal(count, 2);
    assert_true(v[0] == 0.9 && v[1] == 0.95);
    assert_int_equal(eta_spec_get_reals(a[7], "a", v, -1, 3, &count, &e), ETA_OK);
    assert_int_equal(count, 3);
    assert_true(v[2] == 3.0);
    assert_int_equal(eta_spec_get_reals(a[7], "betas", v, 2, 2, &count, &e), ETA_EINVAL);
    assert_string_equal(e.msg, "betas must have 2 items, got 3");
    assert_int_equal(eta_spec_get_reals(a[7], "a", v, -1, 2, &count, &e), ETA_EINVAL);
    assert_string_equal(e.msg, "a must have at most 2 items, got 3");
    assert_int_equal(eta_spec_get_reals(a[8], "betas", v, 2, 2, &count, &e), ETA_EINVAL);
    assert_string_equal(e.msg, "betas[1] must be a number, got string");
    assert_int_equal(e.pos, a[8]->items[1]->pos);
    assert_int_equal(eta_spec_get_reals(a[0], "betas", v, 2, 2, &count, &e), ETA_EINVAL);
    assert_string_equal(e.msg, "betas must be a tuple or list of numbers, got number");
    eta_spec_free(s);
}

static void expect_range(double x, double lo, bool lo_open, double hi, bool hi_open, const char *name,
                         const char *msg)
{
    eta_err e;
    int rc = eta_spec_check_range(NULL, name, x, lo, lo_open, hi, hi_open, &e);
    if (!msg) {
        assert_int_equal(rc, ETA_OK);
        return;
    }
    assert_int_equal(rc, ETA_EINVAL);
    expect_err(&e, ETA_EINVAL, -1, 0, msg);
}

static void test_check_range(void **state)
{
    (void)state;
    expect_range(1.5, 0, false, 1, true, "betas[1]", "betas[1] must be in [0, 1), got 1.5");
    expect_range(1.0, 0, false, 1, true, "betas[1]", "betas[1] must be in [0, 1), got 1");
    expect_range(0.0, 0, true, 1, false, "p", "p must be in (0, 1], got 0");
    expect_range(0.0, 0, false, 1, true, "p", NULL);
    expect_range(1.0, 0, true, 1, false, "p", NULL);
    expect_range(-1, 0, false, INFINITY, false, "lr", "lr must be >= 0, got -1");
    expect_range(0, 0, true, INFINITY, false, "eps", "eps must be > 0, got 0");
    expect_range(2, -INFINITY, false, 1, false, "x", "x must be <= 1, got 2");
    expect_range(1, -INFINITY, false, 1, true, "x", "x must be < 1, got 1");
    expect_range(-0.1, 0, false, INFINITY, false, "lr", "lr must be >= 0, got -0.1");
    expect_range(-3e-4, 0, false, INFINITY, false, "lr", "lr must be >= 0, got -0.0003");
    expect_range(NAN, 0, false, INFINITY, false, "lr", "lr must be >= 0, got nan");
    expect_range(NAN, -INFINITY, false, INFINITY, false, "lr", "lr must be a number, got nan");
    expect_range(INFINITY, -INFINITY, false, INFINITY, false, "lr", NULL);
    expect_range(INFINITY, 0, false, 1e10, false, "lr", "lr must be in [0, 1e+10], got inf");
    expect_range(0.30000000000000004, 0, false, 0.3, false, "x", "x must be in [0, 0.3], got 0.30000000000000004");
    expect_range(-2, 0.5, false, 1, false, "x", "x must be in [0.5, 1], got -2");

    /* located at the node */
    eta_spec *s = parse_ok("f(eps=-1)");
    eta_err e;
    assert_int_equal(eta_spec_check_range(s->items[0], "eps", -1, 0, true, INFINITY, false, &e), ETA_EINVAL);
    expect_err(&e, ETA_EINVAL, 6, 2, "eps must be > 0, got -1");
    assert_int_equal(eta_spec_check_range(s->items[0], "eps", -1, 0, true, INFINITY, false, NULL), ETA_EINVAL);
    eta_spec_free(s);
}

/* ---- the error record --------------------------------------------------- */

static void test_err_format(void **state)
{
    (void)state;
    /* The example in core.h, through the whole pipeline. */
    const char *text = "AdamW(lr=0.1, betas=(0.9, 1.5))";
    eta_spec *s = parse_ok(text);
    const eta_spec *out[ADAMW_NSIG];
    eta_err e;
    double betas[2];
    assert_int_equal(eta_spec_bind(s, adamw_sig, ADAMW_NSIG, out, &e), ETA_OK);
    assert_int_equal(eta_spec_get_reals(out[1], "betas", betas, 2, 2, NULL, &e), ETA_OK);
    assert_int_equal(eta_spec_check_range(out[1]->items[1], "betas[1]", betas[1], 0, false, 1, true, &e), ETA_EINVAL);
    char buf[256];
    const char *want = "betas[1] must be in [0, 1), got 1.5\n"
                       "  AdamW(lr=0.1, betas=(0.9, 1.5))\n"
                       "                            ^^^";
    int n = eta_err_format(&e, text, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, (int)strlen(want));
    /* Truncation: returns what snprintf would, and the text shows it was cut. */
    char small[10];
    assert_int_equal(eta_err_format(&e, text, small, sizeof small), (int)strlen(want));
    assert_string_equal(small, "betas[...");
    assert_int_equal(eta_err_format(&e, text, NULL, 0), (int)strlen(want));
    eta_spec_free(s);

    /* No location, or no text: the message alone. */
    eta_err_clear(&e);
    assert_int_equal(e.code, ETA_OK);
    assert_int_equal(e.pos, -1);
    assert_string_equal(e.msg, "");
    eta_spec_fail(&e, ETA_EINVAL, NULL, "lr must be >= %d", 0);
    eta_err_format(&e, text, buf, sizeof buf);
    assert_string_equal(buf, "lr must be >= 0");
    e.code = ETA_ENOMEM;
    e.msg[0] = '\0';
    eta_err_format(&e, NULL, buf, sizeof buf);
    assert_string_equal(buf, "out of memory");

    /* Multi-line text: only the line holding the error; len 0 still draws one caret. */
    const char *ml = "AdamW(\n  lr=0.1,\n  betas=(0.9, 1.5)x\n)";
    assert_int_equal(eta_spec_parse(&s, ml, &e), ETA_EFORMAT);
    eta_err_format(&e, ml, buf, sizeof buf);
    assert_string_equal(buf, "expected ')' or ',' after argument\n"
                             "    betas=(0.9, 1.5)x\n"
                             "                    ^");
    e.pos = 9;
    e.len = 0;
    eta_err_format(&e, ml, buf, sizeof buf);
    assert_string_equal(buf, "expected ')' or ',' after argument\n    lr=0.1,\n    ^");
    /* A span running past the end of its line is cut there; tabs are kept. */
    e.pos = 2;
    e.len = 100;
    eta_err_format(&e, "\tx = 1\nnext", buf, sizeof buf);
    assert_string_equal(buf, "expected ')' or ',' after argument\n  \tx = 1\n  \t ^^^^");
    /* The error at the end of the text. */
    assert_int_equal(eta_spec_parse(&s, "[1,", &e), ETA_EFORMAT);
    eta_err_format(&e, "[1,", buf, sizeof buf);
    assert_string_equal(buf, "'[' was never closed\n  [1,\n  ^");
    assert_int_equal(eta_spec_parse(&s, "f(x=", &e), ETA_EFORMAT);
    eta_err_format(&e, "f(x=", buf, sizeof buf);
    assert_string_equal(buf, "expected a value, got end of text\n  f(x=\n      ^");
}

static void test_misc(void **state)
{
    (void)state;
    assert_int_equal(eta_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(eta_crc32(0, "", 0), 0);
    uint32_t c = eta_crc32(0, "1234", 4);
    assert_int_equal(eta_crc32(c, "56789", 5), 0xCBF43926u);
    assert_int_equal(eta_dtype_size(ETA_F32), 4);
    assert_int_equal(eta_dtype_size(ETA_F64), 8);
    assert_string_equal(eta_strerror(ETA_OK), "success");
    assert_string_equal(eta_strerror(ETA_ENOMEM), "out of memory");
    for (int code = -8; code <= 1; code++)
        assert_non_null(eta_strerror(code));
    assert_string_equal(eta_spec_kind_name(ETA_SPEC_TUPLE), "tuple");
    assert_string_equal(eta_spec_kind_name(ETA_SPEC_CALL), "call");
    assert_string_equal(eta_spec_kind_name(ETA_SPEC_KIND_COUNT), "unknown");
    eta_err_clear(NULL);
    assert_int_equal(eta_spec_fail(NULL, ETA_EINVAL, NULL, "x"), ETA_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_constants_strings_names),
        cmocka_unit_test(test_containers),
        cmocka_unit_test(test_dicts),
        cmocka_unit_test(test_calls_and_positions),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_bind_ok),
        cmocka_unit_test(test_bind_errors),
        cmocka_unit_test(test_getters),
        cmocka_unit_test(test_check_range),
        cmocka_unit_test(test_err_format),
        cmocka_unit_test(test_misc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
