"""Tiny randomly initialised models of the paper's architectures, with offline tokenizers.

Each builder saves a model and its fast tokenizer to a folder with ``save_pretrained``, so tests
load it through the same path as a real model (``load_model(folder)``). The tokenizers have
character-level vocabularies, so most words split into several subwords and word aggregation is
exercised for real.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import torch

CHARS = string.ascii_letters + string.digits + string.punctuation
LAYERS, HIDDEN, HEADS = 2, 16, 2


def assert_same_activations(a: np.ndarray, b: np.ndarray) -> None:
    """Stored (float16) activations of one extraction computed two ways (other batches, other
    workers): equal up to one float16 unit in the last place. The float32 forward pass is not
    bit-reproducible across batch shapes and thread counts (kernels block by shape and split
    work by thread), and a difference in float32's last bits flips float16 rounding now and
    then; anything larger than one unit is a real difference (a wrong word, layer or padding).
    """
    assert a.shape == b.shape and a.dtype == b.dtype == np.float16
    np.testing.assert_array_max_ulp(a, b, maxulp=1)


def _bert_tokenizer(cls):
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = ["the", "cat", "sat", "on", "mat", "a", "dog"]
    vocab = specials + words + list(CHARS) + [f"##{c}" for c in CHARS]
    return cls(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=False)


def _byte_level_vocab(specials: list[str]) -> dict[str, int]:
    from tokenizers.pre_tokenizers import ByteLevel

    chars = sorted(ByteLevel.alphabet())
    return {t: i for i, t in enumerate(specials + chars)}


def build_bert(folder: Path) -> Path:
    from transformers import BertConfig, BertModel, BertTokenizer

    tok = _bert_tokenizer(BertTokenizer)
    cfg = BertConfig(
        vocab_size=len(tok),
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=32,
        max_position_embeddings=128,
    )
    return _save(folder, BertModel(cfg), tok)


def build_roberta(folder: Path) -> Path:
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizer

    tok = RobertaTokenizer(
        vocab=_byte_level_vocab(["<s>", "<pad>", "</s>", "<unk>", "<mask>"]), merges=[]
    )
    cfg = RobertaConfig(
        vocab_size=len(tok),
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=32,
        max_position_embeddings=130,
        pad_token_id=tok.pad_token_id,
    )
    return _save(folder, RobertaModel(cfg), tok)


def build_gpt2(folder: Path) -> Path:
    from transformers import GPT2Config, GPT2Model, GPT2Tokenizer

    tok = GPT2Tokenizer(vocab=_byte_level_vocab(["<|endoftext|>"]), merges=[])
    cfg = GPT2Config(
        vocab_size=len(tok),
        n_embd=HIDDEN,
        n_layer=LAYERS,
        n_head=HEADS,
        n_positions=128,
        bos_token_id=0,
        eos_token_id=0,
    )
    return _save(folder, GPT2Model(cfg), tok)


def build_llama(folder: Path) -> Path:
    from transformers import LlamaConfig, LlamaModel, LlamaTokenizer

    pieces = ["<unk>", "<s>", "</s>", "▁", *CHARS, *(f"<0x{b:02X}>" for b in range(256))]
    tok = LlamaTokenizer(vocab={t: i for i, t in enumerate(pieces)}, merges=[])
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=1,
        intermediate_size=32,
        max_position_embeddings=128,
    )
    return _save(folder, LlamaModel(cfg), tok)


def build_xlnet(folder: Path) -> Path:
    from transformers import XLNetConfig, XLNetModel, XLNetTokenizer

    specials = ["<unk>", "<s>", "</s>", "<cls>", "<sep>", "<pad>", "<mask>", "<eod>", "<eop>"]
    vocab = [(t, 0.0) for t in specials] + [("▁", -2.0)] + [(c, -3.0) for c in CHARS]
    vocab += [("▁" + w, -1.0) for w in ("the", "cat", "sat", "on")]
    tok = XLNetTokenizer(vocab=vocab)
    cfg = XLNetConfig(
        vocab_size=len(tok),
        d_model=HIDDEN,
        n_layer=LAYERS,
        n_head=HEADS,
        d_inner=32,
        mem_len=None,
    )
    return _save(folder, XLNetModel(cfg), tok)


def build_t5(folder: Path) -> Path:
    """An encoder-decoder, which extraction must refuse clearly."""
    from transformers import T5Config, T5Model

    cfg = T5Config(vocab_size=64, d_model=HIDDEN, d_kv=8, d_ff=32, num_layers=1, num_heads=2)
    folder.mkdir(parents=True, exist_ok=True)
    T5Model(cfg).save_pretrained(folder)
    return folder


def _save(folder: Path, model: torch.nn.Module, tokenizer) -> Path:
    torch.manual_seed(0)
    for p in model.parameters():  # re-initialise deterministically, with visible scale
        torch.nn.init.normal_(p, std=0.5)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


BUILDERS = {
    "bert": build_bert,
    "roberta": build_roberta,
    "gpt2": build_gpt2,
    "llama": build_llama,
    "xlnet": build_xlnet,
}
