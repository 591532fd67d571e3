#!/usr/bin/python3
"""Write the fixtures of eta's recurrent modules (LSTM, GRU) from PyTorch.

Run with the Debian interpreter that has PyTorch (1.13):

    /usr/bin/python3 tools/gen_ref_nn_rnn.py [--out tests/ref]
    /usr/bin/python3 tools/gen_ref_nn_rnn.py --check [--out tests/ref]

Output, in tools/gen_ref_nn.py's formats (read by tests/test_nn_ref.c):

  nn_rnn.txt      one case per configuration: LSTM and GRU with 1 and 2
                  layers, with and without bias, a single step, a long
                  sequence with saturating inputs, and character models
                  (Embedding -> LSTM/GRU -> Linear, CrossEntropyLoss over
                  [B, T, V]); from the same parameters and input: the
                  output sequence, the loss, every parameter gradient and
                  the input gradient;
  nn_rnn_e2e.txt  the two character models trained 10 steps on one batch
                  with SGD-momentum and AdamW from torch's initial weights.

The modules are tools/gen_ref_nn.py's LSTM and GRU: torch.nn.LSTM and
torch.nn.GRU, batch first, giving their output sequence only.  Inputs and
parameters of nn_rnn.txt lie on dyadic grids (exact in float32).

--check regenerates both files in memory and compares them with the disk,
replays every case in float64 (tools/gen_ref_nn.py's replay: the file's
values within 1e-4 of it), and checks torch's modules against the equations
eta implements, written here with numpy in float64 (gate order i, f, g, o
and r, z, n; n = tanh(W_in x + b_in + r (W_hn h + b_hn))), so that a gate
order or formula that differs from torch's cannot hide in both.
"""

import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import gen_ref_nn as G  # noqa: E402 (after the path)
    import numpy as np  # noqa: E402
    import torch  # noqa: E402
except ImportError as e:  # CTest reads 77 as "skipped"
    print("skipped: %s" % e)
    sys.exit(77)

HEADER = ("# eta nn fixture, written by tools/gen_ref_nn_rnn.py (torch %s); do not edit"
          % torch.__version__)


def op_cases():
    O, C = G.Op, []
    A = C.append
    A(O("lstm", "LSTM(5, 7)", [6, 5], 3))
    A(O("lstm_nobias", "LSTM(4, 6, bias=False)", [5, 4], 2))
    A(O("lstm_2layers", "LSTM(5, 6, num_layers=2)", [7, 5], 3))
    A(O("lstm_2layers_nobias_positional", "LSTM(4, 5, 2, False)", [4, 4], 2))
    A(O("lstm_T1_batch1", "LSTM(3, 4)", [1, 3], 1))
    A(O("lstm_long_saturating", "LSTM(3, 4)", [40, 3], 2, scale=3.0))
    A(O("lstm_explicit_batch_first", "LSTM(4, 3, num_layers=1, bias=True, batch_first=True)", [5, 4], 2))
    A(O("gru", "GRU(5, 7)", [6, 5], 3))
    A(O("gru_nobias", "GRU(4, 6, bias=False)", [5, 4], 2))
    A(O("gru_2layers", "GRU(5, 6, num_layers=2)", [7, 5], 3))
    A(O("gru_2layers_nobias_positional", "GRU(4, 5, 2, False)", [4, 4], 2))
    A(O("gru_T1_batch1", "GRU(3, 4)", [1, 3], 1))
    A(O("gru_long_saturating", "GRU(3, 4)", [40, 3], 2, scale=3.0))
    A(O("char_lstm", "Embedding(11, 6), LSTM(6, 8), Linear(8, 11)", [9], 3, loss="CrossEntropyLoss()",
        x="ids", vocab=11))
    A(O("char_gru_2layers", "Embedding(11, 6), GRU(6, 8, 2), Linear(8, 11)", [9], 3,
        loss="CrossEntropyLoss()", x="ids", vocab=11))
    A(O("lstm_gru_stack", "LSTM(4, 6), GRU(6, 5)", [5, 4], 2))
    return C


E2E_STEPS = G.E2E_STEPS


def e2e_nets():
    """(name, spec, input_shape, batch, input, target, init seed)."""
    nets = []
    for name, cell in (("char_lstm", "LSTM(8, 12)"), ("char_gru", "GRU(8, 12, num_layers=2)")):
        rng = np.random.RandomState(G.seed_of("e2e_" + name))
        seq = rng.randint(0, 13, (4, 11))
        x = torch.from_numpy(seq[:, :10].astype(np.int64))
        y = torch.from_numpy(seq[:, 1:].astype(np.int64))
        nets.append((name, "Sequential(Embedding(13, 8), %s, Linear(12, 13))" % cell, [10], 4, x, y,
                     G.seed_of("e2e_init_" + name)))
    return nets


def gen_e2e():
    blocks = []
    for name, spec, shape, batch, x, y, seed in e2e_nets():
        torch.manual_seed(seed)
        init = copy.deepcopy(G.build_net(spec).state_dict())
        for opt_spec in G.E2E_OPTS:
            model = G.build_net(spec)
            model.load_state_dict(init)
            L = ["case %s_%s" % (name, opt_spec.split("(")[0].lower()), "spec " + spec,
                 "loss CrossEntropyLoss()", "optimizer " + opt_spec, "mode train", "steps %d" % E2E_STEPS,
                 "input_shape " + " ".join(map(str, shape)), "batch %d" % batch,
                 "input_type i32", "input " + G.fvals(x), "target_type i32", "target " + G.fvals(y)]
            L += G.state_lines(model)
            losses, grad0, gmax = G.train_e2e(model, opt_spec, x, y, "CrossEntropyLoss()")
            flags = G.noise_flags(spec, init, x, y, opt_spec, gmax, model.state_dict())
            L += ["loss_at %d %s" % (k, G.fnum(v)) for k, v in enumerate(losses)]
            L += ["grad0 %s %s" % (n, G.fvals(g)) for n, g in grad0]
            for n, p in model.named_parameters():
                L += G.noise_line(flags, n) + ["final %s %s %s" % (n, G.fshape(p.shape), G.fvals(p))]
            L.append("end")
            blocks.append(L)
    return blocks


def render(blocks):
    return HEADER + "\n" + "".join("\n".join(b) + "\n" for b in blocks)


def generate():
    torch.set_num_threads(1)
    return {"nn_rnn.txt": render([G.gen_op(c) for c in op_cases()]), "nn_rnn_e2e.txt": render(gen_e2e())}


# --------------------------------------------------------------------------
# --check: torch against the equations, in float64
# --------------------------------------------------------------------------

def sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def numpy_rnn(kind, sd, x, layers, bias):
    """x [B, T, IN] float64; sd: state_dict as float64 numpy arrays."""
    h_seq = x
    for k in range(layers):
        Wi, Wh = sd["weight_ih_l%d" % k], sd["weight_hh_l%d" % k]
        bi = sd["bias_ih_l%d" % k] if bias else np.zeros(Wi.shape[0])
        bh = sd["bias_hh_l%d" % k] if bias else np.zeros(Wi.shape[0])
        B, T, _ = h_seq.shape
        H = Wh.shape[1]
        h, c, out = np.zeros((B, H)), np.zeros((B, H)), np.zeros((B, T, H))
        for t in range(T):
            gi = h_seq[:, t] @ Wi.T + bi
            gh = h @ Wh.T + bh
            if kind == "LSTM":
                g = gi + gh
                i, f, gg, o = sig(g[:, :H]), sig(g[:, H:2 * H]), np.tanh(g[:, 2 * H:3 * H]), sig(g[:, 3 * H:])
                c = f * c + i * gg
                h = o * np.tanh(c)
            else:
                r = sig(gi[:, :H] + gh[:, :H])
                z = sig(gi[:, H:2 * H] + gh[:, H:2 * H])
                n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
                h = (1 - z) * n + z * h
            out[:, t] = h
        h_seq = out
    return h_seq


def check_equations():
    n = 0
    for kind in ("LSTM", "GRU"):
        for layers in (1, 2):
            for bias in (True, False):
                torch.manual_seed(7 + layers + 2 * bias)
                m = G.build_net("%s(3, 5, num_layers=%d, bias=%s)" % (kind, layers, bias)).double()
                x = torch.randn(2, 6, 3, dtype=torch.float64) * 2
                with torch.no_grad():
                    want = m(x).numpy()
                sd = {k: v.numpy() for k, v in m.state_dict().items()}
                got = numpy_rnn(kind, sd, x.numpy(), layers, bias)
                err = np.abs(got - want).max()
                G.need(err < 1e-12, "%s layers=%d bias=%s: numpy equations differ from torch by %g"
                       % (kind, layers, bias, err))
                n += 1
    # PyTorch's initialisation: every parameter within 1/sqrt(hidden_size)
    m = G.build_net("LSTM(10, 16, num_layers=2)")
    for k, v in m.state_dict().items():
        G.need(float(v.abs().max()) <= 0.25 and float(v.abs().max()) > 0.2, "%s init range" % k)
    return n


def check_all(files):
    print("equations: %d torch modules agree with numpy" % check_equations())
    # gen_ref_nn's readers expect its own header line
    as_g = {fn: G.HEADER + text[text.index("\n"):] for fn, text in files.items()}
    print("nn_rnn.txt: %d cases ok" % G.check_ops(as_g["nn_rnn.txt"]))
    print("nn_rnn_e2e.txt: %d cases ok" % G.check_e2e(as_g["nn_rnn_e2e.txt"]))
    print("nn_rnn.txt float64 replay: worst rel %.3g (%s)" % G.check_ops_f64(as_g["nn_rnn.txt"]))
    print("nn_rnn_e2e.txt float64 replay: worst rel %.3g (%s)" % G.check_e2e_f64(as_g["nn_rnn_e2e.txt"]))


def main():
    return G.fixture_main(generate, check_all)

if __name__ == "__main__":
    sys.exit(main())
