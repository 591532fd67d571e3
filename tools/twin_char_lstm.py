#!/usr/bin/python3
"""The PyTorch twin of configs/char-lstm.ini: the same character-level LSTM
language model, trained from the same initial weights on the same batches
with the same optimizer and clipping, beside eta's run.

    /usr/bin/python3 tools/twin_char_lstm.py [--seed 0] [--epochs 3] [--lr 10] [--threads N]
                                             [--eta build/release/eta] [--dir runs/char-lstm/twin-s0]
                                             [--reuse-eta]

What it does:
  1. builds the model in torch (tools/gen_ref_nn.py's build_net of the
     config's spec: nn.Embedding, nn.LSTM(batch_first=True) giving its
     output sequence, nn.Linear) from torch.manual_seed(seed) and writes its
     initial weights to DIR/init.safetensors;
  2. runs `eta train configs/char-lstm.ini` with model.init = that file,
     data.shuffle = false (batches in file order, so that both see the same
     ones) and train.log_every = 1, into DIR/eta;
  3. trains the torch model the same way: the dasher text cut as eta's Text
     data set cuts it (characters; the last 5% for test, the 5% before for
     validation, ceil as eta; vocabulary from the training part, id 0 <unk>,
     then by falling count, ties in byte order; windows of 64 every 64),
     batches of 32 in order, SGD(lr=10, momentum=0.9) (--lr: another rate
     for both), clip_grad_norm_(1.0),
     the validation loss (mean over every predicted character) after each
     epoch;
  4. prints, as CSV, every step's training loss of both for the first
     steps with their relative difference, and a summary: the largest
     relative difference over the first 10 steps, each epoch's validation
     loss and bits per character (loss / ln 2) of both with the relative
     gap, and each side's wall time (eta's whole command, data loading
     included; torch's training and evaluation loops).

Writes DIR/twin.csv (step, eta_loss, torch_loss for every step) and
DIR/torch/metrics.csv (torch's losses in eta's metrics format, for
`eta plot DIR/eta DIR/torch`).
Exit 0 when the run completed (the comparison is printed, not asserted).
"""

import argparse
import csv
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_ref_nn as G  # noqa: E402
from check_safetensors import write_safetensors  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

TEXT = "/usr/share/dasher/training_english_GB.txt"
CONTEXT, STRIDE, BATCH = 64, 64, 32
SPEC = "Sequential(Embedding(86, 32), LSTM(32, 128), Linear(128, 86))"
LR, MOMENTUM, CLIP = 10.0, 0.9, 1.0


def tokens():
    """eta's Text(context=64, stride=64): ids and the window starts per split."""
    with open(TEXT, "rb") as f:
        chars = f.read().decode("utf-8")
    n = len(chars)
    nval = ntest = math.ceil(0.05 * n - 1e-9)
    part = [0, n - nval - ntest, n - ntest, n]
    counts = {}
    for ch in chars[:part[1]]:
        counts[ch] = counts.get(ch, 0) + 1
    order = sorted(counts, key=lambda c: (-counts[c], c.encode("utf-8")))
    vocab = {c: i + 1 for i, c in enumerate(order)}  # 0: <unk>
    ids = np.array([vocab.get(c, 0) for c in chars], dtype=np.int64)
    starts = []
    for s in range(3):
        size = part[s + 1] - part[s]
        count = (size - CONTEXT - 1) // STRIDE + 1 if size >= CONTEXT + 1 else 0
        starts.append([part[s] + k * STRIDE for k in range(count)])
    return ids, starts, len(vocab) + 1


def batch(ids, starts):
    x = np.stack([ids[s:s + CONTEXT] for s in starts])
    y = np.stack([ids[s + 1:s + CONTEXT + 1] for s in starts])
    return torch.from_numpy(x), torch.from_numpy(y)


def evaluate(model, ids, starts):
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for k in range(0, len(starts), BATCH):
            x, y = batch(ids, starts[k:k + BATCH])
            out = model(x)
            total += float(F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), reduction="sum"))
            count += y.numel()
    model.train()
    return total / count


def read_eta(path):
    steps, vals = {}, []
    with open(path) as f:
        for row in csv.DictReader(f):
            steps[int(row["step"])] = float(row["loss"])
            if row["val_loss"]:
                vals.append((int(row["step"]), float(row["val_loss"])))
    return steps, vals


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--eta", default=os.path.join(HERE, "..", "build", "release", "eta"))
    ap.add_argument("--dir", default=None)
    ap.add_argument("--show", type=int, default=10, help="steps printed one by one")
    ap.add_argument("--lr", type=float, default=LR, help="SGD's rate for both (default: the config's, 10)")
    ap.add_argument("--threads", type=int, default=0, help="torch's threads (0: every core, as eta's default)")
    ap.add_argument("--reuse-eta", action="store_true",
                    help="take eta's run from DIR/eta when it is there (same seed and epochs) instead of running it")
    a = ap.parse_args()
    lr_tag = "" if a.lr == LR else "-lr%g" % a.lr
    out = a.dir or os.path.join("runs", "char-lstm", "twin%s-s%d" % (lr_tag, a.seed))
    os.makedirs(out, exist_ok=True)

    torch.set_num_threads(a.threads or os.cpu_count() or 1)  # gen_ref_nn set 1
    ids, starts, V = tokens()
    assert V == 86, V
    torch.manual_seed(a.seed)
    model = G.build_net(SPEC)
    init = os.path.join(out, "init.safetensors")
    write_safetensors(init, {k: v.detach().clone() for k, v in model.state_dict().items()})

    cfg = os.path.join(HERE, "..", "configs", "char-lstm.ini")
    cmd = [a.eta, "train", cfg, "--set", "model.init=" + os.path.abspath(init), "--set", "data.shuffle=false",
           "--set", "train.log_every=1", "--set", "train.epochs=%d" % a.epochs, "--set", "train.seed=%d" % a.seed,
           "--set", "optimizer=SGD(lr=%r, momentum=%r)" % (a.lr, MOMENTUM),
           "--dir", os.path.join(out, "eta"), "--progress", "off"]
    t0 = time.time()
    reused = a.reuse_eta and os.path.exists(os.path.join(out, "eta", "model.safetensors"))
    if not reused:
        subprocess.run(cmd, check=True)
    eta_time = time.time() - t0
    eta_steps, eta_vals = read_eta(os.path.join(out, "eta", "metrics.csv"))

    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=MOMENTUM, foreach=False)
    torch_losses, torch_vals, step = {}, [], 0
    train = starts[0]
    t0 = time.time()
    model.train()
    for epoch in range(a.epochs):
        for k in range(0, len(train), BATCH):
            x, y = batch(ids, train[k:k + BATCH])
            out_ = model(x)
            loss = F.cross_entropy(out_.reshape(-1, out_.shape[-1]), y.reshape(-1))
            opt.zero_grad(set_to_none=False)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            opt.step()
            step += 1
            torch_losses[step] = float(loss)
        torch_vals.append((step, evaluate(model, ids, starts[1])))
    torch_time = time.time() - t0

    # torch's run as an eta run directory (metrics.csv's columns), so that
    # `eta plot DIR/eta DIR/torch` overlays the two loss curves
    os.makedirs(os.path.join(out, "torch"), exist_ok=True)
    vals = dict(torch_vals)
    with open(os.path.join(out, "torch", "metrics.csv"), "w") as f:
        f.write("step,epoch,lr,momentum,loss,smooth_loss,grad_norm,samples_per_s,val_loss,val_acc\n")
        avg = 0.0
        for s in sorted(torch_losses):
            avg = 0.98 * avg + 0.02 * torch_losses[s]  # eta's smooth_loss: debiased EMA, beta 0.98
            f.write("%d,%d,%r,%r,%r,%r,,,%s,\n" % (s, (s - 1) // (len(train) // BATCH), a.lr, MOMENTUM, torch_losses[s],
                                                 avg / (1 - 0.98 ** s), repr(vals[s]) if s in vals else ""))
    with open(os.path.join(out, "twin.csv"), "w") as f:
        f.write("step,eta_loss,torch_loss\n")
        for s in sorted(torch_losses):
            f.write("%d,%s,%s\n" % (s, eta_steps.get(s, float("nan")), torch_losses[s]))
    print("step,eta_loss,torch_loss,rel_diff")
    worst = 0.0
    for s in range(1, a.show + 1):
        e, t = eta_steps[s], torch_losses[s]
        worst = max(worst, abs(e - t) / abs(t))
        print("%d,%.9g,%.9g,%.2e" % (s, e, t, abs(e - t) / abs(t)))
    print("# first %d steps: largest relative difference %.2e" % (a.show, worst))
    ln2 = math.log(2)
    print("epoch_step,eta_val_loss,torch_val_loss,eta_val_bpc,torch_val_bpc,rel_gap")
    for (se, ve), (st, vt) in zip(eta_vals, torch_vals):
        print("%d,%.6f,%.6f,%.4f,%.4f,%.2e" % (se, ve, vt, ve / ln2, vt / ln2, abs(ve - vt) / vt))
    print("# wall time (s): eta %s, torch %.1f (training and evaluation), torch threads %d"
          % ("not measured (its run was reused)" if reused else "%.1f (the whole command)" % eta_time, torch_time,
             torch.get_num_threads()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
