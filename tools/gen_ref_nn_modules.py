"""Independent formulations of eta's own modules (PositionalEmbedding,
MultiheadSelfAttention, TransformerBlock, MeanPool, GELU tanh) in float64
numpy, and the cross-checks of tools/gen_ref_nn.py's reference
implementations against them, torch.nn.MultiheadAttention and gradcheck.

Run through `tools/gen_ref_nn.py --check`; this module uses its classes.
"""

import math

import numpy as np
import torch
import torch.nn as nn

import gen_ref_nn as G


# independent formulations of eta's own modules (float64 numpy)

def np_layernorm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def np_mhsa(x, Wqkv, bqkv, Wp, bp, H, causal):
    B, T, D = x.shape
    hs = D // H
    y = np.zeros_like(x)
    for b in range(B):
        qkv = x[b] @ Wqkv.T + (bqkv if bqkv is not None else 0.0)
        q, k, v = qkv[:, :D], qkv[:, D:2 * D], qkv[:, 2 * D:]
        heads = []
        for h in range(H):
            sl = slice(h * hs, (h + 1) * hs)
            o = np.zeros((T, hs))
            for i in range(T):
                lim = i + 1 if causal else T
                s = np.array([q[i, sl] @ k[j, sl] / math.sqrt(hs) for j in range(lim)])
                p = np.exp(s - s.max())
                p /= p.sum()
                o[i] = sum(p[j] * v[j, sl] for j in range(lim))
            heads.append(o)
        y[b] = np.concatenate(heads, axis=1) @ Wp.T + (bp if bp is not None else 0.0)
    return y


def np_gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def np_block(x, P, pre, H, causal):
    g = lambda n: P[pre + n]
    h = np_layernorm(x, g("ln_1.weight"), g("ln_1.bias"))
    x = x + np_mhsa(h, g("attn.qkv.weight"), g("attn.qkv.bias"), g("attn.proj.weight"), g("attn.proj.bias"),
                    H, causal)
    h = np_layernorm(x, g("ln_2.weight"), g("ln_2.bias"))
    h = np_gelu_tanh(h @ g("mlp.c_fc.weight").T + g("mlp.c_fc.bias"))
    return x + h @ g("mlp.c_proj.weight").T + g("mlp.c_proj.bias")


def check_modules():
    torch.manual_seed(7)
    rng = np.random.RandomState(7)
    n = 0
    for D, H, T, causal, bias in [(12, 3, 7, True, True), (12, 3, 5, False, True), (8, 2, 5, True, False),
                                  (6, 1, 3, False, True), (8, 4, 1, True, True)]:
        m = G.MultiheadSelfAttention(D, H, causal=causal, bias=bias).double()
        x = torch.from_numpy(rng.standard_normal((2, T, D)))
        y = m(x).detach().numpy()
        P = {k: v.numpy() for k, v in m.state_dict().items()}
        ref = np_mhsa(x.numpy(), P["qkv.weight"], P.get("qkv.bias"), P["proj.weight"], P.get("proj.bias"), H, causal)
        G.close(y, ref, "mhsa vs numpy loop", rtol=1e-10, atol=1e-12)
        names = ["qkv.weight", "qkv.bias", "proj.weight", "proj.bias"] if bias else ["qkv.weight", "proj.weight"]
        G.need(list(m.state_dict()) == names, "mhsa names")
        # torch.nn.MultiheadAttention with the same weights
        mha = nn.MultiheadAttention(D, H, bias=bias, batch_first=True).double()
        with torch.no_grad():
            mha.in_proj_weight.copy_(m.qkv.weight)
            mha.out_proj.weight.copy_(m.proj.weight)
            if bias:
                mha.in_proj_bias.copy_(m.qkv.bias)
                mha.out_proj.bias.copy_(m.proj.bias)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1) if causal else None
        y2 = mha(x, x, x, attn_mask=mask, need_weights=False)[0].detach().numpy()
        G.close(y, y2, "mhsa vs nn.MultiheadAttention", rtol=1e-10, atol=1e-12)
        xx = x.clone().requires_grad_(True)
        G.need(torch.autograd.gradcheck(m, (xx,)), "mhsa gradcheck")
        n += 3
    for d, H, T, causal, r in [(8, 2, 5, False, 4), (12, 3, 7, True, 4), (8, 4, 3, True, 2), (16, 2, 8, True, 4)]:
        blk = G.TransformerBlock(d, H, causal=causal, mlp_ratio=r).double()
        with torch.no_grad():
            for p in blk.parameters():
                p.copy_(torch.from_numpy(rng.standard_normal(p.shape) * 0.3) + (1.0 if p.dim() == 1 and p.numel() == d else 0.0))
        names = ["ln_1.weight", "ln_1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight",
                 "attn.proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                 "mlp.c_proj.weight", "mlp.c_proj.bias"]
        G.need(list(blk.state_dict()) == names, "block names")
        cnt = sum(p.numel() for p in blk.parameters())
        G.need(cnt == (4 + 2 * r) * d * d + (9 + r) * d, "block parameter count")
        if r == 4:
            G.need(cnt == 12 * d * d + 13 * d, "block parameter count (12d^2+13d)")
        x = torch.from_numpy(rng.standard_normal((2, T, d)))
        P = {k: v.numpy() for k, v in blk.state_dict().items()}
        G.close(blk(x).detach().numpy(), np_block(x.numpy(), P, "", H, causal), "block vs numpy",
              rtol=1e-10, atol=1e-12)
        G.need(torch.autograd.gradcheck(blk, (x.clone().requires_grad_(True),)), "block gradcheck")
        n += 3
    # the e2e transformer: parameter total
    net = G.build_net(G.e2e_nets()[2][1])
    G.need(sum(p.numel() for p in net.parameters())
           == 17 * 16 + 8 * 16 + 2 * (12 * 256 + 13 * 16) + 32 + 16 * 17 + 17,
           "transformer total")
    # PositionalEmbedding, MeanPool, GELU tanh
    pe = G.PositionalEmbedding(8, 5).double()
    x = torch.from_numpy(rng.standard_normal((3, 6, 5)))
    G.close(pe(x).detach().numpy(), x.numpy() + pe.weight.detach().numpy()[None, :6], "posemb")
    G.close(G.MeanPool()(x).numpy(), x.numpy().sum(1) / 6.0, "meanpool", rtol=1e-14, atol=1e-15)
    G.close(nn.GELU(approximate="tanh")(x).numpy(), np_gelu_tanh(x.numpy()), "gelu tanh", rtol=1e-13, atol=1e-15)
    n += 4
    # spec defaults: Softmax() is dim=-1, AdaptiveAvgPool2d() is 1
    G.need(G.build_net("Softmax()").dim == -1 and G.build_net("LogSoftmax()").dim == -1, "softmax default")
    G.need(G.build_net("AdaptiveAvgPool2d()").output_size == 1, "adaptive default")
    return n
