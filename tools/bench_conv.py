"""Time numpy's convolution against PyTorch's at the course's sizes:
``python -m tools.bench_conv``.

:func:`bench_conv` returns a dict of measurements; :func:`table` formats it as Markdown.
For each size, one forward + backward pass of a convolution layer (``nblib.conv``'s
im2col ``conv_forward`` + ``conv_backward`` in float64, against
``torch.nn.functional.conv2d`` forward + ``backward`` on CPU, float64 and float32, one
thread), and one training step of notebook 10's network (``SmallCNN`` vs its PyTorch twin).
The three are timed in turns (tools.bench's interleaved timing, median of the rounds), so a change
in the machine's load hits all alike; the ratio is numpy time / torch time (> 1: numpy slower).
Measurements, not tests: nothing fails because a machine is slow.
"""

from __future__ import annotations

import time

import numpy as np

#: (label, x shape (N, C, H, W), W shape (F, C, HH, WW), stride, pad)
SIZES = [
    ("notebook 10 conv1 (batch 32)", (32, 1, 8, 8), (8, 1, 3, 3), 1, 1),
    ("notebook 10 conv2 (batch 32)", (32, 8, 4, 4), (16, 8, 3, 3), 1, 1),
    ("article conv2 on MNIST (batch 8)", (8, 32, 28, 28), (64, 32, 3, 3), 1, 1),
]



def bench_conv(repeats: int = 7, min_time: float = 0.05) -> dict:
    """Milliseconds per forward + backward at each size of :data:`SIZES`, numpy vs torch,
    and per training step of notebook 10's CNN. Returns
    ``{"threads": int, "rows": [{"size", "numpy_ms", "torch64_ms", "torch32_ms", "ratio64", "ratio32"}]}``."""
    import torch
    import torch.nn.functional as F

    from nblib import conv as C

    from .bench import _time_interleaved

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rows = []
    try:
        rng = np.random.default_rng(0)
        for label, xs, ws, s, p in SIZES:
            x, W, b = rng.normal(size=xs), rng.normal(size=ws), rng.normal(size=ws[0])
            out, cache = C.conv_forward(x, W, b, s, p)
            dout = rng.normal(size=out.shape)

            def numpy_step():
                o, c = C.conv_forward(x, W, b, s, p)
                C.conv_backward(dout, c)

            steps = {"numpy_ms": numpy_step}
            for dtype, key in ((torch.float64, "torch64_ms"), (torch.float32, "torch32_ms")):
                xt = torch.tensor(x, dtype=dtype, requires_grad=True)
                Wt = torch.tensor(W, dtype=dtype, requires_grad=True)
                bt = torch.tensor(b, dtype=dtype, requires_grad=True)
                dt = torch.tensor(dout, dtype=dtype)
                steps[key] = lambda xt=xt, Wt=Wt, bt=bt, dt=dt: F.conv2d(xt, Wt, bt, stride=s, padding=p).backward(dt)
            times = {k: 1e3 * v for k, v in _time_interleaved(steps, min_time, repeats).items()}
            rows.append({"size": f"{label}: x {xs}, W {ws}", **times})
        # one training step of notebook 10's network, batch 32, float64
        X, y = rng.normal(size=(32, 1, 8, 8)), rng.integers(0, 10, size=32)
        net = C.SmallCNN((8, 16), 64, seed=0)
        model = C.to_torch(net)
        Xt, yt = torch.tensor(X), torch.tensor(y)
        topt = torch.optim.SGD(model.parameters(), lr=0.0)
        from nblib import optim
        opt = optim.SGD(lr=0.0)

        def numpy_train():
            loss, g = net.loss_and_grads(X, y)
            opt.step(net.params, g)

        def torch_train():
            topt.zero_grad()
            F.cross_entropy(model(Xt), yt).backward()
            topt.step()

        model32 = C.to_torch(net, dtype=torch.float32)
        X32 = Xt.float()
        topt32 = torch.optim.SGD(model32.parameters(), lr=0.0)

        def torch_train32():
            topt32.zero_grad()
            F.cross_entropy(model32(X32), yt).backward()
            topt32.step()

        times = {k: 1e3 * v for k, v in _time_interleaved(
            {"numpy_ms": numpy_train, "torch64_ms": torch_train, "torch32_ms": torch_train32}, min_time, repeats).items()}
        rows.append({"size": "notebook 10 SmallCNN training step (batch 32)", **times})
    finally:
        torch.set_num_threads(threads)
    for r in rows:
        r["ratio64"] = r["numpy_ms"] / r["torch64_ms"]
        r["ratio32"] = r["numpy_ms"] / r["torch32_ms"]
    return {"threads": 1, "rows": rows}


def table(result: dict) -> str:
    """The result of :func:`bench_conv` as a Markdown table."""
    lines = ["| forward + backward | numpy float64 (ms) | torch float64 (ms) | torch float32 (ms) "
             "| numpy / torch64 | numpy / torch32 |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['size']} | {r['numpy_ms']:.3f} | {r['torch64_ms']:.3f} | {r['torch32_ms']:.3f} "
                     f"| {r['ratio64']:.2f} | {r['ratio32']:.2f} |")
    lines.append(f"\nOne thread (torch.set_num_threads(1); run with OMP_NUM_THREADS=1 for numpy's BLAS); "
                 f"timed in turns, median of the rounds.")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(bench_conv()))
