"""Tiny, download-free model and tokenizer for smoke runs and tests of the TRL integration.

Everything is built in-process (no Hugging Face Hub): a byte-level BPE tokenizer trained on a few
strings, carrying Qwen's special tokens and TRL's bundled Qwen3 chat template (so TRL recognises the
template, renders tool schemas and parses ``<tool_call>`` blocks), and a randomly initialised Qwen2
causal LM of ~50k parameters over that vocabulary. Neither is meant to be good; they make the full
multi-turn tool loop run on a CPU in seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

__all__ = ["SPECIAL_TOKENS", "tiny_tokenizer", "tiny_model", "tool_call_text"]

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
)


def tool_call_text(name: str, **arguments) -> str:
    """An assistant turn calling one tool, in the Qwen3 format TRL parses."""
    import json

    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


def _wrap(tokenizer_object):
    from transformers import PreTrainedTokenizerFast
    from trl.chat_template_utils import qwen3_chat_template

    tok = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer_object,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        additional_special_tokens=list(SPECIAL_TOKENS[1:]),
    )
    tok.chat_template = qwen3_chat_template
    return tok


def _bpe(corpus: Iterable[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(corpus), trainer)
    return tok


def tiny_tokenizer(tools: Sequence[Callable] = (), corpus: Iterable[str] = (), vocab_size: int = 1200):
    """A fast tokenizer with the Qwen3 chat template, trained on rendered conversations.

    ``tools`` (functions with Google-style docstrings, as TRL requires) and ``corpus`` (e.g. observation
    texts) are rendered into the training text so prompts tokenize into few ids. Deterministic.
    """
    corpus = list(corpus)
    # Two passes: a merge-free tokenizer renders sample conversations through the real template, and
    # the final BPE is trained on that text, so template boilerplate costs few tokens.
    bootstrap = _wrap(_bpe(["a"], vocab_size=300))
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
    return _wrap(_bpe(samples * 4 + corpus + calls, vocab_size=vocab_size))


def tiny_model(
    tokenizer, *, hidden_size: int = 16, layers: int = 2, seed: int = 0, max_positions: int = 4096
):
    """A random Qwen2 causal LM over ``tokenizer``'s vocabulary (float32, CPU)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=max_positions,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model
