#!/usr/bin/python3
"""tools/twin.py - an eta training config trained by PyTorch: the twin of `eta train`.

Reads the same INI config (with the same --set overrides), trains the same model in torch
1.13 on exactly eta's split and reports what `eta train` reports, so that the applications
(docs/applications.md) stand beside PyTorch:
  - data: eta's own split, from `eta data CONFIG --dump SPLIT` (each example as eta's model
    gets it); FashionMNIST from the IDX files with `--index-only` and eta's standardisation
    (a CSV of 55,000 images would be slow), the same bytes either way;
  - model: the [model] spec built by tools/gen_ref_nn.py's torch modules (eta's own modules
    written in torch with eta's parameter names), with torch's default initialisation (eta's
    too), and eta's N(0, 0.02) for PositionalEmbedding, which torch lacks; attention does not
    attend to keys holding the Embedding's padding_idx, as in eta (torch's key_padding_mask);
  - loss: [model] loss (auto: CrossEntropyLoss for classes, MSELoss otherwise);
  - optimizer: the [optimizer] spec as the torch.optim class of that name, keyword for keyword
    (no_decay patterns as a weight_decay=0 group); optimizer.lr = a number scales the schedule
    as eta does only for OneCycleLR's max_lr and the optimizer's own lr (other cases refused);
  - schedule: the [schedule] spec as torch.optim.lr_scheduler calls, the optimizer put first
    (SequentialLR's schedulers too); OneCycleLR without total_steps spans the run, as in eta;
    stepped every optimizer step (schedule.interval = step) or epoch;
  - training: train.epochs (or steps), batch_size, a reshuffle every epoch (torch's generator
    seeded with train.seed; torch.manual_seed(train.seed) for the weights), clip_grad_norm,
    evaluation on val every epoch (or eval_every), the test split at the end.
With --init-out FILE it writes its initial weights (torch's init) as safetensors, which eta
loads with `--set model.init=FILE`, and with --eta-order it takes the batches in eta's loader
order (its splitmix64 permutation of each epoch): the two then start from the same weights
and see the same batches, and differ only by float32 rounding and (with Dropout) the masks.
It writes DIR/metrics.csv in eta's columns (step,epoch,lr,momentum,loss,smooth_loss,grad_norm,
samples_per_s,val_loss[,val_acc]) and DIR/config.ini (a copy), so `eta plot ETA_DIR DIR`
overlays the two, and prints a summary line as JSON.

  /usr/bin/python3 tools/twin.py configs/sentiment-transformer.ini --dir runs/twin [--set K=V]...
Anything of the config it does not reproduce is refused by name, not ignored.
"""
import argparse
import ast
import configparser
import csv
import fnmatch
import gzip
import io
import json
import math
import os
import re
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_ref_nn as G  # noqa: E402  (eta's modules in torch; sets 1 thread, reset below)
import torch  # noqa: E402
from check_safetensors import write_safetensors  # noqa: E402
from eta_order import eta_perm  # noqa: E402  (eta's loader order, src/data/loader.c)
import torch.nn.functional as F  # noqa: E402

ROOT = os.path.dirname(HERE)
FMNIST_ROOT = "/usr/share/datasets/fashion-mnist"


class Refused(Exception):
    pass


def read_config(path, sets):
    cp = configparser.ConfigParser(inline_comment_prefixes=None, comment_prefixes=(";", "#"),
                                   interpolation=None, strict=False)
    cp.optionxform = str
    with open(path) as f:
        cp.read_string(f.read())
    def value(v):  # continuation lines may end in "# a comment", which eta's reader drops
        return " ".join(" ".join(re.sub(r"\s#.*$", "", line) for line in v.splitlines()).split())
    cfg = {s: {k: value(v) for k, v in cp[s].items()} for s in cp.sections()}
    for s in sets:
        key, _, value = s.partition("=")
        sec, _, k = key.partition(".")
        if not k:  # SECTION=SPEC sets SECTION.spec
            sec, k = key, "spec"
        cfg.setdefault(sec, {})[k] = value
    return cfg


def get(cfg, sec, key, default=None):
    v = cfg.get(sec, {}).get(key, "")
    return v if v != "" else default


# ---- data: eta's split -------------------------------------------------------

def eta_bin(a):
    return a.eta or os.environ.get("ETA_BIN") or os.path.join(ROOT, "build/release/eta")


def dump(a, config_path, sets, split, index_only=False):
    cmd = [eta_bin(a), "data", config_path, "--dump", split] + (["--index-only"] if index_only else [])
    if sets:  # eta data reads the config's [data] spec: give it the overridden spec
        spec = get(read_config(config_path, sets), "data", "spec")
        cmd[2] = spec
    env = dict(os.environ, ETA_DATA_DIR=a.data_dir)
    text = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    rows = list(csv.reader(io.StringIO(text)))
    head = rows[0]
    body = np.array(rows[1:], dtype=np.float64) if len(rows) > 1 else np.zeros((0, len(head)))
    ny = sum(1 for h in head if h.startswith("y"))
    return body[:, 0].astype(np.int64), body[:, 1:1 + ny], body[:, 1 + ny:]


def eta_summary(a, spec):
    env = dict(os.environ, ETA_DATA_DIR=a.data_dir)
    return subprocess.run([eta_bin(a), "data", spec], check=True, capture_output=True, text=True,
                          env=env).stdout


def read_idx(path):
    with gzip.open(path) if path.endswith(".gz") else open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def fmnist_file(name):
    for ext in ("", ".gz"):
        p = os.path.join(FMNIST_ROOT, name + ext)
        if os.path.exists(p):
            return p
    raise Refused("no %s in %s" % (name, FMNIST_ROOT))


def load_split(a, config_path, sets, cfg, split):
    """(x, y) tensors of one split, as eta's model gets them."""
    spec = get(cfg, "data", "spec")
    if spec.startswith("FashionMNIST"):
        idx, y, _ = dump(a, config_path, sets, split, index_only=True)
        test = split == "test"
        imgs = read_idx(fmnist_file("t10k-images-idx3-ubyte" if test else "train-images-idx3-ubyte"))
        x = imgs[idx].astype(np.float32) / np.float32(255)
        summ = eta_summary(a, spec)
        if "inputs standardised" in summ:  # one mean and std over every training pixel
            line = [l for l in summ.splitlines() if l.startswith("inputs standardised")][0]
            mean = float(line.split("first mean ")[1].split(",")[0])
            std = float(line.split("std ")[-1])
            x = ((x - np.float32(mean)) / np.float32(std)).astype(np.float32)
        flatten = "flatten=True" in spec.replace(" ", "")
        x = x.reshape(len(idx), -1) if flatten else x.reshape(len(idx), 1, 28, 28)
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y[:, 0].astype(np.int64))
    idx, y, x = dump(a, config_path, sets, split)
    summ = eta_summary(a, spec)
    tokens = "int32 token ids" in summ
    classes = "target: int32" in summ
    xt = torch.from_numpy(x.astype(np.int64)) if tokens else torch.from_numpy(x.astype(np.float32))
    if classes:
        yt = torch.from_numpy(y.astype(np.int64))
        yt = yt[:, 0] if yt.shape[1] == 1 else yt
    else:
        yt = torch.from_numpy(y.astype(np.float32))
    return xt, yt


# ---- optimizer and schedule --------------------------------------------------

def call_parts(spec):
    node = ast.parse(spec, mode="eval").body
    if not isinstance(node, ast.Call):
        raise Refused("not a call: %s" % spec)
    return node


def literal(node):
    return ast.literal_eval(node)


def build_optimizer(cfg, model):
    node = call_parts(get(cfg, "optimizer", "spec", "AdamW()"))
    name = node.func.id
    if not hasattr(torch.optim, name):
        raise Refused("optimizer %s: no torch.optim class of that name" % name)
    kw = {k.arg: literal(k.value) for k in node.keywords}
    if "betas" in kw:
        kw["betas"] = tuple(kw["betas"])
    no_decay = [p.strip() for p in get(cfg, "optimizer", "no_decay", "").split(",") if p.strip()]
    if no_decay:
        dec, nodec = [], []
        for n, p in model.named_parameters():
            (nodec if any(fnmatch.fnmatchcase(n, pat) for pat in no_decay) else dec).append(p)
        groups = [{"params": dec}, {"params": nodec, "weight_decay": 0.0}]
    else:
        groups = model.parameters()
    return getattr(torch.optim, name)(groups, **kw)


SCHEDULES = ("LambdaLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
             "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR",
             "OneCycleLR", "SequentialLR", "ChainedScheduler")


def build_schedule(spec, opt, total_steps, peak):
    """spec -> a torch scheduler on opt; OneCycleLR gets total_steps when it has none."""
    S = torch.optim.lr_scheduler

    def ev(node):
        if isinstance(node, ast.Call):
            name = node.func.id
            if name not in SCHEDULES:
                raise Refused("schedule %s: not reproduced by the twin" % name)
            args = [ev(x) for x in node.args]
            kw = {k.arg: ev(k.value) for k in node.keywords}
            if name == "OneCycleLR":
                if "total_steps" not in kw and "epochs" not in kw:
                    kw["total_steps"] = total_steps
                if peak:
                    kw["max_lr"] = peak
            if name in ("SequentialLR", "ChainedScheduler"):
                return getattr(S, name)(opt, *args, **kw) if name == "SequentialLR" else S.ChainedScheduler(*args)
            return getattr(S, name)(opt, *args, **kw)
        if isinstance(node, (ast.List, ast.Tuple)):
            return [ev(e) for e in node.elts]
        return literal(node)

    return ev(ast.parse(spec, mode="eval").body)


# ---- eta's key padding -----------------------------------------------------------

def key_padding(model):
    """eta's attention never attends to a key holding the first Embedding's padding_idx
    (src/nn/attention.c; torch's key_padding_mask): gen_ref_nn's attention gets that mask.
    Returns the forward to call, model(x) with the mask of x set first."""
    first = model[0] if isinstance(model, torch.nn.Sequential) and len(model) else None
    pad = first.padding_idx if isinstance(first, torch.nn.Embedding) else None
    attn = [m for m in model.modules() if isinstance(m, G.MultiheadSelfAttention)]
    if pad is None or not attn:
        return model
    state = {}

    def forward(self, x):
        B, T, C = x.shape
        H = self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        mask = state["kp"][:, None, None, :T]
        if self.causal:
            mask = mask | ~torch.tril(torch.ones(T, T, dtype=torch.bool))
        att = F.softmax(att.masked_fill(mask, float("-inf")), dim=-1)
        y = self.attn_dropout(att) @ v
        return self.resid_dropout(self.proj(y.transpose(1, 2).contiguous().view(B, T, C)))

    for m in attn:
        m.forward = forward.__get__(m)

    def run(x):
        state["kp"] = x == pad
        return model(x)
    return run


# ---- training ------------------------------------------------------------------

def evaluate(model, fwd, x, y, loss_fn, classes, batch=1024):
    model.eval()
    tot, correct, n = 0.0, 0, len(x)
    with torch.no_grad():
        for i in range(0, n, batch):
            out = fwd(x[i:i + batch])
            t = y[i:i + batch]
            if out.dim() == 3:  # a sequence model: [B, T, V] against [B, T]
                tot += F.cross_entropy(out.reshape(-1, out.shape[-1]), t.reshape(-1), reduction="sum").item() / t.shape[1]
            else:
                tot += loss_fn(out, t).item() * len(t)
                if classes:
                    correct += (out.argmax(1) == t).sum().item()
    model.train()
    return tot / n, (correct / n if classes and out.dim() == 2 else float("nan"))


def main():
    warnings.filterwarnings("ignore", message="The epoch parameter")  # SequentialLR's own call in 1.13
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("config")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--eta", default=None, help="the eta binary (default $ETA_BIN or build/release/eta)")
    ap.add_argument("--data-dir", default=os.environ.get("ETA_DATA_DIR", os.path.join(ROOT, "data")))
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default train.threads, 0: cores)")
    ap.add_argument("--init-out", default=None, help="write the initial weights here (safetensors)")
    ap.add_argument("--eta-order", action="store_true", help="batches in eta's loader order")
    a = ap.parse_args()
    cfg = read_config(a.config, a.set)
    for sec, keys in (("train", ("accumulate", "clip_grad_value", "average")), ("guard", ())):
        for k in keys:
            if get(cfg, sec, k) not in (None, "1", "0", "none", "false"):
                raise Refused("%s.%s is not reproduced by the twin" % (sec, k))
    if get(cfg, "model", "init"):
        raise Refused("model.init is not reproduced by the twin")
    seed = int(get(cfg, "train", "seed", "0"))
    threads = a.threads if a.threads is not None else int(get(cfg, "train", "threads", "0"))
    torch.set_num_threads(threads or os.cpu_count())
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    xtr, ytr = load_split(a, a.config, a.set, cfg, "train")
    xva, yva = load_split(a, a.config, a.set, cfg, "val")
    xte, yte = load_split(a, a.config, a.set, cfg, "test")
    t_data = time.perf_counter() - t0
    model = G.build_net(get(cfg, "model", "spec"))
    for m in model.modules():  # eta's init where torch has no module: GPT-2's wpe, N(0, 0.02)
        if isinstance(m, G.PositionalEmbedding):
            torch.nn.init.normal_(m.weight, 0.0, 0.02)
    if a.init_out:
        write_safetensors(a.init_out, {k: v for k, v in model.state_dict().items()
                                       if not k.endswith("num_batches_tracked")}, {"format": "pt"})
    fwd = key_padding(model)
    classes = ytr.dtype == torch.int64
    loss_spec = get(cfg, "model", "loss", "auto")
    if loss_spec == "auto":
        loss_spec = "CrossEntropyLoss()" if classes else "MSELoss()"
    loss_name = loss_spec.split("(")[0]
    if loss_name == "CrossEntropyLoss":
        loss_fn = lambda o, t: F.cross_entropy(o.reshape(-1, o.shape[-1]), t.reshape(-1)) if o.dim() == 3 \
            else F.cross_entropy(o, t)  # noqa: E731
    elif loss_name == "MSELoss":
        loss_fn = lambda o, t: F.mse_loss(o, t)  # noqa: E731
    else:
        raise Refused("loss %s: not reproduced by the twin" % loss_spec)
    opt = build_optimizer(cfg, model)
    batch = int(get(cfg, "data", "batch_size", "32"))
    n = len(xtr)
    per_epoch = (n + batch - 1) // batch
    steps = int(get(cfg, "train", "steps", "0"))
    epochs = int(get(cfg, "train", "epochs", "10"))
    total = steps if steps > 0 else epochs * per_epoch
    peak = get(cfg, "optimizer", "lr")
    if peak == "auto":
        raise Refused("optimizer.lr = auto: give the twin the number eta chose (--set optimizer.lr=X)")
    peak = float(peak) if peak else None
    sched_spec = get(cfg, "schedule", "spec")
    if peak and (not sched_spec or not sched_spec.startswith("OneCycleLR")):
        if sched_spec:
            raise Refused("optimizer.lr with %s: the twin scales only OneCycleLR or a constant rate" % sched_spec)
        for g in opt.param_groups:
            g["lr"] = peak
    sched = build_schedule(sched_spec, opt, total, peak) if sched_spec else None
    per_step = get(cfg, "schedule", "interval", "step") == "step"
    clip = float(get(cfg, "train", "clip_grad_norm", "0"))
    eval_every = int(get(cfg, "train", "eval_every", "0"))
    os.makedirs(a.dir, exist_ok=True)
    with open(a.config) as f, open(os.path.join(a.dir, "config.ini"), "w") as g:
        g.write(f.read() + "".join("; --set %s\n" % s for s in a.set))
    cols = ["step", "epoch", "lr", "momentum", "loss", "smooth_loss", "grad_norm", "samples_per_s", "val_loss"]
    cols += ["val_acc"] if classes else []
    mf = open(os.path.join(a.dir, "metrics.csv"), "w")
    mf.write(",".join(cols) + "\n")
    gen = torch.Generator()
    gen.manual_seed(seed)
    step, smooth, beta = 0, 0.0, 0.98
    t_train = time.perf_counter()
    val = (float("nan"), float("nan"))
    epoch = 0
    while step < total:
        perm = torch.tensor(eta_perm(n, seed, epoch)) if a.eta_order else torch.randperm(n, generator=gen)
        for i in range(0, n, batch):
            if step >= total:
                break
            t1 = time.perf_counter()
            idx = perm[i:i + batch]
            out = fwd(xtr[idx])
            loss = loss_fn(out, ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gn = torch.nn.utils.clip_grad_norm_(model.parameters(), clip if clip > 0 else float("inf")).item()
            lr = opt.param_groups[0]["lr"]
            mom = opt.param_groups[0].get("momentum", opt.param_groups[0].get("betas", (float("nan"),))[0])
            opt.step()
            if sched is not None and per_step:
                sched.step()
            step += 1
            smooth = beta * smooth + (1 - beta) * loss.item()
            sm = smooth / (1 - beta ** step)
            end_epoch = i + batch >= n
            row = [step, epoch, lr, mom, loss.item(), sm, gn, len(idx) / max(time.perf_counter() - t1, 1e-9)]
            if (eval_every and step % eval_every == 0) or (not eval_every and end_epoch) or step == total:
                val = evaluate(model, fwd, xva, yva, loss_fn, classes)
                row += [val[0]] + ([val[1]] if classes else [])
            else:
                row += [""] + ([""] if classes else [])
            mf.write(",".join(repr(float(v)) if isinstance(v, float) else str(v) for v in row) + "\n")
        epoch += 1
        if sched is not None and not per_step:
            sched.step()
    mf.close()
    t_train = time.perf_counter() - t_train
    test = evaluate(model, fwd, xte, yte, loss_fn, classes)
    print(json.dumps({"config": a.config, "sets": a.set, "seed": seed, "steps": step, "val_loss": val[0],
                      "val_acc": val[1], "test_loss": test[0], "test_acc": test[1], "train_seconds": t_train,
                      "data_seconds": t_data, "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    try:
        main()
    except Refused as e:
        sys.exit("tools/twin.py: %s" % e)
