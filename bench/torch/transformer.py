# PyTorch side of bench/transformer.js, timed the same way.
#   attention <L> <threads> <reps>: composed attention (q k^T * scale, softmax, @ v) forward and
#     backward at B=8, H=8, E=64, float32: best seconds per forward+backward, and the bytes autograd
#     saved for the backward (summed through saved_tensors_hooks; a tensor saved twice counts twice).
#   train <threads> <steps>: the 2-layer encoder training step of bench/transformer.js.
# Prints one JSON line.
import json
import sys
import time

import torch
from torch import nn

from common import openblas_thread_setter, training_step

mode = sys.argv[1]


def set_threads(n):
    torch.set_num_threads(n)
    setter = openblas_thread_setter()
    if setter is not None:
        setter(n)


def best_time(fn, reps):
    fn()
    best = float('inf')
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


if mode == 'attention':
    L, threads, reps = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    set_threads(threads)
    torch.manual_seed(0)
    B, H, E = 8, 8, 64
    q, k, v = (torch.randn(B, H, L, E, requires_grad=True) for _ in range(3))
    g = torch.randn(B, H, L, E)
    saved = [0]

    def pack(t):
        saved[0] += t.numel() * t.element_size()
        return t

    def fwd():
        p = torch.softmax(q @ k.transpose(-2, -1) * (E ** -0.5), dim=-1)
        return p @ v

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fwd()

    def run():
        fwd().backward(g)

    print(json.dumps({'torch': torch.__version__, 'seconds': best_time(run, reps), 'savedBytes': saved[0]}))
elif mode == 'train':
    threads, steps = int(sys.argv[2]), int(sys.argv[3])
    set_threads(threads)
    torch.manual_seed(0)
    B, L, D = 32, 64, 128
    layer = nn.TransformerEncoderLayer(D, 4, dim_feedforward=512, batch_first=True)
    model = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    x = torch.randn(B, L, D)
    y = torch.randn(B, L, D)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    step = training_step(model, nn.MSELoss(), opt, x, y)
    for _ in range(max(steps // 10, 2)):
        step()
    group = max(1, steps // 10)
    best = float('inf')
    for _ in range(0, steps, group):
        t0 = time.perf_counter()
        for _ in range(group):
            step()
        best = min(best, (time.perf_counter() - t0) / group)
    print(json.dumps({'torch': torch.__version__, 'sps': B / best, 'msPerStep': best * 1e3}))
else:
    raise SystemExit('usage: transformer.py attention <L> <threads> <reps> | train <threads> <steps>')
