#!/usr/bin/python3
"""Writes tests/ref/tune_pruners.txt: the pruners' decisions on simulated
studies, for tests/test_tune_pruner.c to replay against src/tune/pruner.c.

Optuna's pruners (MedianPruner, SuccessiveHalvingPruner, HyperbandPruner)
are the real thing (Debian's python3-optuna); Ray Tune is not packaged, so
ASHA is a numpy transcription of ray.tune.schedulers.AsyncHyperBandScheduler
and its _Bracket (time_attr training_iteration, one bracket,
stop_last_trials=True), below.

A study runs `concurrency` trials at a time, round-robin: each reports its
next intermediate value and asks whether to prune; a pruned trial ends
PRUNED, one that reported all its steps ends COMPLETE, and a new trial
takes its place until `trials` have started. The values are noisy
decaying curves (some NaN in one case).

Format, one event a line after a case's header:
    case NAME / pruner SPEC / direction minimize|maximize / study NAME
    report TRIAL STEP VALUE go|prune|done
    complete TRIAL
    end
Usage: /usr/bin/python3 tools/gen_ref_pruners.py [OUT]
"""
import math
import sys

import numpy as np

try:
    import optuna
except ImportError:  # the fixture is committed; regenerating it needs python3-optuna
    sys.stderr.write("gen_ref_pruners.py: needs Debian's python3-optuna\n")
    sys.exit(77)

optuna.logging.set_verbosity(optuna.logging.ERROR)


class AshaPort:
    """ray.tune.schedulers.ASHAScheduler with brackets=1, as its source reads."""

    def __init__(self, maximize, grace_period=1, reduction_factor=4, max_t=100):
        self.rf = reduction_factor
        self.max_t = max_t
        self.op = 1.0 if maximize else -1.0
        max_rungs = int(np.log(max_t / grace_period) / np.log(self.rf) - 0 + 1)
        self.rungs = [(grace_period * self.rf ** k, {}) for k in reversed(range(max_rungs))]
        self.iters = {}

    def _bracket(self, trial, cur_iter, cur_rew):
        action = "go"
        for milestone, recorded in self.rungs:
            if cur_iter < milestone or trial in recorded:
                continue
            cutoff = np.nanpercentile(list(recorded.values()), (1 - 1 / self.rf) * 100) if recorded else None
            if cutoff is not None and cur_rew < cutoff:
                action = "prune"
            recorded[trial] = cur_rew
            break
        return action

    def report(self, trial, value):
        t = self.iters.get(trial, 0) + 1  # training_iteration
        self.iters[trial] = t
        if t >= self.max_t:  # on_trial_result stops; on_trial_complete then records the result
            self._bracket(trial, t, self.op * value)
            return "done"
        return self._bracket(trial, t, self.op * value)


def curve(rng, steps, nan_at=None):
    a, b, k = rng.uniform(0.1, 1.0), rng.uniform(0.5, 2.0), rng.uniform(0.005, 0.2)
    v = [a + b * math.exp(-k * s) + rng.normal(0, 0.02) for s in steps]
    if nan_at is not None:
        v[nan_at] = float("nan")
    return v


def simulate(out, name, spec, pruner, maximize, trials, concurrency, steps, seed, nan_trial=None):
    rng = np.random.default_rng(seed)
    direction = "maximize" if maximize else "minimize"
    out.write("case %s\npruner %s\ndirection %s\nstudy fixture\n" % (name, spec, direction))
    study = None
    if not isinstance(pruner, AshaPort):
        study = optuna.create_study(study_name="fixture", direction=direction, pruner=pruner)
    started, active = 0, []

    def start():
        nonlocal started
        number = started
        started += 1
        vals = curve(rng, steps, 3 if number == nan_trial else None)
        if maximize:
            vals = [2.0 - x for x in vals]
        t = study.ask() if study else None
        assert t is None or t.number == number
        return {"number": number, "trial": t, "vals": vals, "i": 0}

    while started < trials and len(active) < concurrency:
        active.append(start())
    while active:
        for a in list(active):
            step, value = steps[a["i"]], a["vals"][a["i"]]
            a["i"] += 1
            if study:
                a["trial"].report(value, step)
                d = "prune" if a["trial"].should_prune() else "go"
            else:
                d = pruner.report(a["number"], value)
            out.write("report %d %d %r %s\n" % (a["number"], step, value, d))
            ended = d != "go" or a["i"] == len(steps)
            if not ended:
                continue
            if d == "prune":
                if study:
                    study.tell(a["trial"], state=optuna.trial.TrialState.PRUNED)
            else:
                if study:
                    study.tell(a["trial"], value if not math.isnan(value) else 0.0)
                out.write("complete %d\n" % a["number"])
            active.remove(a)
            if started < trials:
                active.append(start())
    out.write("end\n")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/ref/tune_pruners.txt"
    P = optuna.pruners
    with open(path, "w") as out:
        out.write("# tune pruners: written by tools/gen_ref_pruners.py (optuna %s, numpy %s)\n"
                  % (optuna.__version__, np.__version__))
        simulate(out, "sh_default", "sh", P.SuccessiveHalvingPruner(), False, 12, 2,
                 list(range(10, 401, 10)), 1)
        simulate(out, "sh_args", "sh(min_resource=5, reduction_factor=3, min_early_stopping_rate=1)",
                 P.SuccessiveHalvingPruner(min_resource=5, reduction_factor=3, min_early_stopping_rate=1),
                 True, 14, 3, list(range(1, 51)), 2)
        simulate(out, "sh_bootstrap_nan", "sh(min_resource=2, bootstrap_count=2)",
                 P.SuccessiveHalvingPruner(min_resource=2, bootstrap_count=2), False, 10, 3,
                 list(range(1, 21)), 3, nan_trial=4)
        simulate(out, "median_default", "median", P.MedianPruner(), False, 16, 2, list(range(0, 30)), 4)
        simulate(out, "median_args", "median(n_startup_trials=2, n_warmup_steps=3, interval_steps=2)",
                 P.MedianPruner(n_startup_trials=2, n_warmup_steps=3, interval_steps=2), True, 12, 3,
                 list(range(0, 30)), 5, nan_trial=6)
        simulate(out, "hyperband_default", "hyperband", P.HyperbandPruner(), False, 24, 2, list(range(1, 28)), 6)
        simulate(out, "hyperband_args", "hyperband(min_resource=2, max_resource=60, reduction_factor=2)",
                 P.HyperbandPruner(min_resource=2, max_resource=60, reduction_factor=2), True, 20, 3,
                 list(range(2, 61, 2)), 7)
        simulate(out, "asha_default", "asha", AshaPort(False), False, 16, 3, list(range(5, 101, 5)), 8)
        simulate(out, "asha_args", "asha(grace_period=2, reduction_factor=3, max_t=9)",
                 AshaPort(True, grace_period=2, reduction_factor=3, max_t=9), True, 14, 2, list(range(1, 13)), 9)


if __name__ == "__main__":
    main()
