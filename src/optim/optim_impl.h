/* optim/optim_impl.h - internal: the optimizer object, shared by optim.c
 * (life cycle and step), clip.c (gradient tools) and save.c (checkpoints). */
#ifndef ETA_OPTIM_IMPL_H
#define ETA_OPTIM_IMPL_H

#include "optim/rule.h"

/* Mechanic around the rule (mechanic.c): its settings, its tuner, and a copy
 * of every parameter taken before the base rule's step. */
typedef struct optim_mech {
    eta_mechanic_config cfg;
    double m[ETA_MECHANIC_MAX_BETAS], v[ETA_MECHANIC_MAX_BETAS];
    double r[ETA_MECHANIC_MAX_BETAS], s[ETA_MECHANIC_MAX_BETAS];
    void *work;
    size_t work_n; /* elements: the sum of the parameters' */
} optim_mech;

struct eta_optim {
    eta_optim_config cfg;
    const optim_rule *rule;
    eta_allocator alloc;
    optim_group *groups;
    int ngroups, cap_groups;
    optim_param *params;
    int nparams, cap_params;
    int64_t step;
    double scalars[OPTIM_MAX_SCALARS]; /* rule->scalar_names */
    bool eval;            /* parameters hold the evaluation point (eta_optim_eval) */
    double *scratch;      /* reduction slots for the largest array */
    size_t scratch_n;
    void *work;           /* the rule's scratch (work_len) for the largest parameter */
    size_t work_n;        /* in elements of dtype */
    eta_gemm gemm;        /* eta_optim_set_gemm; NULL members: core/gemm.c */
    optim_mech *mech;     /* Mechanic (cfg.kind ETA_OPTIM_MECHANIC) around `rule`, or NULL */
    char err[256];
};

/* malloc and free as an eta_allocator's functions (the optimizer's and the
 * average's when the caller gives none). */
void *eta_optim_default_alloc_(void *ud, size_t size);
void eta_optim_default_free_(void *ud, void *p);
/* *given, or malloc and free when NULL. */
eta_allocator eta_optim_allocator_(const eta_allocator *given);

/* The base rule's step: prepare, the per-parameter updates, finish, the step
 * counters. ETA_OK, OPTIM_SKIP (nothing happened) or an error. */
int eta_optim_rule_step_(eta_optim *o);
/* Mechanic (mechanic.c): life cycle, a parameter's share of the work copy,
 * the step around eta_optim_rule_step_, and its scalars ("s", "m[j]", ...). */
int eta_mech_new_(eta_optim *o);
void eta_mech_free_(eta_optim *o);
int eta_mech_add_param_(eta_optim *o, size_t n);
int eta_mech_step_(eta_optim *o);
int eta_mech_scalar_(const eta_optim *o, const char *name, double *value);
/* The optimizer-wide view handed to a rule's hooks. */
optim_wide eta_optim_wide_(eta_optim *o);
/* Index of `name` in a NULL-terminated name list, or -1. */
int eta_optim_name_index_(const char *const *names, const char *name);
/* Number of names in a NULL-terminated list. */
int eta_optim_name_count_(const char *const *names);

void *eta_optim_alloc_(eta_optim *o, size_t size);
void eta_optim_release_(eta_optim *o, void *p);
/* Sets the optimizer's message; returns code. */
int eta_optim_fail_(eta_optim *o, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
