# PyTorch side of bench/suite.js: the same workloads (bench/_suite-workloads.js) under the same
# names, served one measurement per request so that the driver can interleave them with backprop's.
# Usage: /usr/bin/python3 bench/torch/suite.py <omp threads> <openblas threads>
# Reads one workload name per line on stdin; answers one JSON line per request:
# {"name", "seconds": best seconds per iteration, "faults": minor page faults per iteration}
# (or {"error"}). The first line it prints is
# {"ready": true, "torch": version}.
import json
import resource
import sys
import time

import torch
from torch import nn

from common import openblas_thread_setter

omp, blas = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(omp)
set_blas_threads = openblas_thread_setter()
if set_blas_threads is not None:
    set_blas_threads(blas)


def matmul(n):
    def setup():
        torch.manual_seed(0)
        a, b = torch.randn(n, n), torch.randn(n, n)

        def it():
            with torch.no_grad():
                a.mm(b)
        return it
    return setup


def train(model, x, y):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def it():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
    return it


def labels(batch):
    return torch.tensor([(i * 7) % 10 for i in range(batch)])


def mlp(sizes, batch, dtype):
    def setup():
        torch.manual_seed(0)
        layers = []
        for i in range(len(sizes) - 1):
            if i > 0:
                layers.append(nn.ReLU())
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        model = nn.Sequential(*layers).to(dtype)
        return train(model, torch.randn(batch, sizes[0], dtype=dtype), labels(batch))
    return setup


def inference(batch):
    def setup():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                              nn.Linear(256, 10)).eval()
        x = torch.randn(batch, 784)

        def it():
            with torch.no_grad():
                model(x)
        return it
    return setup


def conv_strided():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.ReLU(),
        nn.AvgPool2d(8), nn.Flatten(), nn.Linear(128, 10))
    return train(model, torch.randn(64, 3, 32, 32), labels(64))


def lenet():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    return train(model, torch.randn(64, 1, 28, 28), labels(64))


WORKLOADS = {
    'mm256': matmul(256), 'mm512': matmul(512), 'mm1024': matmul(1024), 'mm2048': matmul(2048),
    'mlp': mlp([784, 512, 256, 10], 64, torch.float32),
    'mlpWide': mlp([784, 2048, 2048, 10], 256, torch.float32),
    'mlp64': mlp([784, 512, 256, 10], 64, torch.float64),
    'infer32': inference(32), 'infer1': inference(1),
    'convStrided': conv_strided, 'lenet': lenet,
}


def minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure(it, min_seconds):
    """Best mean over batches of iterations (each batch ~1/8 of min_seconds), after a warm-up,
    and the minor page faults per iteration."""
    faults0 = minor_faults()
    iterations = 2
    t0 = time.perf_counter()
    it()
    it()
    once = max((time.perf_counter() - t0) / 2, 1e-7)
    reps = max(1, int(min_seconds / 8 / once))
    best, total, batches = float('inf'), 0.0, 0
    while batches < 4 or total < min_seconds:
        t0 = time.perf_counter()
        for _ in range(reps):
            it()
        iterations += reps
        dt = time.perf_counter() - t0
        total += dt
        batches += 1
        best = min(best, dt / reps)
    return {'seconds': best, 'faults': (minor_faults() - faults0) / iterations}


cache = {}
print(json.dumps({'ready': True, 'torch': torch.__version__}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    name = req['name']
    try:
        if name not in cache:
            cache[name] = WORKLOADS[name]()
            measure(cache[name], req['minSeconds'] / 2)  # first use: warm before any figure counts
        print(json.dumps({'name': name, **measure(cache[name], req['minSeconds'])}), flush=True)
    except Exception as e:  # reported in the table, the run goes on
        print(json.dumps({'name': name, 'error': f'{type(e).__name__}: {e}'}), flush=True)
