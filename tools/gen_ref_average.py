#!/usr/bin/python3
"""Write tests/ref/average.txt, the weight-averaging fixture eta's tests
compare against (tests/test_optim_average.c).

    /usr/bin/python3 tools/gen_ref_average.py [--out tests/ref]

Every case runs torch 1.13's torch.optim.swa_utils.AveragedModel on a small
network, Sequential(Linear(3, 4), BatchNorm1d(4), Linear(4, 2)), whose
parameters and BatchNorm buffers are set to random values before each
update_parameters call (as training would change them), in float32 and
float64:

  SWA  AveragedModel(model, use_buffers=...) with its default avg_fn, the
       equal average a + (x - a)/(n + 1) (the same formula as 2.x's
       get_swa_avg_fn, which 2.x runs on CPU tensors).
  Both with 2.x's buffer rule ported onto 1.13's update_parameters: without
  use_buffers the averaged module's buffers are copied from the model at
  every update (1.13 kept the ones of construction).
  EMA  AveragedModel(model, avg_fn=ema, use_buffers=...), where ema is a
       line-by-line port of 2.x's get_ema_multi_avg_fn(decay) (1.13 lacks
       it): torch._foreach_lerp_(ema, current, 1 - decay), one tensor at a
       time with Tensor.lerp_ (the same kernel).

Format (one case per block, closed by "end"):

    case <name>_<f32|f64>
    dtype f32|f64
    spec <eta spec: SWA(...) or EMA(...)>
    note <one line>
    array <i> param|buffer <name> <n>       state_dict order; num_batches_tracked (int64) left out
    init <i> <values>                      the model when AveragedModel copies it
    steps <N>
    step <t>
    model <i> <values>                     the model's values handed to update_parameters
    count <n_averaged after the update>
    average <i> <values>                   the averaged module's values after it
    end
"""

import argparse
import os
import sys

try:
    import numpy as np
    import torch
    from torch.optim.swa_utils import AveragedModel
except ImportError as e:
    print("gen_ref_average.py: %s (needs /usr/bin/python3 with python3-torch and python3-numpy)" % e,
          file=sys.stderr)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_ref_optim as gro  # noqa: E402  (number formatting and dyadic data)

STEPS = 12
SEED = 20251016
HEADER = ("# eta average fixture, written by tools/gen_ref_average.py (torch %s); do not edit"
          % torch.__version__)


def get_ema_multi_avg_fn(decay=0.999):
    """torch 2.x torch/optim/swa_utils.py, line by line; _foreach_lerp_ done per tensor."""
    @torch.no_grad()
    def ema_update(ema_param_list, current_param_list, _):
        # foreach lerp only handles float and complex
        if torch.is_floating_point(ema_param_list[0]) or torch.is_complex(ema_param_list[0]):
            for p_ema, p_model in zip(ema_param_list, current_param_list):  # torch._foreach_lerp_
                p_ema.lerp_(p_model, 1 - decay)
        else:
            for p_ema, p_model in zip(ema_param_list, current_param_list):
                p_ema.copy_(p_ema * decay + p_model * (1 - decay))
    return ema_update


def ema_avg_fn(decay):
    """The multi-tensor function as 1.13's per-tensor avg_fn (returns the new value)."""
    multi = get_ema_multi_avg_fn(decay)

    def avg_fn(averaged, current, num_averaged):
        out = averaged.clone()
        multi([out], [current], num_averaged)
        return out
    return avg_fn


def update_parameters(avg, model, use_buffers):
    """torch 1.13's AveragedModel.update_parameters plus what 2.x added after
    the averaging (swa_utils.py, line by line): without use_buffers the
    averaged module's buffers follow the model's (1.13 left them as they were
    at construction)."""
    avg.update_parameters(model)
    if not use_buffers:
        # If not apply running averages to the buffers,
        # keep the buffers in sync with the source model.
        for b_swa, b_model in zip(avg.module.buffers(), model.buffers()):
            b_swa.detach().copy_(b_model.detach().to(b_swa.device))


def make_net(dt):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2)).to(dt)


def float_arrays(net):
    """(name, tensor, is_buffer) in state_dict order, float tensors only."""
    params = {id(p) for p in net.parameters()}
    return [(k, v, id(v) not in params) for k, v in net.state_dict(keep_vars=True).items()
            if torch.is_floating_point(v)]


def cases():
    return [
        ("swa", "SWA(start=0.5)", "SWA", None, False,
         "torch 1.13 AveragedModel(model), default avg_fn; buffers copied from the model"),
        ("swa_use_buffers", "SWA(use_buffers=True)", "SWA", None, True,
         "torch 1.13 AveragedModel(model, use_buffers=True): running_mean/var averaged too"),
        ("ema", "EMA(decay=0.9, every=3)", "EMA", 0.9, False,
         "torch 1.13 AveragedModel(model, avg_fn=port of 2.x get_ema_multi_avg_fn(0.9)); buffers copied"),
        ("ema_use_buffers", "EMA(0.75, use_buffers=True)", "EMA", 0.75, True,
         "torch 1.13 AveragedModel(model, avg_fn=port of 2.x get_ema_multi_avg_fn(0.75), use_buffers=True)"),
        ("swa_defaults", "SWA()", "SWA", None, False,
         "torch 1.13 AveragedModel(model) as SWA() builds it (use_buffers=False)"),
        ("ema_defaults", "EMA()", "EMA", 0.999, False,
         "port of 2.x get_ema_multi_avg_fn() (decay=0.999) as EMA() builds it (use_buffers=False)"),
    ]


def run_case(f, name, spec, kind, decay, use_buffers, note, dname):
    dt = gro.DTYPES[dname]
    net = make_net(dt)
    arrays = float_arrays(net)
    shapes = [tuple(v.shape) for _, v, _ in arrays]
    init, models = gro.make_data(shapes, STEPS, SEED)
    with torch.no_grad():
        for (k, v, _b), x in zip(arrays, init):
            x = torch.tensor(x, dtype=dt)
            v.copy_(x.abs() if "running_var" in k else x)
    kw = dict(use_buffers=use_buffers)
    if kind == "EMA":
        kw["avg_fn"] = ema_avg_fn(decay)
    avg = AveragedModel(net, **kw)
    avg_arrays = float_arrays(avg.module)
    f.write("case %s_%s\n" % (name, dname))
    f.write("dtype %s\n" % dname)
    f.write("spec %s\n" % spec)
    f.write("note %s\n" % note)
    for i, (k, v, buf) in enumerate(arrays):
        f.write("array %d %s %s %d\n" % (i, "buffer" if buf else "param", k, v.numel()))
    for i, (_, v, _) in enumerate(arrays):
        f.write("init %d %s\n" % (i, " ".join(gro.fmt_num(x) for x in gro.flat(v))))
    f.write("steps %d\n" % STEPS)
    for t in range(1, STEPS + 1):
        with torch.no_grad():
            for (k, v, _), x in zip(arrays, models[t - 1]):
                x = torch.tensor(x, dtype=dt)
                v.copy_(x.abs() if "running_var" in k else x)
        update_parameters(avg, net, use_buffers)
        f.write("step %d\n" % t)
        for i, (_, v, _) in enumerate(arrays):
            f.write("model %d %s\n" % (i, " ".join(gro.fmt_num(x) for x in gro.flat(v))))
        f.write("count %d\n" % int(avg.n_averaged))
        for i, (_, v, _) in enumerate(avg_arrays):
            vals = gro.flat(v)
            assert all(np.isfinite(vals))
            f.write("average %d %s\n" % (i, " ".join(gro.fmt_num(x) for x in vals)))
    f.write("end\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    out = os.path.normpath(a.out)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "average.txt")
    with open(path, "w") as f:
        f.write(HEADER + "\n")
        for c in cases():
            for dname in ("f32", "f64"):
                run_case(f, *c, dname)
    print("%-40s %3d cases %9d bytes" % (os.path.relpath(path), 2 * len(cases()), os.path.getsize(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
