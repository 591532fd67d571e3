"""The nn_defaults.txt fixture: every module and loss eta supports, written
with its required arguments only, so that the defaults themselves are
checked (the cases of nn_ops.txt spell out what they test).

Run through tools/gen_ref_nn.py, which writes and --checks this file with
the others; this module uses its helpers and output format.

Each case's spec (and loss) is evaluated with PyTorch's own classes
(TORCH_MODULES, TORCH_LOSSES: nn.LayerNorm, nn.CrossEntropyLoss, ...), never
through gen_ref_nn.py's spec tables, which restate eta's defaults: here the
defaults are torch's.  eta's own modules (PositionalEmbedding,
MultiheadSelfAttention, TransformerBlock, MeanPool) have no torch class and
use gen_ref_nn.py's reference implementations with their defaults (nanoGPT's:
not causal, biases, mlp_ratio 4, no dropout, nn.LayerNorm's eps).  A spec's
call has exactly the constructor's required (no default) parameters, by
position; generation fails otherwise.  Parameters are torch's default
initialisation from a seed (norms at weight 1, bias 0, running_mean 0,
running_var 1), except BatchNorm in eval mode, whose running stats are set
to small variances so that eps shows.

Where a default acts only on some inputs, the input makes it act: inputs
of the norm layers (and of TransformerBlock, for its LayerNorms) have a
variance of ~1e-4, so eps = 1e-5 moves the output by ~5% (a changed eps
fails at 1e-5); LeakyReLU and ReLU get negative inputs
and exact zeros; HuberLoss residuals fall on both sides of delta = 1; the
class losses have targets at ignore_index = -100; Embedding ids repeat and
include 0 (padding_idx=None, scale_grad_by_freq=False).  Softmax() and
LogSoftmax() get [B, C] inputs, where torch's implicit dim (deprecated, a
UserWarning silenced here) is 1, the last, as eta's dim=-1 (on [B, T, C]
torch would take dim 0; eta differs on purpose).  CrossEntropyLoss and
NLLLoss get [B, C] logits (eta's view(-1, C) rule for [B, T, C] is not
torch's).  AdaptiveAvgPool2d has no default in torch (eta's
output_size=1 is covered in nn_ops.txt).

Dropout() in train mode is random: instead of output, gradients and loss,
the case has `dropout <p> <scale> <zeros> <n>`: torch's default p, the
factor torch applied to the elements it kept (1/(1-p)), and how many of
the n outputs it zeroed.  test_nn_ref.c checks eta's output, loss and input
gradient against its own mask and its zero count against p.
"""

import ast
import inspect
import warnings

import numpy as np
import torch
import torch.nn as nn

import gen_ref_nn as G

TORCH_MODULES = {
    "Sequential": nn.Sequential, "Linear": nn.Linear, "Conv2d": nn.Conv2d, "MaxPool2d": nn.MaxPool2d,
    "AvgPool2d": nn.AvgPool2d, "AdaptiveAvgPool2d": nn.AdaptiveAvgPool2d, "Flatten": nn.Flatten,
    "BatchNorm1d": nn.BatchNorm1d, "BatchNorm2d": nn.BatchNorm2d, "LayerNorm": nn.LayerNorm,
    "Dropout": nn.Dropout, "Embedding": nn.Embedding, "PositionalEmbedding": G.PositionalEmbedding,
    "MultiheadSelfAttention": G.MultiheadSelfAttention, "TransformerBlock": G.TransformerBlock,
    "MeanPool": G.MeanPool, "ReLU": nn.ReLU, "LeakyReLU": nn.LeakyReLU, "GELU": nn.GELU, "Tanh": nn.Tanh,
    "Sigmoid": nn.Sigmoid, "Softmax": nn.Softmax, "LogSoftmax": nn.LogSoftmax,
}
TORCH_LOSSES = {
    "CrossEntropyLoss": nn.CrossEntropyLoss, "NLLLoss": nn.NLLLoss, "MSELoss": nn.MSELoss,
    "HuberLoss": nn.HuberLoss, "BCEWithLogitsLoss": nn.BCEWithLogitsLoss,
}


def required_only(spec, table):
    """Every call in spec passes exactly its class's required parameters,
    by position (Sequential: modules)."""
    def walk(node):
        G.need(isinstance(node, ast.Call) and not node.keywords, "%s: keyword arguments" % spec)
        cls = table[node.func.id]
        if cls is nn.Sequential:
            for a in node.args:
                walk(a)
            return
        req = [p for p in inspect.signature(cls).parameters.values()
               if p.default is inspect.Parameter.empty and p.kind == p.POSITIONAL_OR_KEYWORD]
        G.need(len(node.args) == len(req), "%s: %s takes %d required arguments" % (spec, node.func.id, len(req)))
    walk(ast.parse(spec, mode="eval").body)


class Def(G.Op):
    """A defaults case: G.Op plus x="fine" (normal * scale + offset on a
    2**-20 grid: small variances stay exact in float32) and bn_eval_var (the
    running_var range set in eval mode)."""

    def __init__(self, name, module, shape, batch, loss="MSELoss()", bn_eval_var=None, **kw):
        super().__init__(name, module, shape, batch, loss=loss, **kw)
        self.bn_eval_var = bn_eval_var


def default_cases():
    C = []
    A = C.append
    fine = dict(x="fine", scale=0.01)
    A(Def("linear", "Linear(6, 4)", [6], 3))
    A(Def("conv2d", "Conv2d(2, 3, 3)", [2, 6, 5], 2))
    A(Def("maxpool2d", "MaxPool2d(2)", [2, 5, 7], 2, x="distinct"))
    A(Def("avgpool2d", "AvgPool2d(3)", [2, 7, 8], 2))
    A(Def("adaptive_avgpool2d", "AdaptiveAvgPool2d(2)", [2, 5, 7], 2))
    A(Def("flatten", "Flatten()", [3, 4, 5], 2))
    A(Def("batchnorm1d_train", "BatchNorm1d(8)", [8], 6, offset=0.02, **fine))
    A(Def("batchnorm1d_3d_train", "BatchNorm1d(4)", [4, 5], 3, offset=-0.03, **fine))
    A(Def("batchnorm2d_train", "BatchNorm2d(3)", [3, 4, 4], 2, offset=0.01, **fine))
    A(Def("batchnorm1d_eval", "BatchNorm1d(5)", [5], 4, mode="eval", bn_eval_var=(1e-4, 4e-4), **fine))
    A(Def("batchnorm2d_eval", "BatchNorm2d(3)", [3, 3, 4], 2, mode="eval", bn_eval_var=(1e-4, 4e-4), **fine))
    A(Def("layernorm", "LayerNorm(16)", [16], 4, offset=0.03, **fine))
    A(Def("layernorm_3d", "LayerNorm(8)", [5, 8], 2, **fine))
    A(Def("dropout_train", "Dropout()", [64], 32, x="fine", scale=1.0))
    A(Def("dropout_eval", "Dropout()", [6], 3, mode="eval"))
    A(Def("embedding", "Embedding(10, 4)", [6], 3, x="ids", vocab=10,
          force_ids=((0, 0), (1, 3), (2, 3), (7, 0), (9, 3), (12, 9))))
    A(Def("positional_embedding", "PositionalEmbedding(6, 4)", [5, 4], 2))
    A(Def("multihead_self_attention", "MultiheadSelfAttention(8, 2)", [5, 8], 2))
    A(Def("transformer_block", "TransformerBlock(8, 2)", [5, 8], 2, **fine))
    A(Def("meanpool", "MeanPool()", [5, 4], 3))
    A(Def("relu", "ReLU()", [12], 3, x="zeros", scale=2.0))
    A(Def("leaky_relu", "LeakyReLU()", [12], 3, x="zeros", scale=2.0))
    A(Def("gelu", "GELU()", [10], 3, scale=2.5))
    A(Def("tanh", "Tanh()", [8], 3, scale=2.0))
    A(Def("sigmoid", "Sigmoid()", [8], 3, scale=3.0))
    A(Def("softmax", "Softmax()", [7], 3, scale=2.0))
    A(Def("logsoftmax", "LogSoftmax()", [7], 3, scale=2.0))
    A(Def("cross_entropy", "Linear(6, 5)", [6], 6, loss="CrossEntropyLoss()", ignore=(2,)))
    A(Def("nll", "Linear(6, 5), LogSoftmax()", [6], 6, loss="NLLLoss()", ignore=(4,)))
    A(Def("mse", "Linear(4, 3)", [4], 3))
    A(Def("huber", "Linear(4, 3)", [4], 5, loss="HuberLoss()", huber_scale=1.5))
    A(Def("bce_with_logits", "Linear(5, 3)", [5], 4, loss="BCEWithLogitsLoss()"))
    return C


def make_input(c, rng):
    if c.x != "fine":
        return G.make_input(c, rng)
    v = rng.standard_normal([c.batch] + c.shape) * c.scale + c.offset
    return torch.from_numpy(G.dyadic(v, 20).astype(np.float32))


def build(c):
    required_only(c.spec, TORCH_MODULES)
    required_only(c.loss, TORCH_LOSSES)
    return G._eval_spec(ast.parse(c.spec, mode="eval").body, TORCH_MODULES), \
        G._eval_spec(ast.parse(c.loss, mode="eval").body, TORCH_LOSSES)


def gen_default(c):
    seed = G.seed_of("defaults_" + c.name)
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    model, lossf = build(c)
    if c.bn_eval_var:
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                    m.running_mean.copy_(torch.from_numpy(G.dyadic(c.offset + 0.01 * rng.standard_normal(
                        m.running_mean.shape), 20)))
                    m.running_var.copy_(torch.from_numpy(G.dyadic(rng.uniform(*c.bn_eval_var, m.running_var.shape),
                                                                  24)))
    x = make_input(c, rng)
    L = ["case " + c.name, "spec " + c.spec, "loss " + c.loss, "mode " + c.mode,
         "input_shape " + " ".join(map(str, c.shape)), "batch %d" % c.batch,
         "input_type " + ("f32" if x.is_floating_point() else "i32"), "input " + G.fvals(x)]
    before = G.state_lines(model)
    model.train(c.mode == "train")
    xin = x.clone().requires_grad_(True) if x.is_floating_point() else x
    out = model(xin)
    tgt = G.make_target(c, out, rng)
    if G.loss_name(c.loss) in G.CLASS_LOSSES:
        tgt.reshape(-1)[list(c.ignore)] = lossf.ignore_index  # torch's default, not the generator's
    loss = lossf(out, tgt)
    loss.backward()
    L += ["target_type " + ("f32" if tgt.is_floating_point() else "i32"), "target " + G.fvals(tgt)]
    L += before
    if c.name == "dropout_train":
        kept = out.detach() != 0
        scale = (out.detach()[kept] / x[kept]).unique()
        G.need(len(scale) == 1 and (x != 0).all(), "dropout: one scale, nonzero inputs")
        L.append("dropout %s %s %d %d" % (G.fnum(model[0].p), G.fnum(scale[0]), int((~kept).sum()), out.numel()))
        L.append("end")
        return L
    L.append("output %s %s" % (G.fshape(out.shape), G.fvals(out)))
    if c.mode == "train":
        L += G.buffer_lines(model, "buffer_after")
    L.append("loss_value " + G.fnum(loss))
    for n, p in model.named_parameters():
        L.append("grad %s %s" % (n, G.fvals(p.grad if p.grad is not None else torch.zeros_like(p))))
    if x.is_floating_point():
        L.append("input_grad " + G.fvals(xin.grad))
    L.append("end")
    return L


def generate_defaults():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Implicit dimension choice", UserWarning)
        return G.render([gen_default(c) for c in default_cases()])


def check_defaults(text):
    """Replays every case but Dropout's through gen_ref_nn.py's spec tables
    (eta's names and defaults: a default restated wrongly there fails here)
    and in float64; checks the dropout line against nn.Dropout()."""
    cases = G.parse_file(text)
    names = [c["name"] for c in cases]
    G.need(names == [c.name for c in default_cases()], "nn_defaults.txt: case list")
    is_drop = lambda case: any(k == "dropout" for k, _ in case["items"])
    n = G.check_ops(text, only=lambda case: not is_drop(case))
    worst = G.check_ops_f64(text, only=lambda case: not is_drop(case))
    for case in filter(is_drop, cases):
        items = dict(case["items"])
        p, scale, zeros, total = [float(v) for v in items["dropout"].split()]
        G.need(p == nn.Dropout().p and scale == 1.0 / (1.0 - p), "dropout: p %g scale %g" % (p, scale))
        G.need(abs(zeros - p * total) <= 6 * (total * p * (1 - p)) ** 0.5, "dropout: %d zeros of %d" % (zeros, total))
        n += 1
    return n, worst
