"""GPU timing: graphgpo.cuda vs the CPU engine vs a torch-only GPU implementation, on the large shapes.

    python benchmarks/gpu.py                          # large-int, huge, sweep; prints a Markdown table
    python benchmarks/gpu.py --shapes huge --repeat 10 --out /tmp/gpu.md
    python benchmarks/gpu.py --device cpu --shapes sweep-10000   # dry run without a GPU (torch-only + CPU)

Needs PyTorch with CUDA and a ``GRAPHGPO_CUDA=ON`` build of graphgpo for the ``graphgpo.cuda`` rows (they are
skipped, with a note, otherwise). What is timed (wall clock, best of ``--repeat`` after one warm-up,
``torch.cuda.synchronize()`` before the clock stops):

- **CPU engine**: ``graphgpo.advantages`` on numpy arrays (int states hashed on the host), all threads.
- **graphgpo.cuda (device inputs)**: ``graphgpo.cuda.advantages`` on CUDA tensors already on the device
  (int states hashed on the device); the result stays on the device.
- **graphgpo.cuda (from host)**: the same, plus uploading the numpy inputs (what a CPU-side rollout buffer
  pays).
- **torch-only**: :func:`torch_graphgpo` below, a straightforward vectorized GraphGPO in PyTorch ops
  (``torch.unique`` node numbering, frontier BFS with ``scatter_reduce``, segment statistics with
  ``index_add_``), on the same device. It is the natural "just write it in torch" baseline; its numbers
  agree with the engine to about 1e-9 (different summation order), which the table reports.

Only GraphGPO with default options (unit costs, no next_state: the shapes' layout) is compared with the
torch-only version; GRPO and GiGPO are timed for the two graphgpo paths.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import graphgpo  # noqa: E402
from benchmarks import data  # noqa: E402

DEFAULT_SHAPES = ("large-int", "huge", "sweep")


# ---------------------------------------------------------------------------------------------------------
# The torch-only baseline


def _segment_normalize(torch, x, seg, num_segments, *, singleton_zero: bool, eps: float):
    """SPEC's mean_std normalization of x within segments (unbiased std; equal values give 0)."""
    f64 = torch.float64
    count = torch.zeros(num_segments, dtype=f64, device=x.device).index_add_(0, seg, torch.ones_like(x))
    total = torch.zeros(num_segments, dtype=f64, device=x.device).index_add_(0, seg, x)
    mean = total / count
    centered = x - mean[seg]
    squares = torch.zeros(num_segments, dtype=f64, device=x.device).index_add_(0, seg, centered * centered)
    std = torch.sqrt(squares / (count - 1).clamp(min=1))
    hi = torch.full((num_segments,), -torch.inf, dtype=f64, device=x.device).scatter_reduce(0, seg, x, "amax")
    lo = torch.full((num_segments,), torch.inf, dtype=f64, device=x.device).scatter_reduce(0, seg, x, "amin")
    out = centered / (std[seg] + eps)
    single = count[seg] == 1
    if singleton_zero:
        out = torch.where(single, torch.zeros_like(out), out)
    else:
        out = torch.where(single, x / (1.0 + eps), out)
    return torch.where((hi == lo)[seg] & ~single, torch.zeros_like(out), out)


def torch_graphgpo(torch, group, trajectory, state, success, valid, *, omega=0.1, success_reward=10.0,
                   invalid_penalty=0.1, eps=1e-6):
    """GraphGPO (SPEC defaults: reference convention, per-step episode stats, unit costs, no next_state) in
    torch ops. ``state`` holds integer state ids; all tensors on one device."""
    n = group.shape[0]
    dev = group.device
    f64 = torch.float64
    starts = torch.ones(n, dtype=torch.bool, device=dev)
    starts[1:] = trajectory[1:] != trajectory[:-1]
    last = torch.ones(n, dtype=torch.bool, device=dev)
    last[:-1] = starts[1:]
    traj_index = torch.cumsum(starts.long(), 0) - 1
    _, gidx = torch.unique(group, return_inverse=True)
    num_groups = int(gidx.max()) + 1
    invalid = ~valid
    # Episode advantage: per-step scores normalized within each group.
    episode = torch.where(success, success_reward, 0.0).to(f64) - invalid.to(f64) * invalid_penalty
    a_e = _segment_normalize(torch, episode, gidx, num_groups, singleton_zero=False, eps=eps)
    # Nodes: (group, state) pairs of the row's state and of the next row's state; SUCCESS per group;
    # a terminal node per failed trajectory's last row.
    nxt = torch.roll(state, -1)
    pairs = torch.cat([torch.stack([gidx, state], 1), torch.stack([gidx, nxt], 1)])
    _, node = torch.unique(pairs, dim=0, return_inverse=True)
    num_states = int(node.max()) + 1
    src = node[:n]
    success_node = num_states + gidx
    terminal_node = num_states + num_groups + traj_index
    dst = torch.where(last, torch.where(success, success_node, terminal_node), node[n:])
    num_nodes = num_states + num_groups + int(traj_index[-1]) + 1
    node_group = torch.zeros(num_nodes, dtype=torch.long, device=dev)
    node_group[src] = gidx
    node_group[dst] = gidx
    has_success = torch.zeros(num_groups, dtype=torch.bool, device=dev).index_fill_(0, gidx[success], True)
    # Frontier BFS from the SUCCESS nodes along reversed edges (unit costs).
    dist = torch.full((num_nodes,), torch.inf, dtype=f64, device=dev)
    dist[num_states:num_states + num_groups] = torch.where(has_success, 0.0, torch.inf).to(f64)
    while True:
        candidate = dist[dst] + 1.0
        updated = dist.scatter_reduce(0, src, candidate, "amin")
        if torch.equal(updated, dist):
            break
        dist = updated
    finite = torch.where(torch.isfinite(dist), dist, torch.zeros_like(dist))
    far = torch.zeros(num_groups, dtype=f64, device=dev).scatter_reduce(0, node_group, finite, "amax") + 1.0
    dist = torch.where(torch.isfinite(dist), dist, far[node_group])
    dist = torch.where(has_success[node_group], dist, torch.ones_like(dist))
    step = success_reward * torch.pow(torch.tensor(omega, dtype=f64, device=dev), dist[dst])
    step = step - invalid.to(f64) * invalid_penalty
    a_s = _segment_normalize(torch, step, src, num_nodes, singleton_zero=True, eps=eps)
    return a_e + a_s


# ---------------------------------------------------------------------------------------------------------
# Timing


def _best(call, repeat: int, sync) -> tuple[float, object]:
    out = call()  # warm-up (compilation, allocator, caches)
    sync()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = call()
        sync()
        best = min(best, time.perf_counter() - start)
    return best, out


def _shapes(names: list[str]) -> list[data.Shape]:
    out = []
    for name in names:
        if name == "sweep":
            out.extend(data.sweep_shape(rows) for rows in data.SWEEP_ROWS)
        elif name.startswith("sweep-"):
            out.append(data.sweep_shape(int(name.split("-", 1)[1])))
        else:
            shape = data.SHAPES[name]
            if shape.states != "int":
                raise SystemExit(f"{name}: the GPU benchmark uses integer states (try large-int, huge, sweep)")
            out.append(shape)
    return out


def _time_shape(torch, shape: data.Shape, device, repeat: int, sync, gpu_path: bool) -> list[str]:
    batch = data.generate(shape)
    host = {"group": batch.group, "trajectory": batch.trajectory, "state": batch.states(),
            "success": batch.success, "valid": batch.valid}

    def upload():
        return {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in host.items()}

    dev = upload()
    rows = []
    for method in graphgpo.METHODS:
        cpu_s, cpu_out = _best(lambda m=method: graphgpo.advantages(m, **host), repeat, lambda: None)
        cells = [f"{cpu_s:.4f}"]
        diffs = []
        if gpu_path and method != "progpo":  # progpo is CPU-only: the CUDA path refuses it
            import graphgpo.cuda as gcuda

            dev_s, dev_out = _best(lambda m=method: gcuda.advantages(m, **dev), repeat, sync)
            host_s, _ = _best(lambda m=method: gcuda.advantages(m, **upload()), repeat, sync)
            cells += [f"{dev_s:.4f}", f"{host_s:.4f}"]
            diffs.append(f"{np.abs(dev_out.cpu().numpy() - cpu_out).max():.1e}")
        else:
            cells += ["-", "-"]
            diffs.append("-")
        if method == "graphgpo":
            t_s, t_out = _best(lambda: torch_graphgpo(torch, dev["group"], dev["trajectory"], dev["state"],
                                                      dev["success"], dev["valid"]), repeat, sync)
            cells.append(f"{t_s:.4f}")
            diffs.append(f"{np.abs(t_out.cpu().numpy() - cpu_out).max():.1e}")
        else:
            cells.append("-")
            diffs.append("-")
        rows.append(f"| {shape.name} | {len(batch):,} | {method} | " + " | ".join(cells) + f" | {' / '.join(diffs)} |")
    return rows


def run(shapes: list[str], repeat: int, device_name: str) -> str:
    import torch

    device = torch.device(device_name)
    on_cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if on_cuda else (lambda: None)
    gpu_path = on_cuda and graphgpo.cuda_available() and torch.cuda.is_available()
    lines = ["# GPU benchmark", ""]
    if on_cuda:
        lines.append(f"Device: {torch.cuda.get_device_name(device)}; torch {torch.__version__}; "
                     f"graphgpo {graphgpo.__version__} (CUDA compiled: {graphgpo.cuda_available()}).")
    else:
        lines.append(f"Device: CPU (dry run); torch {torch.__version__}; graphgpo {graphgpo.__version__}.")
    if not gpu_path:
        lines.append("graphgpo.cuda rows skipped: needs a GRAPHGPO_CUDA=ON build, PyTorch with CUDA and a GPU.")
    lines += ["", f"Wall seconds, best of {repeat} after a warm-up.", "",
              "| shape | rows | method | CPU engine | graphgpo.cuda (device inputs) | graphgpo.cuda (from host) "
              "| torch-only | max abs diff vs CPU (cuda / torch) |",
              "|---|---|---|---|---|---|---|---|"]
    for shape in _shapes(shapes):
        for line in _time_shape(torch, shape, device, repeat, sync, gpu_path):
            lines.append(line)
            print(line, flush=True)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="+", default=list(DEFAULT_SHAPES),
                        help="large-int, huge, sweep, sweep-N (integer-state shapes)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu for a dry run")
    parser.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = parser.parse_args(argv)
    report = run(args.shapes, args.repeat, args.device)
    print()
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
