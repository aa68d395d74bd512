# PyTorch side of bench/lenet.js: the same LeNet-5 training step (batch 64, 1x28x28 inputs,
# cross-entropy, SGD with momentum 0.9), timed the same way.
# Usage: /usr/bin/python3 bench/torch/lenet.py <threads> <steps>
# Prints one JSON line: {"torch": version, "sps": samples/s, "peak_rss_mb": peak RSS}.
# The OpenBLAS pool is limited to the same thread count (the linear layers would otherwise run on
# 2 cores in "1 thread"; see common.py).
import json
import resource
import sys
import time

import torch
from torch import nn

from common import openblas_thread_setter, training_step

threads, steps = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
set_blas_threads = openblas_thread_setter()
if set_blas_threads is not None:
    set_blas_threads(threads)
torch.manual_seed(0)

model = nn.Sequential(
    nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(400, 120), nn.ReLU(),
    nn.Linear(120, 84), nn.ReLU(),
    nn.Linear(84, 10),
)
x = torch.randn(64, 1, 28, 28)
y = torch.randint(0, 10, (64,))
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
step = training_step(model, nn.CrossEntropyLoss(), opt, x, y)

for _ in range(max(steps // 10, 3)):
    step()  # warm-up
best = float('inf')
for _ in range(3):
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    best = min(best, (time.perf_counter() - t0) / steps)
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({'torch': torch.__version__, 'sps': 64 / best, 'peak_rss_mb': rss_mb}))
