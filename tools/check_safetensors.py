#!/usr/bin/python3
"""Exchange weights between eta and PyTorch through safetensors files, both ways.

Run with the Debian interpreter that has PyTorch (1.13):

    /usr/bin/python3 tools/check_safetensors.py eta-to-torch DIR
    /usr/bin/python3 tools/check_safetensors.py torch-to-eta DIR [--prefix P]

Debian 12 has no python3-safetensors, so the format is read and written
here in a few lines (read_safetensors, write_safetensors), following the
reference implementation: an 8-byte little-endian header length N, N bytes
of JSON ({"__metadata__": {...}, name: {"dtype", "shape", "data_offsets"}}),
then the tensors' bytes, contiguous; the writer orders tensors as the
reference's serialize() does (larger dtypes first, then by name) and pads
the header with spaces to a multiple of 8.

eta-to-torch: DIR holds, per network, NAME.safetensors written by eta and
NAME.txt (the case: spec, input and eta's output; format below), written
by tests/test_io_torch.c. Each network is built in torch from the spec
(tools/gen_ref_nn.py's build_net: eta's names and defaults), takes the file
with load_state_dict(strict=True) (so every name, shape and buffer,
num_batches_tracked included, must be there), runs the input in eval mode
and its output is compared with eta's.

torch-to-eta: torch builds each network (MLP, CNN with BatchNorm2d, a small
transformer with Embedding) from its own seed; the CNN trains 5 SGD steps in
train mode first, so its running statistics and num_batches_tracked are not
the defaults. It writes PREFIX+NAME.safetensors with the writer below and
PREFIX+NAME.txt with torch's eval-mode output, for eta to load and compare
(tests/test_io_torch.c; the committed fixture tests/ref/io_torch_* is this
with --prefix io_torch_).

Case file, one key per line:
    spec <network spec>
    input_shape <dims without the batch>
    batch <B>
    input_type f32|i32
    input <values>
    output <ndim> <dims...> <values>
    num_batches_tracked <n>          (networks with BatchNorm)
Floats are written exactly (repr of the float32 value; eta writes %.9g).

Comparison: max |eta - torch| over the output relative to max |torch output|
(error of the whole array, as float32 sums in another order differ by an
ulp of the largest term). Bound 1e-5; measured about 1e-7 (both ways print
the measured error). Exit 0 when all agree, 1 when not, 77 when torch is
not installed (CTest's skip code).
"""

import argparse
import json
import math
import os
import struct
import sys

try:
    import numpy as np
    import torch
except ImportError as e:  # CTest reads 77 as "skipped"
    print("skipped: %s" % e)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_ref_nn import build_net  # noqa: E402

BOUND = 1e-5

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
          torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
          torch.bool: "BOOL"}
NP_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
             "U8": "u1", "BOOL": "?"}

NETS = [
    ("mlp", "Sequential(Linear(20, 32), ReLU(), Dropout(0.2), Linear(32, 16), Tanh(), Linear(16, 5))", [20], 4,
     "f32"),
    ("cnn", "Sequential(Conv2d(1, 4, 3, padding=1), BatchNorm2d(4), ReLU(), MaxPool2d(2), Conv2d(4, 6, 3), "
     "BatchNorm2d(6), ReLU(), AdaptiveAvgPool2d(1), Flatten(), Linear(6, 3))", [1, 10, 10], 4, "f32"),
    ("transformer", "Sequential(Embedding(17, 16), PositionalEmbedding(8, 16), "
     "TransformerBlock(16, 2, causal=True, dropout=0.1), LayerNorm(16), Linear(16, 17))", [8], 3, "i32"),
]
SEEDS = {"mlp": 11, "cnn": 12, "transformer": 13}
TRAIN_STEPS = 5  # the CNN's SGD steps before it is saved


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> torch tensor. The reference's order: dtype size
    descending, then name."""
    items = sorted(tensors.items(), key=lambda kv: (-kv[1].element_size(), kv[0]))
    header, blobs, at = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, t in items:
        t = t.detach().cpu().contiguous()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            raw = t.numpy().astype(NP_DTYPES[DTYPES[t.dtype]]).tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [at, at + len(raw)]}
        blobs.append(raw)
        at += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    """name -> torch tensor, with the reference reader's checks."""
    with open(path, "rb") as f:
        b = f.read()
    if len(b) < 8:
        raise ValueError("%s: truncated" % path)
    n = struct.unpack("<Q", b[:8])[0]
    if n > len(b) - 8 or b[8:9] != b"{":
        raise ValueError("%s: bad header length or start" % path)
    header = json.loads(b[8:8 + n].decode("utf-8"))
    data = b[8 + n:]
    header.pop("__metadata__", None)
    out, end = {}, 0
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        lo, hi = e["data_offsets"]
        if lo != end or hi < lo:
            raise ValueError("%s: tensor %s: offsets not contiguous" % (path, name))
        end = hi
        count = math.prod(e["shape"])
        if e["dtype"] == "BF16":
            arr = np.frombuffer(data[lo:hi], dtype="<i2").copy()
            t = torch.from_numpy(arr).view(torch.bfloat16)
        else:
            arr = np.frombuffer(data[lo:hi], dtype=NP_DTYPES[e["dtype"]]).copy()
            t = torch.from_numpy(arr)
        if arr.size != count:
            raise ValueError("%s: tensor %s: %d values for shape %s" % (path, name, arr.size, e["shape"]))
        out[name] = t.reshape(e["shape"])
    if end != len(data):
        raise ValueError("%s: %d bytes of data, the tensors cover %d" % (path, len(data), end))
    return out


def fvals(t):
    t = t.detach().reshape(-1)
    if not t.is_floating_point():
        return " ".join(str(int(v)) for v in t.tolist())
    return " ".join(repr(float(v)) for v in t.to(torch.float64).tolist())


def write_case(path, spec, shape, batch, itype, x, out, nbt=None):
    lines = ["spec " + spec, "input_shape " + " ".join(map(str, shape)), "batch %d" % batch,
             "input_type " + itype, "input " + fvals(x),
             "output %d %s %s" % (out.dim(), " ".join(map(str, out.shape)), fvals(out))]
    if nbt is not None:
        lines.append("num_batches_tracked %d" % nbt)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def read_case(path):
    case = {}
    with open(path) as f:
        for line in f:
            key, _, rest = line.rstrip("\n").partition(" ")
            case[key] = rest
    shape = [int(v) for v in case["input_shape"].split()]
    batch = int(case["batch"])
    if case["input_type"] == "i32":
        x = torch.tensor([int(v) for v in case["input"].split()], dtype=torch.int64)
    else:
        x = torch.tensor([float(v) for v in case["input"].split()], dtype=torch.float32)
    o = case["output"].split()
    nd = int(o[0])
    oshape = [int(v) for v in o[1:1 + nd]]
    out = torch.tensor([float(v) for v in o[1 + nd:]], dtype=torch.float32).reshape(oshape)
    nbt = int(case["num_batches_tracked"]) if "num_batches_tracked" in case else None
    return case["spec"], x.reshape([batch] + shape), out, nbt


def rel_err(got, want):
    scale = float(want.abs().max())
    return float((got.to(torch.float64) - want.to(torch.float64)).abs().max()) / max(scale, 1e-30)


def make_input(name, shape, batch, itype, gen):
    if itype == "i32":
        return torch.randint(0, 17, [batch] + shape, generator=gen)
    return torch.randn([batch] + shape, generator=gen)


def torch_to_eta(outdir, prefix):
    torch.set_num_threads(1)
    for name, spec, shape, batch, itype in NETS:
        torch.manual_seed(SEEDS[name])
        model = build_net(spec)
        gen = torch.Generator().manual_seed(100 + SEEDS[name])
        nbt = None
        if name == "cnn":  # running statistics away from 0 and 1
            opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            model.train()
            for _ in range(TRAIN_STEPS):
                xb = make_input(name, shape, 8, itype, gen) * 2 + 0.5
                yb = torch.randint(0, 3, [8], generator=gen)
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(xb), yb).backward()
                opt.step()
            nbt = int(model[1].num_batches_tracked)
        model.eval()
        x = make_input(name, shape, batch, itype, gen)
        with torch.no_grad():
            out = model(x)
        base = os.path.join(outdir, prefix + name)
        write_safetensors(base + ".safetensors", model.state_dict(), {"format": "pt"})
        write_case(base + ".txt", spec, shape, batch, itype, x, out, nbt)
        back = read_safetensors(base + ".safetensors")  # the writer and reader agree
        for k, v in model.state_dict().items():
            assert torch.equal(back[k], v), k
        print("torch-to-eta %-12s %s.safetensors (%d tensors)" % (name, base, len(back)))
    return 0


def eta_to_torch(indir):
    torch.set_num_threads(1)
    worst, bad = 0.0, 0
    names = sorted(f[:-4] for f in os.listdir(indir) if f.endswith(".txt"))
    if not names:
        print("eta-to-torch: no cases in %s" % indir)
        return 1
    for name in names:
        spec, x, want, nbt = read_case(os.path.join(indir, name + ".txt"))
        model = build_net(spec)
        sd = read_safetensors(os.path.join(indir, name + ".safetensors"))
        model.load_state_dict(sd, strict=True)  # raises on a missing or unexpected name or a shape
        for k, v in model.state_dict().items():
            if k.endswith("num_batches_tracked"):
                assert v.dtype == torch.int64 and v.dim() == 0, k
                assert nbt is None or int(v) == nbt, "%s: %d, eta says %d" % (k, int(v), nbt)
        model.eval()
        with torch.no_grad():
            got = model(x)
        e = rel_err(got, want) if got.shape == want.shape else math.inf
        worst = max(worst, e)
        ok = e <= BOUND
        bad += not ok
        print("eta-to-torch %-12s output %s: max error %.3g of the largest |output| (bound %g) %s"
              % (name, list(got.shape), e, BOUND, "ok" if ok else "FAILED"))
    print("eta-to-torch: worst %.3g" % worst)
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("direction", choices=["eta-to-torch", "torch-to-eta"])
    ap.add_argument("dir")
    ap.add_argument("--prefix", default="")
    a = ap.parse_args()
    if a.direction == "torch-to-eta":
        return torch_to_eta(a.dir, a.prefix)
    return eta_to_torch(a.dir)


if __name__ == "__main__":
    sys.exit(main())
