# What the PyTorch benchmark scripts share: the training step they time, and control of the
# OpenBLAS thread pool (torch.set_num_threads does not reach it: this Debian torch calls the
# system OpenBLAS, whose own pool keeps all cores unless set through openblas_set_num_threads).
import ctypes


def training_step(model, loss_fn, opt, x, y):
    """The step every benchmark times: zero the gradients, forward, loss, backward, update."""

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    return step


def openblas_thread_setter():
    """openblas_set_num_threads of the OpenBLAS instance torch loaded, or None where there is none."""
    try:
        return ctypes.CDLL('libopenblas.so.0').openblas_set_num_threads
    except (OSError, AttributeError):
        return None
