# PyTorch side of bench/sparse.js: the Linear 512->256 (batch 128) and Conv 64->64 3x3 (32x32,
# batch 32) layers with the same random patterns' densities, dense and (linear) torch.sparse.mm
# with a COO weight. Prints one JSON line: median milliseconds of forward and backward per
# configuration.
#   python3 bench/torch/sparse.py <threads> <reps> <conv 0|1> <densities...>
import json
import sys
import time

import torch

from common import openblas_thread_setter

threads, reps, conv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == '1'
densities = [float(d) for d in sys.argv[4:]]
torch.set_num_threads(threads)
set_blas_threads = openblas_thread_setter()
if set_blas_threads:
    set_blas_threads(threads)
torch.manual_seed(0)


def median(xs):
    return sorted(xs)[len(xs) // 2]


def timed(forward):
    """Median ms of forward() and of backward of its output, after one warm-up."""
    fw, bw = [], []
    for r in range(reps + 1):
        t0 = time.perf_counter()
        y = forward()
        t1 = time.perf_counter()
        y.backward(torch.ones_like(y))
        t2 = time.perf_counter()
        if r:
            fw.append((t1 - t0) * 1e3)
            bw.append((t2 - t1) * 1e3)
    return {'fwd': median(fw), 'bwd': median(bw)}


def masked(shape, density):
    w = torch.randn(shape)
    return w * (torch.rand(shape) < density)


out = {'linear': {}, 'conv': {}}
x = torch.randn(128, 512, requires_grad=True)
for d in densities:
    w = masked((256, 512), d)
    lin = torch.nn.Linear(512, 256)
    lin.weight.data = w.clone()
    ws = w.to_sparse().requires_grad_(True)
    out['linear'][str(d)] = {
        'dense': timed(lambda: lin(x)),
        'sparse_mm': timed(lambda: torch.sparse.mm(ws, x.t()).t()),
    }
if conv:
    xc = torch.randn(32, 64, 32, 32, requires_grad=True)
    for d in densities:
        c = torch.nn.Conv2d(64, 64, 3, padding=1)
        c.weight.data = masked((64, 64, 3, 3), d)
        out['conv'][str(d)] = {'dense': timed(lambda: c(xc))}
print(json.dumps(out))
