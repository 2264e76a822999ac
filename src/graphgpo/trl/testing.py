"""Tiny, download-free model and tokenizer for smoke runs and tests of the TRL integration.

Everything is built in-process (no Hugging Face Hub, see :mod:`graphgpo.trl.chat`): a byte-level BPE
tokenizer trained on a few strings, carrying Qwen's special tokens and TRL's bundled Qwen3 chat template
(so TRL recognises the template, renders tool schemas and parses ``<tool_call>`` blocks), and a randomly
initialised Qwen2 causal LM of about ten thousand parameters over that vocabulary (see :func:`tiny_model`).
Neither is meant to be good; they make the full multi-turn tool loop run on a CPU in seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from .chat import SPECIAL_TOKENS, causal_lm, chat_tokenizer, tool_call_text

__all__ = ["SPECIAL_TOKENS", "tiny_tokenizer", "tiny_model", "tool_call_text"]


def tiny_tokenizer(tools: Sequence[Callable] = (), corpus: Iterable[str] = (), vocab_size: int = 1200):
    """A fast tokenizer with the Qwen3 chat template, trained on rendered conversations.

    ``tools`` (functions with Google-style docstrings, as TRL requires) and ``corpus`` (e.g. observation
    texts) are rendered into the training text so prompts tokenize into few ids. Deterministic.
    """
    corpus = list(corpus)
    # Two passes: a merge-free tokenizer renders sample conversations through the real template, and
    # the final BPE is trained on that text, so template boilerplate costs few tokens.
    bootstrap = chat_tokenizer(["a"], vocab_size=300)
    calls = [
        tool_call_text(getattr(t, "__name__", "tool"), direction=d)
        for t in (tools or [None])
        for d in ("up", "down", "left", "right")
    ]
    samples = []
    for text in corpus or ["You are in a room."]:
        messages = [{"role": "user", "content": text}]
        for call in calls:
            messages += [{"role": "assistant", "content": call}, {"role": "tool", "content": text}]
        samples.append(
            bootstrap.apply_chat_template(
                messages, tools=list(tools) or None, tokenize=False, add_generation_prompt=True
            )
        )
    return chat_tokenizer(samples * 4 + corpus + calls, vocab_size=vocab_size)


def tiny_model(
    tokenizer, *, hidden_size: int = 16, layers: int = 2, seed: int = 0, max_positions: int = 4096
):
    """A random Qwen2 causal LM over ``tokenizer``'s vocabulary (float32, CPU).

    At the default sizes it has 4,752 parameters plus 16 per vocabulary entry (tied embeddings): 10,224
    with the default ``tiny_tokenizer()`` (342 tokens), 13,648 with a 556-token vocabulary.
    """
    return causal_lm(
        tokenizer, hidden_size=hidden_size, layers=layers, seed=seed, max_positions=max_positions
    )
