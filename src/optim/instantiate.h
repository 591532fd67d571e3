/* optim/instantiate.h - internal: compiles a rule file's element loops twice,
 * for float and for double. A rule file defines ETA_SELF as its own name and
 * includes this header; its part under `#else` (ETA_TYPED_PASS) is then read
 * once with T = float and once with T = double (see rule.h). */
#ifndef ETA_SELF
#error "define ETA_SELF as the including file's name first"
#endif
#define ETA_TYPED_PASS
#define T float
#include ETA_SELF
#undef T
#define T double
#include ETA_SELF
#undef T
#undef ETA_TYPED_PASS
