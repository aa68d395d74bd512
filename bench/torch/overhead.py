# PyTorch side of bench/overhead.js: the same two training steps, driven round by round so that
# the Node side can interleave PyTorch's rounds with its own (a fair comparison on a busy machine).
# Usage: /usr/bin/python3 bench/torch/overhead.py, then lines on stdin:
#   "<small|large> <intra-op threads> <BLAS threads> <steps>"
#     -> one timed round, answered by {"seconds": s per step}
# The first line of output is {"torch": version, "blas": ...}.
# The OpenBLAS pool is set to the BLAS thread count of each round (a "1 thread" torch would
# otherwise run its GEMMs on 2 cores; see common.py).
import json
import sys
import time

import torch
from torch import nn

from common import openblas_thread_setter, training_step

torch.manual_seed(0)

# 2-16-16-1 tanh MLP, batch 32, MSE, plain SGD.
small = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))
xs = torch.randn(32, 2)
ys = torch.randn(32, 1)
opt_s = torch.optim.SGD(small.parameters(), lr=0.01)
small_step = training_step(small, nn.MSELoss(), opt_s, xs, ys)

# 784-512-256-10 ReLU MLP, batch 128, softmax cross-entropy, SGD with momentum.
large = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
xl = torch.randn(128, 784)
yl = torch.randint(0, 10, (128,))
opt_l = torch.optim.SGD(large.parameters(), lr=0.01, momentum=0.9)
large_step = training_step(large, nn.CrossEntropyLoss(), opt_l, xl, yl)

set_blas_threads = openblas_thread_setter()
blas = 'openblas' if set_blas_threads is not None else 'unknown (BLAS threads not controlled)'

print(json.dumps({'torch': torch.__version__, 'blas': blas}), flush=True)
for line in sys.stdin:
    kind, threads, blas_threads, steps = line.split()
    torch.set_num_threads(int(threads))
    if set_blas_threads is not None:
        set_blas_threads(int(blas_threads))
    step = small_step if kind == 'small' else large_step
    steps = int(steps)
    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    print(json.dumps({'seconds': (time.perf_counter() - t0) / steps}), flush=True)
