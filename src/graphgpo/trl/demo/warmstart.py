"""The warm start: supervised fine-tuning on tokenized episodes, loss on the model's own turns only."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

from .episodes import Episode

__all__ = ["supervised_fine_tune"]


def _batches(episodes: Sequence[Episode], batch_size: int, rng: random.Random) -> list[list[Episode]]:
    # Episodes of similar length share a batch (less padding); the batch order is shuffled.
    order = sorted(range(len(episodes)), key=lambda i: (len(episodes[i].ids), rng.random()))
    batches = [[episodes[i] for i in order[k : k + batch_size]] for k in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def supervised_fine_tune(
    model,
    episodes: Sequence[Episode],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    pad_id: int,
    seed: int = 0,
    on_step: Callable[[int, int, float], None] | None = None,
) -> list[float]:
    """Train ``model`` in place on ``episodes`` (AdamW, linear warm-up then cosine decay) and return the
    loss of every optimizer step; ``on_step(step, total, loss)`` is called after each."""
    import torch

    rng = random.Random(seed)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0)
    plan = [_batches(episodes, batch_size, rng) for _ in range(epochs)]
    total = sum(len(p) for p in plan)
    warmup = max(1, total // 20)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    model.train()
    losses: list[float] = []
    for batches in plan:
        for batch in batches:
            width = max(len(e.ids) for e in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            labels = torch.full((len(batch), width), -100, dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            for i, e in enumerate(batch):
                row = torch.tensor(e.ids)
                ids[i, : len(e.ids)] = row
                attention[i, : len(e.ids)] = 1
                labels[i, : len(e.ids)] = torch.where(torch.tensor(e.action_mask) == 1, row, -100)
            loss = model(input_ids=ids, attention_mask=attention, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
            if on_step is not None:
                on_step(len(losses), total, losses[-1])
    return losses
