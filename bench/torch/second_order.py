# The PyTorch side of bench/second-order.js: seconds per call of one gradient and of
# torch.autograd.functional's hvp, vjp and jvp (and a Gauss-Newton product written the way
# gnvp computes it) on the 784-512-256-10 tanh MLP, batch 64, float32, cross-entropy.
# Prints one JSON object {op: best seconds}. Usage: second_order.py <threads> <reps>
import json, sys, time
import torch
from torch.autograd import functional as AF
from common import openblas_thread_setter

threads, reps = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
setter = openblas_thread_setter()
if setter is not None:
    setter(threads)
torch.manual_seed(0)
sizes = [784, 512, 256, 10]
params = []
for i in range(3):
    params += [torch.randn(sizes[i + 1], sizes[i]) * (1 / sizes[i]) ** 0.5, torch.zeros(sizes[i + 1])]
x = torch.rand(64, 784)
y = torch.arange(64) % 10
v = [torch.randn_like(p) for p in params]
u = torch.randn(64, 10)


def logits(*ps):
    h = x
    for i in range(3):
        h = torch.nn.functional.linear(h, ps[2 * i], ps[2 * i + 1])
        if i < 2:
            h = torch.tanh(h)
    return h


def loss(*ps):
    return torch.nn.functional.cross_entropy(logits(*ps), y)


def gradient():
    ps = [p.detach().requires_grad_() for p in params]
    return torch.autograd.grad(loss(*ps), ps)


def gnvp():
    ps = [p.detach().requires_grad_() for p in params]
    z = logits(*ps)
    zd = z.detach().requires_grad_()
    gz, = torch.autograd.grad(torch.nn.functional.cross_entropy(zd, y), zd, create_graph=True)
    du = torch.zeros_like(z, requires_grad=True)
    ju = torch.autograd.grad(z, ps, du, create_graph=True)
    jv, = torch.autograd.grad(ju, du, v)
    hjv, = torch.autograd.grad(gz, zd, jv)
    return torch.autograd.grad(z, ps, hjv)


ops = {
    'grad': gradient,
    'hvp': lambda: AF.hvp(loss, tuple(params), tuple(v)),
    'vjp': lambda: AF.vjp(logits, tuple(params), u),
    'jvp': lambda: AF.jvp(logits, tuple(params), tuple(v)),
    'gnvp': gnvp,
}
best = {}
for name, fn in ops.items():
    fn()
for _ in range(reps):
    for name, fn in ops.items():
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best[name] = min(best.get(name, float('inf')), dt)
print(json.dumps(best))
