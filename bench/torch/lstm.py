# PyTorch side of bench/lstm.js: the same training step (1-layer LSTM, input 64, hidden 128,
# length 32, batch 32, linear head to 64 classes, cross-entropy at every step, Adam), timed the
# same way. Usage: /usr/bin/python3 bench/torch/lstm.py <threads> <steps>
# Prints one JSON line: {"torch": version, "seqps": sequences/s, "msPerStep": ms per batch}.
import json
import sys
import time

import torch
from torch import nn

from common import training_step

T, B, I, H, C = 32, 32, 64, 128, 64
threads, steps = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)

lstm = nn.LSTM(I, H)
head = nn.Linear(H, C)
x = torch.randn(T, B, I)
y = torch.tensor([(i * 7 + (i >> 5)) % C for i in range(T * B)])
opt = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
step = training_step(lambda inp: head(lstm(inp)[0].reshape(T * B, H)), nn.CrossEntropyLoss(), opt, x, y)

for _ in range(max(steps // 10, 2)):
    step()  # warm-up
# Best of runs of steps/10 steps, as bench/lstm.js does.
group = max(1, steps // 10)
best = float('inf')
for _ in range(0, steps, group):
    t0 = time.perf_counter()
    for _ in range(group):
        step()
    best = min(best, (time.perf_counter() - t0) / group)
print(json.dumps({'torch': torch.__version__, 'seqps': B / best, 'msPerStep': best * 1e3}))
