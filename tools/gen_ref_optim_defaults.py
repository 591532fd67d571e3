"""The defaults cases of tools/gen_ref_optim.py: one per update rule, built with
only the arguments upstream requires, so the fixtures hold each rule's default
hyperparameters (every other case spells out every argument).

What lives here: the upstream defaults (PyTorch 2.x for the torch.optim rules,
NAdam and Adafactor; Optax for Lion, LAMB, LARS and AdaBelief), the required
arguments each case passes, the one-line notes, and a check that torch 1.13's
constructors default to the same values as 2.x for the rules torch computes.
The stepping, writing and formula code stays in gen_ref_optim.py.

Sources of the defaults: torch/optim/*.py (2.x) and _adafactor.py; optax
optax/_src/alias.py (lion, lamb, lars, adabelief).
"""

import inspect

# Full hyperparameters of each rule at its upstream defaults.  The formula
# code and --selftest's numpy transcription read them; the torch-computed
# cases pass only REQUIRED to torch.optim, which fills in its own defaults.
UPSTREAM = {
    "SGD": dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
    "Adam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
                 decoupled_weight_decay=False),
    "AdamW": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False),
    "Adamax": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False),
    "NAdam": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                  decoupled_weight_decay=False, maximize=False),
    "RAdam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False,
                  maximize=False),
    "Adagrad": dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                    maximize=False),
    "RMSprop": dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                    maximize=False),
    "Adadelta": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False),
    "ASGD": dict(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, maximize=False),
    "Rprop": dict(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0), maximize=False),
    "Adafactor": dict(lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, maximize=False),
    "Lion": dict(b1=0.9, b2=0.99, weight_decay=1e-3),
    "LAMB": dict(b1=0.9, b2=0.999, eps=1e-6, eps_root=0.0, weight_decay=0.0),
    "LARS": dict(weight_decay=0.0, trust_coefficient=1e-3, eps=0.0, momentum=0.9, nesterov=False),
    "AdaBelief": dict(b1=0.9, b2=0.999, eps=1e-16, eps_root=1e-16),
}

# The arguments a defaults case passes (the spec text is exactly these): the
# learning rate where upstream requires it (torch 1.13's SGD, every Optax
# alias), nothing otherwise.
REQUIRED = {cls: {} for cls in UPSTREAM}
REQUIRED.update({
    "SGD": dict(lr=0.01),
    "Lion": dict(learning_rate=1e-3),
    "LAMB": dict(learning_rate=1e-2),
    "LARS": dict(learning_rate=0.1),
    "AdaBelief": dict(learning_rate=1e-2),
})

# Rules torch 1.13 cannot compute with 2.x semantics: an independent formula
# implementation in gen_ref_optim.py computes them.
FORMULA_SOURCE = {
    "NAdam": "torch 2.x NAdam (1.13 multiplies an extra mu_t)",
    "Adafactor": "torch 2.x Adafactor (not in 1.13)",
    "Lion": "optax lion",
    "LAMB": "optax lamb",
    "LARS": "optax lars",
    "AdaBelief": "optax adabelief",
}


def _kw_text(kw):
    return ", ".join("%s=%r" % kv for kv in kw.items())


def defaults_case(make_case, cls):
    """The defaults case of `cls`, built by make_case (gen_ref_optim.Case):
    its groups hold the full upstream hyperparameters (with the required
    arguments), its spec only the required arguments, for both groups."""
    req = REQUIRED[cls]
    hp = dict(UPSTREAM[cls], **req)
    passed = "only %s" % _kw_text(req) if req else "no arguments"
    rest = {k: v for k, v in UPSTREAM[cls].items() if k not in req}
    if cls in FORMULA_SOURCE:
        source = "formula"
        note = ("formula: %s built with %s, so every other argument is upstream's default (%s); "
                "same code as the other %s cases; both groups take the defaults" % (
                    FORMULA_SOURCE[cls], passed, _kw_text(rest), cls))
    else:
        source = "torch"
        note = ("torch.optim.%s built with %s, so every other argument is PyTorch's default (the same in "
                "1.13 and 2.x: --selftest compares the constructors)%s; both groups take the defaults" % (
                    cls, passed, "; lr is required in 1.13 (2.x default 1e-3)" if cls == "SGD" else ""))
    return make_case(cls.lower() + "_defaults", cls, dict(hp), dict(hp), source=source, note=note,
                     spec=dict(req))


def with_defaults(optimizers, make_case):
    """[(cls, cases_fn)] with each rule's defaults case after its other cases."""
    def extend(cls, fn):
        return lambda: fn() + [defaults_case(make_case, cls)]
    return [(cls, extend(cls, fn)) for cls, fn in optimizers]


def check_torch_defaults(torch):
    """Compare the installed torch.optim constructors' defaults with UPSTREAM
    (2.x) for the rules torch computes.  An argument 1.13 lacks must be a 2.x
    switch that is off by default (1.13's behaviour).  Returns the number of
    mismatches, each printed."""
    bad = 0
    for cls, hp in UPSTREAM.items():
        if cls in FORMULA_SOURCE:
            continue
        params = inspect.signature(getattr(torch.optim, cls).__init__).parameters
        for name, want in hp.items():
            if name in REQUIRED[cls]:
                continue
            if name not in params:
                ok, got = want is False, "(absent)"
            else:
                got = params[name].default
                ok = (tuple(got) if isinstance(got, (tuple, list)) else got) == want
            if not ok:
                print("defaults: torch.optim.%s %s = %r, 2.x default %r" % (cls, name, got, want))
                bad += 1
    print("defaults: torch %s constructors %s the 2.x defaults" % (torch.__version__, "differ from" if bad else
                                                                   "match"))
    return bad
