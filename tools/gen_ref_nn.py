#!/usr/bin/python3
"""Write the nn reference fixtures that eta's tests compare against.

Run with the Debian interpreter that has PyTorch (1.13):

    /usr/bin/python3 tools/gen_ref_nn.py [--out tests/ref]
    /usr/bin/python3 tools/gen_ref_nn.py --check [--out tests/ref]

Output: tests/ref/nn_ops.txt (one case per layer, loss and awkward shape,
every argument spelled out), tests/ref/nn_e2e.txt (three tiny networks
trained 10 steps with two optimizers) and tests/ref/nn_defaults.txt (every
module and loss with its required arguments only, against torch's own
classes: tools/gen_ref_nn_defaults.py).  Deterministic: fixed seeds, one
thread, float32 models, OpenBLAS's detected kernels.

Network and loss specs are parsed here with Python's call syntax (ast), and
every module is built with eta's argument names and defaults (SPEC_MODULES,
SPEC_LOSSES), so the spec text in a case is exactly what was computed:
Softmax()/LogSoftmax() mean dim=-1, AdaptiveAvgPool2d() means output_size=1.
LSTM and GRU are torch's, giving their output sequence only and batch
first by default (eta's); their fixtures are tools/gen_ref_nn_rnn.py's.
eta's own modules (PositionalEmbedding, MultiheadSelfAttention,
TransformerBlock, MeanPool) are implemented below as specified (nanoGPT's
CausalSelfAttention and Block, with eta's parameter names).

nn_ops.txt, one block per case:

    # eta nn fixture, written by tools/gen_ref_nn.py (torch X); do not edit
    case <name>
    spec Sequential(<one module>)
    loss <loss spec>
    mode train|eval
    input_shape <dims without batch>
    batch <B>
    input_type f32|i32
    input <B*prod(input_shape) values>
    target_type f32|i32
    target <values>                      (f32: the output's shape; i32: the
                                          output's shape without its last dim)
    param <name> <ndim> <dims...> <values>     state_dict order, with
    buffer <name> <ndim> <dims...> <values>    BatchNorm's running_mean and
                                               running_var (before the forward
                                               pass) in their state_dict place;
                                               num_batches_tracked is omitted
    output <ndim> <dims...> <values>     (dims include the batch)
    buffer_after <name> <ndim> <dims...> <values>   (train mode, BatchNorm
                                          only: running stats after the pass)
    loss_value <v>
    grad <name> <values>                 (every param, same order)
    input_grad <values>                  (f32 inputs only)
    end

nn_e2e.txt: the same keys plus `optimizer <spec>` and `steps 10`; `param`
and `buffer` hold the initial state; one batch is used at every step;
`loss_at k v` (k = 0..10) is the loss of the forward pass before step k
(k = 10: after the last step); `grad0 <name> <values>` the gradients at step
0; `final <name> <ndim> <dims...> <values>` the parameters after the 10 steps
and `buffer_final ...` the BatchNorm running stats after the 11 forward
passes (all in train mode); `noise <name> <k> <i1> ... <ik>`, just before
the `final` or `buffer_final` line of <name>, lists the elements whose
value there is rounding noise (the rule: above noise_flags).  Optimizers
get every parameter in one group (torch.optim, foreach=False).

nn_defaults.txt: the keys of nn_ops.txt, and for Dropout() in train mode
`dropout <p> <scale> <zeros> <n>` in place of the results (see
tools/gen_ref_nn_defaults.py).

Numbers: repr(float(x)) of float32 values (exactly widened), ints as ints.
Inputs, targets and the parameters of nn_ops cases are rounded to dyadic
grids (2**-10, 2**-12), so they are exact in float32.
CrossEntropyLoss / NLLLoss on an output [B, T, C] use PyTorch's
view(-1, C) convention: the mean over all B*T non-ignored positions.

Comparing: every case agrees with a float64 replay to < 1e-4 relative to
the array's largest value (worst: softmax_large_logits input_grad, 3e-5;
the e2e trajectories 5e-6), so a C float32 implementation can use such a
tolerance.  Compare gradients relative to the case's largest gradient:
some entries are 0 in exact arithmetic and rounding noise here (the CNN's
conv bias before BatchNorm, the key part qkv.bias[D:2D] of every
attention, since softmax ignores a shift shared by all keys).  The e2e
`final` and `buffer_final` values without the flagged noise agree with the
float64 replay to 8e-4 and 5e-7 of max(|motion|, 0.1 * the array's largest
|motion|), motion = final - initial (test_nn_ref.c's measure); the losses
are unaffected by the noise.

--check re-reads the files and validates their structure, replays every
case from the file alone (spec + written parameters -> written outputs),
recomputes every loss from the written output with numpy (float64),
replays the defaults cases through SPEC_MODULES / SPEC_LOSSES (so a
default restated wrongly there fails), cross-checks the eta-specific
modules against independent formulations (tools/gen_ref_nn_modules.py:
numpy per-head loops, torch.nn.MultiheadAttention, gradcheck, parameter
counts) and regenerates the files in memory to confirm they are identical.
"""

import argparse
import ast
import copy
import importlib
import math
import os
import sys
import zlib

# OpenBLAS chooses its kernels for the CPU unless OPENBLAS_CORETYPE forces a
# type, and another kernel rounds float32 sums differently: the fixtures are
# written (and --check reproduces them) with the detected kernels.
os.environ.pop("OPENBLAS_CORETYPE", None)

import numpy as np  # noqa: E402 (after the environment is set)
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
HEADER = ("# eta nn fixture, written by tools/gen_ref_nn.py (torch %s); do not edit"
          % torch.__version__)


# --------------------------------------------------------------------------
# eta's own modules
# --------------------------------------------------------------------------

class PositionalEmbedding(nn.Module):
    """x [B, T, D] + weight[:T] (a learned position vector per position)."""

    def __init__(self, max_len, embedding_dim):
        super().__init__()
        self.max_len, self.dim = max_len, embedding_dim
        self.weight = nn.Parameter(torch.randn(max_len, embedding_dim))

    def forward(self, x):
        B, T, D = x.shape
        assert T <= self.max_len and D == self.dim
        return x + self.weight[:T]


class MultiheadSelfAttention(nn.Module):
    """nanoGPT's CausalSelfAttention with eta's names (qkv, proj); `causal`
    optional.  dropout (used inside TransformerBlock only) as nanoGPT:
    on the attention weights and after proj."""

    def __init__(self, embed_dim, num_heads, causal=False, bias=True, dropout=0.0):
        super().__init__()
        assert embed_dim % num_heads == 0
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim, bias=bias)
        self.proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)
        self.n_head, self.d, self.causal = num_heads, embed_dim, causal

    def forward(self, x):
        B, T, C = x.shape
        H = self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, H, C // H).transpose(1, 2)            # [B, H, T, hs]
        k = k.view(B, T, H, C // H).transpose(1, 2)
        v = v.view(B, T, H, C // H).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        if self.causal:
            mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
            att = att.masked_fill(~mask, float("-inf"))
        att = F.softmax(att, dim=-1)
        att = self.attn_dropout(att)
        y = att @ v                                               # [B, H, T, hs]
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.proj(y))


class MLP(nn.Module):
    def __init__(self, d, hidden, dropout):
        super().__init__()
        self.c_fc = nn.Linear(d, hidden)
        self.gelu = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(hidden, d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class TransformerBlock(nn.Module):
    """nanoGPT's Block (pre-LayerNorm)."""

    def __init__(self, d_model, n_head, causal=False, mlp_ratio=4, dropout=0.0):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = MultiheadSelfAttention(d_model, n_head, causal=causal, bias=True, dropout=dropout)
        self.ln_2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, int(mlp_ratio * d_model), dropout)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class MeanPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=1)


class LSTM(nn.LSTM):
    """torch's LSTM giving only its output sequence (eta's LSTM in a
    Sequential); batch_first defaults to True as in eta."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=True):
        super().__init__(input_size, hidden_size, num_layers=num_layers, bias=bias, batch_first=batch_first)

    def forward(self, x):
        return super().forward(x)[0]


class GRU(nn.GRU):
    """torch's GRU giving only its output sequence, as LSTM above."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=True):
        super().__init__(input_size, hidden_size, num_layers=num_layers, bias=bias, batch_first=batch_first)

    def forward(self, x):
        return super().forward(x)[0]


# --------------------------------------------------------------------------
# specs: eta's names and defaults
# --------------------------------------------------------------------------

def _Softmax(dim=-1):
    return nn.Softmax(dim=dim)


def _LogSoftmax(dim=-1):
    return nn.LogSoftmax(dim=dim)


SPEC_MODULES = {
    "Sequential": lambda *mods: nn.Sequential(*mods),
    "Linear": lambda in_features, out_features, bias=True: nn.Linear(in_features, out_features, bias=bias),
    # torch's positional order: dilation and groups come before bias
    "Conv2d": lambda in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True: nn.Conv2d(
        in_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation, groups=groups,
        bias=bias),
    "MaxPool2d": lambda kernel_size, stride=None, padding=0: nn.MaxPool2d(kernel_size, stride, padding),
    "AvgPool2d": lambda kernel_size, stride=None, padding=0: nn.AvgPool2d(kernel_size, stride, padding),
    "AdaptiveAvgPool2d": lambda output_size=1: nn.AdaptiveAvgPool2d(output_size),
    "Flatten": lambda start_dim=1, end_dim=-1: nn.Flatten(start_dim, end_dim),
    "BatchNorm1d": lambda num_features, eps=1e-5, momentum=0.1, affine=True: nn.BatchNorm1d(
        num_features, eps=eps, momentum=momentum, affine=affine),
    "BatchNorm2d": lambda num_features, eps=1e-5, momentum=0.1, affine=True: nn.BatchNorm2d(
        num_features, eps=eps, momentum=momentum, affine=affine),
    "LayerNorm": lambda normalized_shape, eps=1e-5: nn.LayerNorm(normalized_shape, eps=eps),
    "Dropout": lambda p=0.5: nn.Dropout(p),
    "Embedding": lambda num_embeddings, embedding_dim, padding_idx=None: nn.Embedding(
        num_embeddings, embedding_dim, padding_idx=padding_idx),
    "PositionalEmbedding": PositionalEmbedding,
    "MultiheadSelfAttention": lambda embed_dim, num_heads, causal=False, bias=True: MultiheadSelfAttention(
        embed_dim, num_heads, causal=causal, bias=bias),
    "TransformerBlock": TransformerBlock,
    "MeanPool": MeanPool,
    "LSTM": LSTM,
    "GRU": GRU,
    "ReLU": lambda: nn.ReLU(),
    "LeakyReLU": lambda negative_slope=0.01: nn.LeakyReLU(negative_slope),
    "GELU": lambda approximate="none": nn.GELU(approximate=approximate),
    "Tanh": lambda: nn.Tanh(),
    "Sigmoid": lambda: nn.Sigmoid(),
    "Softmax": _Softmax,
    "LogSoftmax": _LogSoftmax,
}


def _class_loss(fn, **kw):
    def f(out, tgt):
        C = out.shape[-1]
        return fn(out.reshape(-1, C), tgt.reshape(-1).long(), **kw)
    return f


SPEC_LOSSES = {
    "CrossEntropyLoss": lambda label_smoothing=0.0, ignore_index=-100: _class_loss(
        F.cross_entropy, ignore_index=ignore_index, label_smoothing=label_smoothing),
    "NLLLoss": lambda ignore_index=-100: _class_loss(F.nll_loss, ignore_index=ignore_index),
    "MSELoss": lambda: (lambda out, tgt: F.mse_loss(out, tgt)),
    "HuberLoss": lambda delta=1.0: (lambda out, tgt: F.huber_loss(out, tgt, delta=delta)),
    "BCEWithLogitsLoss": lambda: (lambda out, tgt: F.binary_cross_entropy_with_logits(out, tgt)),
}
CLASS_LOSSES = ("CrossEntropyLoss", "NLLLoss")


def _eval_spec(node, table):
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in table:
            raise ValueError("unknown call %s" % ast.dump(node.func))
        args = [_eval_spec(a, table) for a in node.args]
        kw = {k.arg: _eval_spec(k.value, table) for k in node.keywords}
        return table[node.func.id](*args, **kw)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_eval_spec(e, table) for e in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval_spec(node.operand, table)
    raise ValueError("unsupported spec syntax %s" % ast.dump(node))


def build_net(spec):
    return _eval_spec(ast.parse(spec, mode="eval").body, SPEC_MODULES)


def build_loss(spec):
    return _eval_spec(ast.parse(spec, mode="eval").body, SPEC_LOSSES)


def loss_name(spec):
    return spec.split("(")[0].strip()


def optimizer_for(spec, params):
    name = spec.split("(")[0]
    kw = {k.arg: ast.literal_eval(k.value) for k in ast.parse(spec, mode="eval").body.keywords}
    cls = {"SGD": torch.optim.SGD, "AdamW": torch.optim.AdamW}[name]
    return cls(params, foreach=False, **kw)


# --------------------------------------------------------------------------
# output helpers
# --------------------------------------------------------------------------

def fnum(x):
    return repr(float(x))


def fvals(t):
    t = t.detach()
    if t.dtype in (torch.int32, torch.int64):
        return " ".join(str(int(v)) for v in t.reshape(-1).tolist())
    return " ".join(fnum(v) for v in t.to(torch.float64).reshape(-1).tolist())


def fshape(shape):
    return " ".join([str(len(shape))] + [str(int(s)) for s in shape])


def dyadic(x, e):
    return np.round(np.asarray(x, dtype=np.float64) * 2.0 ** e) / 2.0 ** e


def seed_of(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def is_buffer(sd_name, model):
    return sd_name in dict(model.named_buffers())


def state_lines(model, key_param="param", key_buffer="buffer"):
    """param/buffer lines in state_dict order (num_batches_tracked omitted)."""
    out = []
    bufs = dict(model.named_buffers())
    for name, t in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        key = key_buffer if name in bufs else key_param
        out.append("%s %s %s %s" % (key, name, fshape(t.shape), fvals(t)))
    return out


def buffer_lines(model, key):
    return ["%s %s %s %s" % (key, n, fshape(t.shape), fvals(t))
            for n, t in model.state_dict().items()
            if n in dict(model.named_buffers()) and not n.endswith("num_batches_tracked")]


# --------------------------------------------------------------------------
# nn_ops cases
# --------------------------------------------------------------------------

class Op:
    """One nn_ops case.

    x: how the input is drawn: "normal" (scale, offset), "zeros" (normal with
    every fourth value an exact 0), "distinct" (a shuffled grid, no ties),
    "ties" (small ints, many ties), "negative" (all < 0), "ids" (ints in
    [0, vocab), some forced).  t: target options for the loss."""

    def __init__(self, name, module, shape, batch, loss="MSELoss()", mode="train", x="normal",
                 scale=1.0, offset=0.0, vocab=None, force_ids=(), ignore=(), force_target=(),
                 huber_scale=None):
        self.name = name
        self.spec = "Sequential(%s)" % module
        self.shape = list(shape)
        self.batch = batch
        self.loss = loss
        self.mode = mode
        self.x = x
        self.scale, self.offset = scale, offset
        self.vocab = vocab
        self.force_ids = force_ids
        self.ignore = ignore              # flat target positions set to the ignore index
        self.force_target = force_target  # (position, class) pairs
        self.huber_scale = huber_scale


def op_cases():
    C = []
    A = C.append
    # Linear
    A(Op("linear", "Linear(7, 5)", [7], 3))
    A(Op("linear_nobias", "Linear(6, 4, bias=False)", [6], 2))
    A(Op("linear_batch1", "Linear(5, 3)", [5], 1))
    A(Op("linear_1x1", "Linear(1, 1)", [1], 1))
    A(Op("linear_3d", "Linear(6, 5)", [4, 6], 2))
    A(Op("linear_4d", "Linear(3, 2)", [2, 3, 3], 2))
    # Conv2d
    A(Op("conv", "Conv2d(3, 5, 3)", [3, 9, 7], 2))
    A(Op("conv_stride2_pad1", "Conv2d(3, 5, 3, stride=2, padding=1)", [3, 9, 7], 2))
    A(Op("conv_nobias_batch1", "Conv2d(2, 4, 3, bias=False)", [2, 5, 6], 1))
    A(Op("conv_k1", "Conv2d(4, 3, 1)", [4, 5, 3], 2))
    A(Op("conv_k4_stride3_pad2", "Conv2d(2, 3, 4, stride=3, padding=2)", [2, 10, 8], 2))
    A(Op("conv_k5_pad2_1ch", "Conv2d(1, 2, 5, padding=2)", [1, 6, 5], 3))
    A(Op("conv_kernel_is_input", "Conv2d(3, 4, 5)", [3, 5, 5], 2))
    A(Op("conv_rect_tuple_args", "Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0))", [2, 7, 6], 2))
    A(Op("conv_positional_args", "Conv2d(2, 2, 3, 2, 1, 1, 1, False)", [2, 6, 5], 2))
    # MaxPool2d
    A(Op("maxpool2", "MaxPool2d(2)", [3, 8, 6], 2, x="distinct"))
    A(Op("maxpool2_odd", "MaxPool2d(2)", [2, 5, 7], 2, x="distinct"))
    A(Op("maxpool3_stride2_pad1", "MaxPool2d(3, stride=2, padding=1)", [2, 7, 9], 2, x="distinct"))
    A(Op("maxpool3_stride1_overlap", "MaxPool2d(3, stride=1)", [1, 5, 6], 2, x="distinct"))
    A(Op("maxpool_ties_first_wins", "MaxPool2d(2, stride=1)", [1, 4, 5], 2, x="ties"))
    A(Op("maxpool_pad_negative_input", "MaxPool2d(2, stride=2, padding=1)", [1, 5, 5], 2, x="negative"))
    A(Op("maxpool_rect_tuple", "MaxPool2d((2, 3), stride=(1, 2))", [2, 5, 7], 1, x="distinct"))
    # AvgPool2d (count_include_pad=True, ceil_mode=False)
    A(Op("avgpool2", "AvgPool2d(2)", [3, 8, 6], 2))
    A(Op("avgpool2_odd", "AvgPool2d(2)", [2, 5, 7], 2))
    A(Op("avgpool3_stride2_pad1", "AvgPool2d(3, stride=2, padding=1)", [2, 7, 9], 2))
    A(Op("avgpool2_stride1", "AvgPool2d(2, stride=1)", [1, 4, 5], 2))
    # AdaptiveAvgPool2d
    A(Op("adaptive_avgpool1", "AdaptiveAvgPool2d(1)", [4, 5, 7], 2))
    A(Op("adaptive_avgpool_default", "AdaptiveAvgPool2d()", [3, 3, 4], 1))
    A(Op("adaptive_avgpool_2x3", "AdaptiveAvgPool2d((2, 3))", [2, 5, 7], 2))
    # Flatten
    A(Op("flatten", "Flatten()", [3, 4, 5], 2))
    A(Op("flatten_start2", "Flatten(start_dim=2)", [3, 4, 5], 2))
    A(Op("flatten_1_2", "Flatten(1, 2)", [3, 4, 5], 2))
    # BatchNorm1d / 2d
    A(Op("bn1d_train", "BatchNorm1d(5)", [5], 4))
    A(Op("bn1d_eval", "BatchNorm1d(5)", [5], 4, mode="eval"))
    A(Op("bn1d_batch2_train", "BatchNorm1d(3, eps=0.1)", [3], 2, scale=0.5))
    A(Op("bn1d_3d_train", "BatchNorm1d(3)", [3, 6], 2))
    A(Op("bn1d_3d_eval", "BatchNorm1d(3)", [3, 6], 2, mode="eval"))
    A(Op("bn1d_noaffine_train", "BatchNorm1d(4, affine=False)", [4], 3))
    A(Op("bn1d_eps_momentum_train", "BatchNorm1d(4, eps=0.001, momentum=0.3)", [4], 5, offset=2.0))
    A(Op("bn2d_train", "BatchNorm2d(3)", [3, 4, 5], 2))
    A(Op("bn2d_eval", "BatchNorm2d(3)", [3, 4, 5], 2, mode="eval"))
    A(Op("bn2d_batch1_train", "BatchNorm2d(2)", [2, 3, 3], 1))
    A(Op("bn2d_noaffine_eval", "BatchNorm2d(2, affine=False)", [2, 3, 2], 2, mode="eval"))
    A(Op("bn2d_momentum_train", "BatchNorm2d(2, momentum=0.5)", [2, 3, 5], 3, scale=2.0, offset=-1.0))
    # LayerNorm
    A(Op("layernorm", "LayerNorm(6)", [6], 3))
    A(Op("layernorm_3d", "LayerNorm(8)", [5, 8], 2))
    A(Op("layernorm_eps_offset", "LayerNorm(5, eps=0.001)", [5], 4, scale=0.5, offset=3.0))
    # Dropout (eval, or p=0 in train: identity either way)
    A(Op("dropout_eval", "Dropout(0.3)", [4, 5], 2, mode="eval"))
    A(Op("dropout_default_eval", "Dropout()", [6], 3, mode="eval"))
    A(Op("dropout_p0_train", "Dropout(p=0.0)", [6], 2))
    # Embedding
    A(Op("embedding", "Embedding(11, 6)", [5], 3, x="ids", vocab=11, force_ids=((0, 3), (4, 3), (7, 10), (9, 0))))
    A(Op("embedding_padding0", "Embedding(7, 4, padding_idx=0)", [6], 2, x="ids", vocab=7,
         force_ids=((0, 0), (5, 0), (7, 0), (2, 6))))
    A(Op("embedding_padding_mid", "Embedding(9, 3, padding_idx=4)", [4], 3, x="ids", vocab=9,
         force_ids=((1, 4), (6, 4), (3, 8))))
    # PositionalEmbedding
    A(Op("posemb_T_lt_max", "PositionalEmbedding(8, 6)", [5, 6], 3))
    A(Op("posemb_T_eq_max_batch1", "PositionalEmbedding(4, 3)", [4, 3], 1))
    # MultiheadSelfAttention
    A(Op("mhsa", "MultiheadSelfAttention(12, 3)", [5, 12], 2))
    A(Op("mhsa_causal", "MultiheadSelfAttention(12, 3, causal=True)", [7, 12], 2))
    A(Op("mhsa_causal_nobias", "MultiheadSelfAttention(8, 2, causal=True, bias=False)", [5, 8], 2))
    A(Op("mhsa_1head", "MultiheadSelfAttention(6, 1)", [3, 6], 3))
    A(Op("mhsa_causal_T1_batch1", "MultiheadSelfAttention(8, 4, causal=True)", [1, 8], 1))
    A(Op("mhsa_causal_eval", "MultiheadSelfAttention(10, 5, causal=True)", [9, 10], 2, mode="eval"))
    # TransformerBlock
    A(Op("block", "TransformerBlock(8, 2)", [5, 8], 2))
    A(Op("block_causal", "TransformerBlock(12, 3, causal=True)", [7, 12], 2))
    A(Op("block_causal_mlp2_batch1", "TransformerBlock(8, 4, causal=True, mlp_ratio=2)", [3, 8], 1))
    A(Op("block_dropout_eval", "TransformerBlock(8, 2, causal=True, dropout=0.1)", [6, 8], 2, mode="eval"))
    # MeanPool
    A(Op("meanpool", "MeanPool()", [5, 4], 3))
    # activations
    A(Op("relu_zeros", "ReLU()", [3, 4, 5], 2, x="zeros", scale=2.0))
    A(Op("leaky_relu_default_zeros", "LeakyReLU()", [9], 3, x="zeros", scale=2.0))
    A(Op("leaky_relu_0.2", "LeakyReLU(negative_slope=0.2)", [2, 3, 4], 2, x="zeros", scale=2.0))
    A(Op("gelu", "GELU()", [4, 5], 2, scale=2.5))
    A(Op("gelu_none", "GELU(approximate='none')", [7], 3, scale=2.5))
    A(Op("gelu_tanh", "GELU(approximate='tanh')", [4, 5], 2, scale=2.5))
    A(Op("tanh", "Tanh()", [3, 5], 2, scale=2.0))
    A(Op("sigmoid", "Sigmoid()", [3, 2, 2], 2, scale=3.0))
    A(Op("softmax", "Softmax(dim=-1)", [6], 3, scale=2.0))
    A(Op("softmax_default_3d", "Softmax()", [4, 5], 2, scale=2.0))
    A(Op("softmax_dim1_3d", "Softmax(dim=1)", [4, 5], 2, scale=2.0))
    A(Op("softmax_large_logits", "Softmax(dim=-1)", [5], 2, scale=60.0, offset=40.0))
    A(Op("logsoftmax", "LogSoftmax(dim=-1)", [6], 3, scale=2.0))
    A(Op("logsoftmax_default_large", "LogSoftmax()", [3, 7], 2, scale=50.0, offset=-30.0))
    A(Op("logsoftmax_dim1", "LogSoftmax(dim=1)", [3, 4], 2, scale=2.0))
    # losses
    A(Op("ce", "Linear(6, 5)", [6], 4, loss="CrossEntropyLoss()"))
    A(Op("ce_batch1", "Linear(6, 5)", [6], 1, loss="CrossEntropyLoss()"))
    A(Op("ce_label_smoothing", "Linear(6, 5)", [6], 4, loss="CrossEntropyLoss(label_smoothing=0.1)"))
    A(Op("ce_ignore", "Linear(6, 5)", [6], 6, loss="CrossEntropyLoss()", ignore=(1, 4)))
    A(Op("ce_ignore_index_2", "Linear(6, 4)", [6], 6, loss="CrossEntropyLoss(ignore_index=2)",
         force_target=((0, 2), (3, 2), (5, 1))))
    A(Op("ce_smoothing_ignore", "Linear(6, 5)", [6], 6,
         loss="CrossEntropyLoss(label_smoothing=0.2, ignore_index=-100)", ignore=(0, 3)))
    A(Op("ce_3d", "Linear(6, 5)", [4, 6], 2, loss="CrossEntropyLoss()"))
    A(Op("ce_3d_smoothing_ignore", "Linear(6, 7)", [5, 6], 2,
         loss="CrossEntropyLoss(label_smoothing=0.05)", ignore=(2, 5, 9)))
    A(Op("ce_large_logits", "Flatten()", [5], 3, loss="CrossEntropyLoss()", scale=60.0, offset=30.0))
    A(Op("nll_logsoftmax", "LogSoftmax(dim=-1)", [5], 4, loss="NLLLoss()"))
    A(Op("nll_linear_ignore1", "Linear(6, 4)", [6], 5, loss="NLLLoss(ignore_index=1)",
         force_target=((0, 1), (2, 1), (3, 0))))
    A(Op("nll_3d_ignore", "LogSoftmax(dim=-1)", [3, 5], 2, loss="NLLLoss(ignore_index=-100)", ignore=(1, 4)))
    A(Op("mse_linear", "Linear(4, 3)", [4], 3, loss="MSELoss()"))
    A(Op("huber", "Linear(4, 3)", [4], 4, loss="HuberLoss()", huber_scale=1.5))
    A(Op("huber_delta0.5", "Linear(4, 3)", [4], 4, loss="HuberLoss(delta=0.5)", huber_scale=0.8))
    A(Op("bce", "Linear(5, 3)", [5], 4, loss="BCEWithLogitsLoss()"))
    A(Op("bce_large_logits", "Flatten()", [2, 3], 3, loss="BCEWithLogitsLoss()", scale=25.0))
    return C


def randomize_state(model, rng):
    """Norm affine params and running stats away from 1/0; everything on a
    2**-12 grid (exact in float32)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)):
                if getattr(m, "weight", None) is not None:
                    m.weight.copy_(torch.from_numpy(1.0 + 0.3 * rng.standard_normal(m.weight.shape)))
                    m.bias.copy_(torch.from_numpy(0.3 * rng.standard_normal(m.bias.shape)))
                if getattr(m, "running_mean", None) is not None:
                    m.running_mean.copy_(torch.from_numpy(0.5 * rng.standard_normal(m.running_mean.shape)))
                    m.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, m.running_var.shape)))
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.from_numpy(dyadic(t.numpy(), 12)))


def make_input(c, rng):
    n = c.batch * int(np.prod(c.shape))
    shape = [c.batch] + c.shape
    if c.x == "ids":
        ids = rng.randint(0, c.vocab, n)
        for pos, v in c.force_ids:
            ids[pos] = v
        return torch.from_numpy(ids.astype(np.int64)).reshape(shape)
    if c.x == "distinct":
        v = (rng.permutation(n) - n / 2.0) / 16.0
    elif c.x == "ties":
        v = rng.randint(0, 3, n).astype(np.float64)
    elif c.x == "negative":
        v = -np.abs(rng.standard_normal(n)) - 0.5
    else:
        v = rng.standard_normal(n) * c.scale + c.offset
        if c.x == "zeros":
            v[::4] = 0.0
    return torch.from_numpy(dyadic(v, 10).astype(np.float32)).reshape(shape)


def make_target(c, out, rng):
    lname = loss_name(c.loss)
    if lname in CLASS_LOSSES:
        ncls = out.shape[-1]
        tshape = list(out.shape[:-1])
        t = rng.randint(0, ncls, int(np.prod(tshape)))
        ign = build_loss_kw(c.loss).get("ignore_index", -100)
        for pos in c.ignore:
            t[pos] = ign
        for pos, v in c.force_target:
            t[pos] = v
        return torch.from_numpy(t.astype(np.int64)).reshape(tshape)
    o = out.detach().to(torch.float64).numpy()
    if lname == "BCEWithLogitsLoss":
        v = dyadic(rng.uniform(0.0, 1.0, o.shape), 8)
        v.reshape(-1)[::5] = 1.0
        v.reshape(-1)[2::5] = 0.0
    elif lname == "HuberLoss":
        v = dyadic(o + c.huber_scale * rng.standard_normal(o.shape), 10)
    else:
        v = dyadic(rng.standard_normal(o.shape), 10)
    return torch.from_numpy(v.astype(np.float32))


def build_loss_kw(spec):
    node = ast.parse(spec, mode="eval").body
    return {k.arg: ast.literal_eval(k.value) for k in node.keywords}


def run_case(spec, loss_spec, mode, x, target_fn, model=None):
    """Forward + backward. Returns dict of torch results."""
    lossf = build_loss(loss_spec)
    model.train(mode == "train")
    xin = x.clone().requires_grad_(True) if x.is_floating_point() else x
    out = model(xin)
    tgt = target_fn(out)
    loss = lossf(out, tgt)
    model.zero_grad(set_to_none=False)
    loss.backward()
    return dict(out=out.detach(), target=tgt, loss=loss.detach(),
                grads=[(n, p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p))
                       for n, p in model.named_parameters()],
                input_grad=xin.grad.detach() if x.is_floating_point() else None)


def gen_op(c):
    seed = seed_of(c.name)
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    model = build_net(c.spec)
    randomize_state(model, rng)
    x = make_input(c, rng)
    L = ["case " + c.name, "spec " + c.spec, "loss " + c.loss, "mode " + c.mode,
         "input_shape " + " ".join(map(str, c.shape)), "batch %d" % c.batch,
         "input_type " + ("f32" if x.is_floating_point() else "i32"), "input " + fvals(x)]
    before = state_lines(model)
    r = run_case(c.spec, c.loss, c.mode, x, lambda out: make_target(c, out, rng), model)
    tgt = r["target"]
    L += ["target_type " + ("f32" if tgt.is_floating_point() else "i32"), "target " + fvals(tgt)]
    L += before
    L.append("output %s %s" % (fshape(r["out"].shape), fvals(r["out"])))
    if c.mode == "train":
        L += buffer_lines(model, "buffer_after")
    L.append("loss_value " + fnum(r["loss"]))
    for n, g in r["grads"]:
        L.append("grad %s %s" % (n, fvals(g)))
    if r["input_grad"] is not None:
        L.append("input_grad " + fvals(r["input_grad"]))
    L.append("end")
    return L


# --------------------------------------------------------------------------
# nn_e2e cases
# --------------------------------------------------------------------------

E2E_OPTS = ["SGD(lr=0.1, momentum=0.9)", "AdamW(lr=0.001)"]
E2E_STEPS = 10
# torch.manual_seed before building each network; the CNN's is one whose
# step-0 gradients have no dead (all-zero) channel
E2E_INIT_SEED = {"mlp": seed_of("e2e_init_mlp"), "cnn": 1, "transformer": seed_of("e2e_init_transformer")}


def e2e_nets():
    """(name, spec, input_shape, batch, input, target)."""
    nets = []
    rng = np.random.RandomState(seed_of("e2e_mlp"))
    x = torch.from_numpy(dyadic(rng.standard_normal((8, 20)), 10).astype(np.float32))
    y = torch.from_numpy(rng.randint(0, 5, 8).astype(np.int64))
    nets.append(("mlp", "Sequential(Linear(20, 32), ReLU(), Linear(32, 16), Tanh(), Linear(16, 5))",
                 [20], 8, x, y))
    rng = np.random.RandomState(seed_of("e2e_cnn"))
    x = torch.from_numpy(dyadic(rng.standard_normal((6, 1, 10, 10)), 10).astype(np.float32))
    y = torch.from_numpy(rng.randint(0, 3, 6).astype(np.int64))
    nets.append(("cnn", "Sequential(Conv2d(1, 4, 3, padding=1), BatchNorm2d(4), ReLU(), MaxPool2d(2), "
                 "Conv2d(4, 6, 3), ReLU(), AdaptiveAvgPool2d(1), Flatten(), Linear(6, 3))",
                 [1, 10, 10], 6, x, y))
    rng = np.random.RandomState(seed_of("e2e_transformer"))
    seq = rng.randint(0, 17, (3, 9))
    x = torch.from_numpy(seq[:, :8].astype(np.int64))
    y = torch.from_numpy(seq[:, 1:].astype(np.int64))
    nets.append(("transformer", "Sequential(Embedding(17, 16), PositionalEmbedding(8, 16), "
                 "TransformerBlock(16, 2, causal=True), TransformerBlock(16, 2, causal=True), "
                 "LayerNorm(16), Linear(16, 17))", [8], 3, x, y))
    return nets


def train_e2e(model, opt_spec, x, y, loss_spec):
    """10 steps on one batch.  Returns the losses (11 forward passes), the
    step-0 gradients and, per parameter, the largest |gradient| of each
    element over the steps relative to the case's largest of that step."""
    lossf = build_loss(loss_spec)
    model.train(True)
    opt = optimizer_for(opt_spec, model.parameters())
    losses, grad0, gmax = [], None, None
    for k in range(E2E_STEPS + 1):
        opt.zero_grad(set_to_none=False)
        loss = lossf(model(x), y)
        losses.append(loss.detach())
        if k == E2E_STEPS:
            break
        loss.backward()
        g = [(n, p.grad.detach().clone()) for n, p in model.named_parameters()]
        if k == 0:
            grad0 = g
        top = max(float(t.abs().max()) for _, t in g)
        r = [t.abs().double() / top for _, t in g]
        gmax = r if gmax is None else [torch.maximum(a, b) for a, b in zip(gmax, r)]
        opt.step()
    return losses, grad0, gmax


# The noise rule.  An element whose gradient is 0 in exact arithmetic at
# every step (the CNN's conv bias in front of BatchNorm; the key part
# qkv.bias[D:2D] of every attention, since softmax ignores a shift shared by
# all keys) does not affect the loss, but float32 rounding leaves it a
# gradient of ~1e-8 of the largest: all its motion but weight decay is
# rounding noise (~1e-9 under SGD, steps of ~lr under AdamW, which
# normalises it).  A float64 replay of the same training finds these
# elements: their gradient is below ZERO_GRAD times the step's largest at
# every step (float64 rounding: ~1e-16; every other element: above 1e-4),
# while float32 gave them a nonzero one at some step (an Embedding row of a
# token that never occurs has exactly 0 in both and moves by weight decay
# alone: not noise).  They are flagged.  A BatchNorm running_mean channel
# fed by such a bias (the module before it) moves with that bias; it is
# flagged when this decided its value: its float32 value differs from the
# float64 replay's by more than NOISE_MOTION of max(|motion|, 0.1 * the
# array's largest |motion|), motion = final - initial in float64 (the scale
# test_nn_ref.c compares final values on; a tenth of its bound for buffers,
# 1e-5: AdamW's drift of the bias moves them by 1e-2 on it, SGD's by 4e-7,
# as float32 rounding moves any running stat here).  `noise
# <name> <k> <i1> ... <ik>` lists the flagged elements just before the
# `final` or `buffer_final` line of that name; every other element agrees
# with the float64 replay (--check).
ZERO_GRAD = 1e-10
NOISE_MOTION = 1e-6


def motion_err(v32, v64, v0):
    """Elementwise |v32 - v64| / max(|v64 - v0|, 0.1 * max|v64 - v0|): the
    error of a final value on the scale of its motion from v0."""
    m = np.abs(v64 - v0)
    return np.abs(v32 - v64) / np.maximum(np.maximum(m, 0.1 * (m.max() if m.size else 0)), 1e-300)


def noise_flags(spec, init, x, y, opt_spec, gmax32, final32):
    """{state_dict name: flat bool array} of the elements that are noise."""
    model = build_net(spec)
    model.load_state_dict(init)
    model = model.double()
    _, _, gmax64 = train_e2e(model, opt_spec, x.double() if x.is_floating_point() else x, y, "CrossEntropyLoss()")
    flags = {}
    for (n, _), g64, g32 in zip(model.named_parameters(), gmax64, gmax32):
        flags[n] = ((g64 <= ZERO_GRAD) & (g32 > 0)).numpy().reshape(-1)
    mods = list(model.named_children())
    v = lambda t: t.detach().to(torch.float64).numpy().reshape(-1)
    for i, (name, m) in enumerate(mods):
        prev, rm = "%s.bias" % mods[i - 1][0] if i else None, name + ".running_mean"
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and prev in flags:
            err = motion_err(v(final32[rm]), v(model.state_dict()[rm]), v(init[rm]))
            flags[rm] = flags[prev] & (err > NOISE_MOTION)
    return {n: f for n, f in flags.items() if f.any()}


def noise_line(flags, name):
    f = flags.get(name)
    if f is None:
        return []
    idx = np.nonzero(f)[0]
    return ["noise %s %d %s" % (name, len(idx), " ".join(str(int(i)) for i in idx))]


def gen_e2e():
    blocks = []
    for name, spec, shape, batch, x, y in e2e_nets():
        torch.manual_seed(E2E_INIT_SEED[name])
        model0 = build_net(spec)
        init = copy.deepcopy(model0.state_dict())
        for opt_spec in E2E_OPTS:
            model = build_net(spec)
            model.load_state_dict(init)
            L = ["case %s_%s" % (name, opt_spec.split("(")[0].lower()), "spec " + spec,
                 "loss CrossEntropyLoss()", "optimizer " + opt_spec, "mode train", "steps %d" % E2E_STEPS,
                 "input_shape " + " ".join(map(str, shape)), "batch %d" % batch,
                 "input_type " + ("f32" if x.is_floating_point() else "i32"), "input " + fvals(x),
                 "target_type i32", "target " + fvals(y)]
            L += state_lines(model)
            losses, grad0, gmax = train_e2e(model, opt_spec, x, y, "CrossEntropyLoss()")
            flags = noise_flags(spec, init, x, y, opt_spec, gmax, model.state_dict())
            L += ["loss_at %d %s" % (k, fnum(v)) for k, v in enumerate(losses)]
            L += ["grad0 %s %s" % (n, fvals(g)) for n, g in grad0]
            for n, p in model.named_parameters():
                L += noise_line(flags, n) + ["final %s %s %s" % (n, fshape(p.shape), fvals(p))]
            for line in buffer_lines(model, "buffer_final"):
                L += noise_line(flags, line.split()[1]) + [line]
            L.append("end")
            blocks.append(L)
    return blocks


def render(blocks):
    return HEADER + "\n" + "".join("\n".join(b) + "\n" for b in blocks)


def generate():
    ops = render([gen_op(c) for c in op_cases()])
    e2e = render(gen_e2e())
    defaults = helper("gen_ref_nn_defaults").generate_defaults()
    return {"nn_ops.txt": ops, "nn_e2e.txt": e2e, "nn_defaults.txt": defaults}


def helper(name):
    """tools/<name>.py (the defaults generator, the module cross-checks),
    which imports this module as gen_ref_nn."""
    sys.modules.setdefault("gen_ref_nn", sys.modules[__name__])
    return importlib.import_module(name)


# --------------------------------------------------------------------------
# --check
# --------------------------------------------------------------------------

class Bad(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Bad(msg)


def parse_file(text):
    lines = text.split("\n")
    need(lines[0].startswith("# eta nn fixture, written by tools/gen_ref_nn.py"), "bad header")
    cases, cur = [], None
    for ln in lines[1:]:
        if not ln:
            continue
        key, _, rest = ln.partition(" ")
        if key == "case":
            need(cur is None, "case inside case")
            cur = {"name": rest, "items": []}
        elif key == "end":
            need(cur is not None, "end outside case")
            cases.append(cur)
            cur = None
        else:
            need(cur is not None, "line outside case: " + ln[:40])
            cur["items"].append((key, rest))
    need(cur is None, "unterminated case")
    return cases


def _floats(s):
    return [float(v) for v in s.split()] if s else []


def _ints(s):
    return [int(v) for v in s.split()] if s else []


def _named_array(rest, with_shape=True):
    tok = rest.split()
    name = tok[0]
    if not with_shape:
        return name, None, [float(v) for v in tok[1:]]
    nd = int(tok[1])
    dims = [int(v) for v in tok[2:2 + nd]]
    vals = [float(v) for v in tok[2 + nd:]]
    need(len(vals) == int(np.prod(dims)), "%s: %d values for shape %s" % (name, len(vals), dims))
    return name, dims, vals


def decode(case, e2e):
    """Structure check; returns a dict of decoded fields."""
    single = ["spec", "loss", "mode", "input_shape", "batch", "input_type", "input", "target_type", "target"]
    single += ["optimizer", "steps"] if e2e else ["output", "loss_value"]
    d = {"name": case["name"], "params": [], "buffers": [], "grads": [], "buffer_after": [],
         "loss_at": [], "final": [], "input_grad": None, "noise": {}}
    pending = None
    for key, rest in case["items"]:
        if pending is not None:
            need(key in ("final", "buffer_final") and rest.split()[0] == pending,
                 "%s: noise %s is not followed by its final line" % (case["name"], pending))
            pending = None
        if key in single:
            need(key not in d, "%s: duplicate %s" % (case["name"], key))
            d[key] = rest
        elif key == "param":
            d["params"].append(_named_array(rest))
        elif key == "buffer":
            d["buffers"].append(_named_array(rest))
        elif key in ("buffer_after", "buffer_final"):
            d["buffer_after"].append(_named_array(rest))
        elif key in ("grad", "grad0"):
            need(key == ("grad0" if e2e else "grad"), "%s: unexpected %s" % (case["name"], key))
            d["grads"].append(_named_array(rest, with_shape=False))
        elif key == "final" and e2e:
            d["final"].append(_named_array(rest))
        elif key == "noise" and e2e:
            tok = rest.split()
            pending, idx = tok[0], [int(v) for v in tok[2:]]
            need(pending not in d["noise"] and int(tok[1]) == len(idx) > 0 and idx == sorted(set(idx))
                 and idx[0] >= 0, "%s: noise %s: count or indices" % (case["name"], pending))
            d["noise"][pending] = idx
        elif key == "loss_at" and e2e:
            k, v = rest.split()
            need(int(k) == len(d["loss_at"]), "loss_at out of order")
            d["loss_at"].append(float(v))
        elif key == "input_grad" and not e2e:
            d["input_grad"] = _floats(rest)
        else:
            raise Bad("%s: unknown key %s" % (case["name"], key))
    need(pending is None, "%s: noise at the end" % case["name"])
    for k in single:
        need(k in d, "%s: missing %s" % (case["name"], k))
    need(d["mode"] in ("train", "eval"), "bad mode")
    d["input_shape"] = _ints(d["input_shape"])
    d["batch"] = int(d["batch"])
    n_in = d["batch"] * int(np.prod(d["input_shape"]))
    d["input"] = (_floats if d["input_type"] == "f32" else _ints)(d["input"])
    need(d["input_type"] in ("f32", "i32") and len(d["input"]) == n_in, "%s: input count" % d["name"])
    d["target"] = (_floats if d["target_type"] == "f32" else _ints)(d["target"])
    need(d["target_type"] == ("i32" if loss_name(d["loss"]) in CLASS_LOSSES else "f32"), "target type")
    pnames = [p[0] for p in d["params"]]
    need([g[0] for g in d["grads"]] == pnames, "%s: grads do not follow params" % d["name"])
    for (n, dims, v), (_, _, g) in zip(d["params"], d["grads"]):
        need(len(g) == len(v), "%s: grad %s count" % (d["name"], n))
    if e2e:
        d["steps"] = int(d["steps"])
        need(len(d["loss_at"]) == d["steps"] + 1, "loss_at count")
        need([f[0] for f in d["final"]] == pnames, "final names")
        sizes = {n: len(v) for n, _, v in d["final"] + d["buffer_after"]}
        for n, idx in d["noise"].items():
            need(idx[-1] < sizes[n], "%s: noise %s: index out of range" % (d["name"], n))
        need(all(math.isfinite(v) for v in d["loss_at"]), "non-finite loss")
    else:
        tok = d["output"].split()
        nd = int(tok[0])
        d["out_shape"] = [int(v) for v in tok[1:1 + nd]]
        d["output"] = [float(v) for v in tok[1 + nd:]]
        need(len(d["output"]) == int(np.prod(d["out_shape"])), "output count")
        need(d["out_shape"][0] == d["batch"], "output batch")
        d["loss_value"] = float(d["loss_value"])
        if d["target_type"] == "f32":
            need(len(d["target"]) == len(d["output"]), "%s: target count" % d["name"])
        else:
            need(len(d["target"]) * d["out_shape"][-1] == len(d["output"]), "%s: target count" % d["name"])
        need((d["input_grad"] is not None) == (d["input_type"] == "f32"), "input_grad presence")
        if d["input_grad"] is not None:
            need(len(d["input_grad"]) == n_in, "input_grad count")
        need(bool(d["buffer_after"]) == (d["mode"] == "train" and bool(d["buffers"])), "buffer_after presence")
        need(all(math.isfinite(v) for v in d["output"] + [d["loss_value"]]), "non-finite values")
    return d


def load_model(d):
    model = build_net(d["spec"])
    sd = model.state_dict()
    written = {n: (dims, v) for n, dims, v in d["params"] + d["buffers"]}
    expect = [n for n in sd if not n.endswith("num_batches_tracked")]
    need(list(written) == [n for n, _, _ in d["params"] + d["buffers"]], "dup names")
    need(sorted(written) == sorted(expect), "%s: state_dict names %s vs %s" % (d["name"], expect, list(written)))
    order = [n for n, _, _ in sorted(d["params"] + d["buffers"], key=lambda p: expect.index(p[0]))]
    need(order == [n for n in expect], "state_dict order")
    need([n for n, _, _ in d["params"]] == [n for n, _ in model.named_parameters()], "param order")
    with torch.no_grad():
        for n, (dims, v) in written.items():
            need(list(sd[n].shape) == dims, "%s: shape of %s" % (d["name"], n))
            sd[n].copy_(torch.tensor(v, dtype=torch.float64).reshape(dims))
    return model


def close(a, b, what, rtol=1e-6, atol=1e-7):
    if isinstance(a, torch.Tensor):
        a = a.detach().to(torch.float64).numpy()
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    need(a.shape == b.shape, "%s: length %d vs %d" % (what, a.size, b.size))
    err = np.abs(a - b) - (atol + rtol * np.abs(b))
    need(not np.any(err > 0), "%s: max diff %g" % (what, np.max(np.abs(a - b)) if a.size else 0))


def tensor_in(d):
    shape = [d["batch"]] + d["input_shape"]
    if d["input_type"] == "f32":
        return torch.tensor(d["input"], dtype=torch.float32).reshape(shape)
    return torch.tensor(d["input"], dtype=torch.int64).reshape(shape)


def tensor_tgt(d, out_shape):
    if d["target_type"] == "f32":
        return torch.tensor(d["target"], dtype=torch.float32).reshape(out_shape)
    return torch.tensor(d["target"], dtype=torch.int64).reshape(out_shape[:-1])


def numpy_loss(spec, out, tgt):
    """Independent float64 formulation of every loss (mean reduction)."""
    name, kw = loss_name(spec), build_loss_kw(spec)
    out = np.asarray(out, dtype=np.float64)
    if name in CLASS_LOSSES:
        C = out.shape[-1]
        o, t = out.reshape(-1, C), np.asarray(tgt).reshape(-1)
        ign = kw.get("ignore_index", -100)
        keep = t != ign
        if name == "NLLLoss":
            return -sum(o[i, t[i]] for i in range(len(t)) if keep[i]) / keep.sum()
        eps = kw.get("label_smoothing", 0.0)
        tot = 0.0
        for i in range(len(t)):
            if not keep[i]:
                continue
            m = o[i].max()
            lse = m + math.log(np.exp(o[i] - m).sum())
            logp = o[i] - lse
            tot += -(1 - eps) * logp[t[i]] - eps * logp.mean()
        return tot / keep.sum()
    t = np.asarray(tgt, dtype=np.float64).reshape(out.shape)
    r = out - t
    if name == "MSELoss":
        return np.mean(r * r)
    if name == "HuberLoss":
        dl = kw.get("delta", 1.0)
        a = np.abs(r)
        return np.mean(np.where(a < dl, 0.5 * r * r, dl * (a - 0.5 * dl)))
    if name == "BCEWithLogitsLoss":
        x = out
        return np.mean(np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x))))
    raise Bad("loss " + name)


def check_ops(text, only=None):
    cases = [c for c in parse_file(text) if only is None or only(c)]
    names = set()
    for case in cases:
        d = decode(case, e2e=False)
        need(d["name"] not in names, "duplicate case " + d["name"])
        names.add(d["name"])
        need(d["spec"].startswith("Sequential("), "spec")
        # replay from the file alone
        model = load_model(d)
        x = tensor_in(d)
        r = run_case(d["spec"], d["loss"], d["mode"], x, lambda out: tensor_tgt(d, list(out.shape)), model)
        need(list(r["out"].shape) == d["out_shape"], "%s: output shape" % d["name"])
        close(r["out"], d["output"], d["name"] + " output")
        close([float(r["loss"])], [d["loss_value"]], d["name"] + " loss")
        for (n, g), (n2, _, gv) in zip(r["grads"], d["grads"]):
            close(g, gv, "%s grad %s" % (d["name"], n))
        if d["input_grad"] is not None:
            close(r["input_grad"], d["input_grad"], d["name"] + " input_grad")
        bufs = dict(model.named_buffers())
        for n, dims, v in d["buffer_after"]:
            close(bufs[n], v, "%s buffer_after %s" % (d["name"], n))
        # the loss recomputed in numpy from the written output and target
        tg = np.array(d["target"]).reshape(d["out_shape"] if d["target_type"] == "f32" else d["out_shape"][:-1])
        lv = numpy_loss(d["loss"], np.array(d["output"]).reshape(d["out_shape"]), tg)
        close([lv], [d["loss_value"]], d["name"] + " numpy loss", rtol=2e-6, atol=1e-7)
    return len(cases)


def rel_err(a, b, floor=1e-30):
    """max|a - b| / max(max|b|, floor) (per array): how far float32 is from
    float64.  Gradients use the case's largest gradient as the floor: the
    CNN's conv bias before BatchNorm has a gradient that is 0 in exact
    arithmetic (rounding noise ~1e-8 in float32)."""
    a = a.detach().to(torch.float64).numpy().reshape(-1) if isinstance(a, torch.Tensor) else np.ravel(a)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), floor)) if b.size else 0.0


def grad_floor(d):
    return max([max(map(abs, g), default=0.0) for _, _, g in d["grads"]] + [1e-30])


def f64_state(d):
    """The case's model in float64 with the written state."""
    model = load_model(d).double()
    return model


def check_ops_f64(text, only=None):
    """Each case replayed in float64: the written float32 results must agree
    to float32 rounding (conditioning: what tolerance the C side can use)."""
    worst = (0.0, "")
    for case in [c for c in parse_file(text) if only is None or only(c)]:
        d = decode(case, e2e=False)
        model = f64_state(d)
        x = tensor_in(d)
        x = x.double() if x.is_floating_point() else x
        tg = lambda out: (lambda t: t.double() if t.is_floating_point() else t)(tensor_tgt(d, list(out.shape)))
        r = run_case(d["spec"], d["loss"], d["mode"], x, tg, model)
        errs = [("output", rel_err(r["out"], d["output"])), ("loss", rel_err(r["loss"], [d["loss_value"]]))]
        errs += [("grad " + n, rel_err(g, gv, grad_floor(d))) for (n, g), (_, _, gv) in zip(r["grads"], d["grads"])]
        if d["input_grad"] is not None:
            errs.append(("input_grad", rel_err(r["input_grad"], d["input_grad"])))
        bufs = dict(model.named_buffers())
        errs += [("buffer_after " + n, rel_err(bufs[n], v)) for n, _, v in d["buffer_after"]]
        for what, e in errs:
            need(e < 1e-4, "%s %s: float32 vs float64 rel %g" % (d["name"], what, e))
            worst = max(worst, (e, d["name"] + " " + what))
    return worst


def check_e2e_f64(text):
    worst = (0.0, "")
    motion = {"final": (0.0, ""), "buffer_final": (0.0, "")}  # test_nn_ref.c's measure
    for case in parse_file(text):
        d = decode(case, e2e=True)
        model = f64_state(d)
        x = tensor_in(d)
        x = x.double() if x.is_floating_point() else x
        y = torch.tensor(d["target"], dtype=torch.int64).reshape(([d["batch"]] + d["input_shape"])[:2]
                                                                  if d["input_type"] == "i32" else [d["batch"]])
        losses, grad0, gmax = train_e2e(model, d["optimizer"], x, y, d["loss"])
        errs = [("loss_at %d" % k, rel_err(v, [w])) for k, (v, w) in enumerate(zip(losses, d["loss_at"]))]
        errs += [("grad0 " + n, rel_err(g, gv, grad_floor(d))) for (n, g), (_, _, gv) in zip(grad0, d["grads"])]
        # the noise rule (above noise_flags): float64 gradients either 0 to
        # rounding or far from it; unflagged elements agree with float64
        gaps = [float(g[(g > ZERO_GRAD) & (g < 1e-6)].numel()) for g in gmax]
        need(sum(gaps) == 0, "%s: %d gradients between %g and 1e-6 of the largest: the noise rule is ambiguous"
             % (d["name"], sum(gaps), ZERO_GRAD))
        nnoise = 0
        init = {n: np.array(v) for n, _, v in d["params"] + d["buffers"]}
        state = model.state_dict()
        for key, (n, _, v) in [("final", f) for f in d["final"]] + [("buffer_final", b) for b in d["buffer_after"]]:
            keep = np.ones(len(v), bool)
            keep[d["noise"].get(n, [])] = False
            nnoise += int((~keep).sum())
            pv = state[n].detach().numpy().reshape(-1)[keep]
            errs.append(("final " + n, rel_err(pv, np.array(v)[keep])))
            em = motion_err(np.array(v)[keep], pv, init[n][keep])
            motion[key] = max(motion[key], (float(em.max()) if em.size else 0.0, d["name"] + " " + n))
        if nnoise:
            print("  %s: %d noise entries skipped in final" % (d["name"], nnoise))
        for what, e in errs:
            need(e < 1e-4, "%s %s: float32 vs float64 rel %g" % (d["name"], what, e))
            worst = max(worst, (e, d["name"] + " " + what))
    for key, bound in (("final", 1e-3), ("buffer_final", 1e-5)):  # test_nn_ref.c's bounds
        e, where = motion[key]
        need(e < bound, "%s %s: float32 vs float64 on the scale of the motion: %g" % (key, where, e))
        print("nn_e2e.txt %s vs float64 on the scale of the motion: worst %.3g (%s)" % (key, e, where))
    return worst


def check_e2e(text):
    cases = parse_file(text)
    for case in cases:
        d = decode(case, e2e=True)
        model = load_model(d)
        x = tensor_in(d)
        y = torch.tensor(d["target"], dtype=torch.int64).reshape(([d["batch"]] + d["input_shape"])[:2]
                                                                  if d["input_type"] == "i32" else [d["batch"]])
        losses, grad0, _ = train_e2e(model, d["optimizer"], x, y, d["loss"])
        close([float(v) for v in losses], d["loss_at"], d["name"] + " losses", rtol=1e-5, atol=1e-6)
        for (n, g), (n2, _, gv) in zip(grad0, d["grads"]):
            need(n == n2, "grad0 names")
            close(g, gv, "%s grad0 %s" % (d["name"], n))
        for (n, p), (n2, _, v) in zip(model.named_parameters(), d["final"]):
            close(p, v, "%s final %s" % (d["name"], n), rtol=1e-5, atol=1e-6)
        bufs = dict(model.named_buffers())
        for n, _, v in d["buffer_after"]:
            close(bufs[n], v, "%s buffer_final %s" % (d["name"], n), rtol=1e-5, atol=1e-6)
    return len(cases)


def fixture_main(generate, check):
    """The command line of a fixture writer: writes generate()'s files (name: text) into --out
    (tests/ref), or with --check compares each with the file on disk (equal, under 4 MB) and
    runs check(files), which raises Bad. Returns the exit status."""
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "ref"))
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    files = generate()
    if not a.check:
        for fn, text in files.items():
            path = os.path.join(a.out, fn)
            with open(path, "w") as f:
                f.write(text)
            print("wrote %s (%d bytes)" % (path, len(text)))
        return 0
    try:
        for fn, text in files.items():
            with open(os.path.join(a.out, fn)) as f:
                disk = f.read()
            need(disk == text, "%s differs from a fresh generation" % fn)
            need(len(disk) < 4_000_000, "%s too large" % fn)
        check(files)
    except Bad as e:
        print("CHECK FAILED:", e)
        return 1
    return 0


def check_all(files):
    nm = helper("gen_ref_nn_modules").check_modules()
    print("modules: %d cross-checks ok" % nm)
    print("nn_ops.txt: %d cases ok" % check_ops(files["nn_ops.txt"]))
    print("nn_e2e.txt: %d cases ok" % check_e2e(files["nn_e2e.txt"]))
    print("nn_ops.txt float64 replay: worst rel %.3g (%s)" % check_ops_f64(files["nn_ops.txt"]))
    print("nn_e2e.txt float64 replay: worst rel %.3g (%s)" % check_e2e_f64(files["nn_e2e.txt"]))
    n, worst = helper("gen_ref_nn_defaults").check_defaults(files["nn_defaults.txt"])
    print("nn_defaults.txt: %d cases ok; float64 replay: worst rel %.3g (%s)" % (n, *worst))


def main():
    return fixture_main(generate, check_all)

if __name__ == "__main__":
    sys.exit(main())
