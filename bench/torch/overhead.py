# PyTorch side of bench/overhead.js: the same two training steps, driven round by round so that
# the Node side can interleave PyTorch's rounds with its own (a fair comparison on a busy machine).
# Usage: /usr/bin/python3 bench/torch/overhead.py, then lines on stdin:
#   "<small|large> <intra-op threads> <BLAS threads> <steps>"
#     -> one timed round, answered by {"seconds": s per step}
# The first line of output is {"torch": version, "blas": ...}.
# torch.set_num_threads does not reach the BLAS: this Debian torch calls the system OpenBLAS,
# whose own thread pool keeps its default size (all cores) unless set through
# openblas_set_num_threads, so a "1 thread" torch would otherwise run its GEMMs on 2 cores.
import ctypes
import json
import sys
import time

import torch
from torch import nn

torch.manual_seed(0)

# 2-16-16-1 tanh MLP, batch 32, MSE, plain SGD.
small = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))
xs = torch.randn(32, 2)
ys = torch.randn(32, 1)
opt_s = torch.optim.SGD(small.parameters(), lr=0.01)
mse = nn.MSELoss()


def small_step():
    opt_s.zero_grad(set_to_none=True)
    loss = mse(small(xs), ys)
    loss.backward()
    opt_s.step()


# 784-512-256-10 ReLU MLP, batch 128, softmax cross-entropy, SGD with momentum.
large = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
xl = torch.randn(128, 784)
yl = torch.randint(0, 10, (128,))
opt_l = torch.optim.SGD(large.parameters(), lr=0.01, momentum=0.9)
ce = nn.CrossEntropyLoss()


def large_step():
    opt_l.zero_grad(set_to_none=True)
    loss = ce(large(xl), yl)
    loss.backward()
    opt_l.step()


try:
    openblas = ctypes.CDLL('libopenblas.so.0')  # the instance torch already loaded
    set_blas_threads = openblas.openblas_set_num_threads
    blas = 'openblas'
except (OSError, AttributeError):
    set_blas_threads = None
    blas = 'unknown (BLAS threads not controlled)'

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
