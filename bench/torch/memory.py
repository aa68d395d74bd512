# PyTorch side of bench/memory.js: the same tanh MLP (L layers of width W, batch B, loss mean of
# the squared output), one training step's forward and backward (SGD update), plainly or with
# torch.utils.checkpoint.checkpoint_sequential(model, segments, x). torch 1.13 has no saved-bytes
# counter on CPU, so it reports the process's peak RSS and the time per step.
# Usage: /usr/bin/python3 bench/torch/memory.py <layers> <width> <batch> <segments: 0 = plain> <steps> <threads>
# Prints one JSON line: {"torch": version, "msPerStep": best ms per step, "maxRssBytes": peak RSS}.
import json
import resource
import sys
import time

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint_sequential

from common import openblas_thread_setter

L, W, B, segments, steps, threads = (int(a) for a in sys.argv[1:7])
torch.set_num_threads(threads)
setter = openblas_thread_setter()
if setter is not None:
    setter(threads)
torch.manual_seed(0)
layers = []
for _ in range(L):
    layers += [nn.Linear(W, W), nn.Tanh()]
model = nn.Sequential(*layers)
x = torch.randn(B, W)
opt = torch.optim.SGD(model.parameters(), lr=1e-3)


def step():
    opt.zero_grad(set_to_none=True)
    out = checkpoint_sequential(model, segments, x) if segments > 0 else model(x)
    out.pow(2).mean().backward()
    opt.step()


step()  # warm-up
best = float('inf')
for _ in range(steps):
    t0 = time.perf_counter()
    step()
    best = min(best, time.perf_counter() - t0)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({'torch': torch.__version__.split('+')[0], 'msPerStep': best * 1e3, 'maxRssBytes': rss}))
