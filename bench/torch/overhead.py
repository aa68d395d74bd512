# PyTorch side of bench/overhead.js: the same two training steps, timed the same way.
# Usage: /usr/bin/python3 bench/torch/overhead.py <threads> <small_steps> <large_steps>
# Prints one JSON line: {"torch": version, "small_us": µs per step, "large_sps": samples/s}.
import json
import sys
import time

import torch
from torch import nn

threads, small_steps, large_steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)


def best_of(fn, steps, rounds=5):
    for _ in range(max(steps // 10, 3)):
        fn()  # warm-up
    best = float('inf')
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        best = min(best, (time.perf_counter() - t0) / steps)
    return best


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


small_s = best_of(small_step, small_steps)
large_s = best_of(large_step, large_steps, rounds=3)
print(json.dumps({'torch': torch.__version__, 'small_us': small_s * 1e6, 'large_sps': 128 / large_s}))
