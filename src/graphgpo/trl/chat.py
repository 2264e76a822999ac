"""Chat tokenizers and small causal LMs built in-process: no Hugging Face Hub, no files.

The tokenizer is a byte-level BPE trained on a few texts, carrying Qwen's special tokens and TRL's
bundled Qwen3 chat template, so TRL recognises the template, renders tool schemas and parses
``<tool_call>`` blocks; the model is a randomly initialised Qwen2 causal LM over that vocabulary. The
test helpers (:mod:`graphgpo.trl.testing`) and the LLM learning demo (:mod:`graphgpo.trl.demo`) build
theirs here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

__all__ = ["SPECIAL_TOKENS", "chat_tokenizer", "causal_lm", "tool_call_text"]

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
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


def _pre_tokenizer(split_words: bool, isolate: str):
    from tokenizers import Regex, pre_tokenizers

    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=split_words)
    if not isolate:
        return byte_level
    chars = "".join("\\" + c if c in "\\^-]" else c for c in isolate)
    # A character of `isolate` is one token where the rest of its line is made of such characters only
    # (a row of a text board), wherever it stands; elsewhere it merges like any other character.
    grid_char = Regex(f"[{chars}](?=[{chars}]*(?:\\n|$))")
    return pre_tokenizers.Sequence([pre_tokenizers.Split(grid_char, behavior="isolated"), byte_level])


def chat_tokenizer(
    texts: Iterable[str], *, vocab_size: int = 1200, split_words: bool = True, isolate: str = ""
):
    """A fast tokenizer with the Qwen3 chat template and a BPE vocabulary trained on ``texts``.

    ``split_words=False`` lets merges cross spaces and punctuation, so text that repeats verbatim (the
    template's tool boilerplate) costs a few tokens. Characters of ``isolate`` stay one token each on
    lines made of them only (e.g. ``"#$@.*+ "`` for Sokoban boards), so a board row is always as many
    tokens as it has cells and rows line up. Deterministic in its arguments.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    from trl.chat_template_utils import qwen3_chat_template

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = _pre_tokenizer(split_words, isolate)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(list(texts), trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        additional_special_tokens=list(SPECIAL_TOKENS[1:]),
    )
    tok.chat_template = qwen3_chat_template
    return tok


def causal_lm(
    tokenizer,
    *,
    hidden_size: int = 16,
    layers: int = 2,
    heads: int = 2,
    kv_heads: int = 1,
    intermediate_size: int | None = None,
    max_positions: int = 4096,
    seed: int = 0,
):
    """A randomly initialised Qwen2 causal LM over ``tokenizer``'s vocabulary (float32, CPU), with tied
    input and output embeddings; the global torch RNG is left untouched."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or 2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
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
