"""Continuous batching in the transformers backend's decoder (compass/models/hf_generate.py,
hf_slots.py): a row's completion never depends on the rows around it, whenever it joins."""
from __future__ import annotations

import copy
import shutil

import pytest
import torch

from compass.config import ModelConfig
from compass.models import hf_generate, hf_llama_step
from compass.models.base import Completion, GenerateRequest
from compass.models.hf import HFCausalLM
from compass.models.hf_generate import decode
from compass.models.hf_slots import SLACK, SlotCache
from compass.synthetic import gsm8k_items, write_gsm8k
from compass.tasks.infer import sent_ids

from helpers import compass, gsm8k_dataset, predictions_of, write_config


@pytest.fixture(scope="module")
def uneven(tiny_model, tmp_path_factory):
    """The tiny model with redrawn, larger weights and a stronger EOS embedding: greedy completions
    depend on the whole context and end at EOS after very different numbers of tokens (the plain
    tiny model repeats one token to the cap, which would leave nothing to refill)."""
    from transformers import AutoModelForCausalLM

    dest = tmp_path_factory.mktemp("models") / "uneven"
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() == 2 and "embed" not in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
        model.get_input_embeddings().weight[model.config.eos_token_id] *= 1.2
    model.save_pretrained(dest)
    for f in tiny_model.iterdir():
        if f.is_file() and not f.name.startswith(("model", "config")):
            shutil.copy(f, dest / f.name)
    return HFCausalLM(ModelConfig(abbr="uneven", path=str(dest), batch_size=3, max_seq_len=1024))


def _prompts(n: int) -> list[str]:
    items = gsm8k_items("test", n + 2)
    shots = "".join(f"Question: {r['question']}\nAnswer: {r['answer']}\n\n" for r in items[:2])  # a shared prefix
    return [shots + f"Question: {r['question']}\nAnswer:" for r in items[2:]]


def _before_every_pass(monkeypatch, model, before) -> None:
    """Call ``before(rows, tokens per row)`` ahead of every forward pass: prefills and decode steps
    through the model's forward, prefills and decode steps through ``hf_llama_step``."""
    real_forward, real_step, real_prefill = model.forward, hf_llama_step.decode_step, hf_llama_step.prefill

    def forward(*args, **kwargs):
        before(*kwargs["input_ids"].shape)
        return real_forward(*args, **kwargs)

    def step(model_, input_ids, *args, **kwargs):
        before(*input_ids.shape)
        return real_step(model_, input_ids, *args, **kwargs)

    def prefill(model_, suffixes, *args, **kwargs):
        before(len(suffixes), max(map(len, suffixes)))
        return real_prefill(model_, suffixes, *args, **kwargs)

    monkeypatch.setattr(model, "forward", forward)
    monkeypatch.setattr(hf_llama_step, "decode_step", step)
    monkeypatch.setattr(hf_llama_step, "prefill", prefill)


def _decode(backend, prompts: list[list[int]], max_new: int, slots: int, stop=()) -> list[Completion]:
    done: dict[int, Completion] = {}
    with torch.inference_mode():
        decode(backend.model, backend.tokenizer, prompts, max_new, stop, None, backend._eos_ids(), slots,
               done.__setitem__)
    return [done[i] for i in range(len(prompts))]


def test_rows_joining_midway_equal_each_prompt_alone(uneven, monkeypatch):
    """Ten prompts through three slots: rows end at different steps, waiting prompts join the
    running batch mid-way, holes are squeezed out of the cache, and every completion (text,
    reason, token count) equals that prompt decoded alone, which equals transformers' generate."""
    fits: list[tuple[int, int]] = []
    real_fit = SlotCache.fit

    def spy(self, needed):
        fits.append((self.region, needed))
        real_fit(self, needed)

    monkeypatch.setattr(SlotCache, "fit", spy)
    tok = uneven.tokenizer
    prompts = [tok(p)["input_ids"] for p in _prompts(10)]
    shapes: list[tuple[int, int]] = []  # (rows, tokens per row) of every forward pass
    with monkeypatch.context() as m:
        _before_every_pass(m, uneven.model, lambda rows, width: shapes.append((rows, width)))
        batched = _decode(uneven, prompts, 60, slots=3)
    lengths = [c.tokens for c in batched]
    assert len(set(lengths)) >= 5 and {c.finish_reason for c in batched} == {"eos", "length"}, lengths
    first_step = next(k for k, (_, width) in enumerate(shapes) if width == 1)
    assert max(r for r, _ in shapes) == 3 and any(width > 1 for _, width in shapes[first_step:])  # joined mid-way
    assert any(region > needed + SLACK for region, needed in fits)  # the cache was compacted at least once
    alone = [_decode(uneven, [p], 60, slots=1)[0] for p in prompts]
    assert batched == alone
    with torch.inference_mode():  # the reference: transformers' own greedy generate, one prompt at a time
        for p, c in zip(prompts, alone):
            out = uneven.model.generate(torch.tensor([p]), max_new_tokens=60, do_sample=False,
                                        pad_token_id=tok.pad_token_id)[0, len(p):].tolist()
            eos = out.index(tok.eos_token_id) if tok.eos_token_id in out else None
            assert (c.finish_reason, c.tokens) == (("eos", eos) if eos is not None else ("length", 60))
            assert c.text == tok.decode(out[:eos], skip_special_tokens=True)


def _step_logits(backend, prompts, monkeypatch, *, llama_step: bool,
                 packed: bool = False) -> tuple[list[torch.Tensor], list[Completion]]:
    """Every decode step's logits (and prefills'), with or without ``hf_llama_step``, its weight
    products as the model computes them or packed for oneDNN."""
    seen: list[torch.Tensor] = []
    real_advance, real_supports = hf_generate._Decoder._advance, hf_llama_step.supports
    real_available = hf_llama_step.PackedLinears.available
    with monkeypatch.context() as m:
        m.setattr(hf_generate._Decoder, "_advance", lambda self, rows, logits: (
            seen.append(logits.clone()), real_advance(self, rows, logits))[1])
        m.setattr(hf_llama_step, "supports", real_supports if llama_step else lambda model: False)
        m.setattr(hf_llama_step.PackedLinears, "available", staticmethod(real_available if packed else lambda model: False))
        return seen, _decode(backend, prompts, 40, slots=3)


def test_the_llama_decode_step_gives_the_models_logits_bit_for_bit(uneven, monkeypatch):
    """hf_llama_step stands in for the model's forward in decode steps (no module dispatch, no
    mask building): every step's logits equal the forward's exactly, so no completion can
    change. A variant off by one epsilon in its norms is caught."""
    prompts = [uneven.tokenizer(p)["input_ids"] for p in _prompts(7)]
    steps: list[int] = []
    real_step = hf_llama_step.decode_step
    with monkeypatch.context() as m:  # (wrapping the model's forward would hide logits_to_keep from its signature)
        m.setattr(hf_llama_step, "decode_step", lambda *args: (steps.append(1), real_step(*args))[1])
        fast, fast_completions = _step_logits(uneven, prompts, monkeypatch, llama_step=True)
    plain, plain_completions = _step_logits(uneven, prompts, monkeypatch, llama_step=False)
    assert hf_llama_step.supports(uneven.model) and len(steps) > 30  # the fast step ran
    assert len(fast) == len(plain) and all(torch.equal(a, b) for a, b in zip(fast, plain))
    assert fast_completions == plain_completions
    real_norm = hf_llama_step._rms_norm
    monkeypatch.setattr(hf_llama_step, "_rms_norm", lambda norm, hidden: real_norm(
        type("Norm", (), {"weight": norm.weight, "variance_epsilon": 2 * norm.variance_epsilon})(), hidden))
    broken, _ = _step_logits(uneven, prompts, monkeypatch, llama_step=True)
    assert not all(torch.equal(a, b) for a, b in zip(broken, plain))


def test_packed_weight_products_change_logits_by_rounding_only(uneven, monkeypatch):
    """The decode step's products through oneDNN's packed weights (the default where available):
    each product within float32 rounding of F.linear's, every step's logits too, the same
    completions. Products off by 1e-4 are caught."""
    model = uneven.model
    assert hf_llama_step.PackedLinears.available(model)
    packed = hf_llama_step.PackedLinears(model, 3)
    x = torch.randn(3, 1, model.config.hidden_size, generator=torch.Generator().manual_seed(0))
    for proj in (model.model.layers[0].self_attn.q_proj, model.model.layers[0].mlp.up_proj, model.lm_head):
        assert torch.allclose(packed(proj, x), hf_llama_step.plain_linear(proj, x), rtol=1e-5, atol=1e-5)
    biased = torch.nn.Sequential(torch.nn.Linear(model.config.hidden_size, 8))  # attention_bias / mlp_bias models
    layer = biased[0]
    assert torch.allclose(hf_llama_step.PackedLinears(biased, 3)(layer, x), hf_llama_step.plain_linear(layer, x),
                          rtol=1e-5, atol=1e-5)
    prompts = [uneven.tokenizer(p)["input_ids"] for p in _prompts(7)]
    created: list[int] = []
    real_init = hf_llama_step.PackedLinears.__init__
    with monkeypatch.context() as m:
        m.setattr(hf_llama_step.PackedLinears, "__init__", lambda self, *a: (created.append(1), real_init(self, *a))[1])
        fast, fast_completions = _step_logits(uneven, prompts, monkeypatch, llama_step=True, packed=True)
    plain, plain_completions = _step_logits(uneven, prompts, monkeypatch, llama_step=True)
    assert created and len(fast) == len(plain) and fast_completions == plain_completions
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-4) for a, b in zip(fast, plain))
    real_call = hf_llama_step.PackedLinears.__call__
    monkeypatch.setattr(hf_llama_step.PackedLinears, "__call__", lambda self, layer, x: real_call(self, layer, x) + 1e-4)
    broken, _ = _step_logits(uneven, prompts, monkeypatch, llama_step=True, packed=True)
    assert not all(torch.allclose(a, b, rtol=1e-4, atol=1e-4) for a, b in zip(broken, plain))


def test_packed_prefill_equals_the_forward_to_rounding(uneven, monkeypatch):
    """With packed weights, joiners' suffixes are prefilled packed (no padding) with the prefix read
    once: every row's own keys and values and its last logits within float32 rounding of the
    model's forward over the left-padded batch with the prefix copied per row. A causal mask
    letting each token see the next one is caught."""
    prompts = [uneven.tokenizer(p)["input_ids"] for p in _prompts(5)]

    def both():
        with torch.inference_mode():
            decoder = hf_generate._Decoder(uneven.model, uneven.tokenizer, prompts, 8, (), None, set(), 5,
                                           lambda i, c: None)
            assert isinstance(decoder.linear, hf_llama_step.PackedLinears)
            suffixes = [p[decoder.prefix:] for p in prompts]
            assert len({len(s) for s in suffixes}) > 1  # rows of different widths: padding to skip
            packed = decoder._prefill(suffixes)
            decoder.linear = hf_llama_step.plain_linear
            return suffixes, packed, decoder._prefill(suffixes)

    def close(suffixes, packed, forward) -> bool:
        (ours, our_logits), (theirs, their_logits) = packed, forward
        same = torch.allclose(our_logits, their_logits, rtol=1e-5, atol=1e-5)
        for mine, its in zip(ours.layers, theirs.layers):
            for b, n in enumerate(map(len, suffixes)):
                same &= torch.allclose(mine.keys[b, :, -n:], its.keys[b, :, -n:], rtol=1e-5, atol=1e-5)
                same &= torch.allclose(mine.values[b, :, -n:], its.values[b, :, -n:], rtol=1e-5, atol=1e-5)
        return same

    assert close(*both())
    real_attention = hf_llama_step._prefill_attention
    monkeypatch.setattr(hf_llama_step, "_prefill_attention", lambda q, k, v, mask, prefix, scale: real_attention(
        q, k, v, mask | torch.ones_like(mask).triu(1).tril(1), prefix, scale))
    assert not close(*both())


def test_weights_are_packed_only_in_float32_on_the_cpu_below_a_fixed_size(uneven, monkeypatch):
    """Packing copies the weights: a fixed size limit (not the machine's free memory, so the kernel
    and its bits are the same everywhere) and float32 only (torch already takes oneDNN for others)."""
    model = uneven.model
    assert hf_llama_step.PackedLinears.available(model)
    size = sum(m.weight.numel() * 4 for m in model.modules() if type(m) is torch.nn.Linear)
    monkeypatch.setattr(hf_llama_step, "PACK_LIMIT_BYTES", size - 1)
    assert not hf_llama_step.PackedLinears.available(model)
    monkeypatch.setattr(hf_llama_step, "PACK_LIMIT_BYTES", size)
    assert hf_llama_step.PackedLinears.available(model)
    assert not hf_llama_step.PackedLinears.available(copy.deepcopy(model).to(torch.bfloat16))


def test_the_llama_decode_step_applies_to_exactly_transformers_llama(uneven):
    """A subclass, a replaced linear layer (quantized, adapters) or a hook (accelerate's offloading)
    may compute something else, and a model in training mode runs dropout."""
    from transformers import LlamaForCausalLM

    class Tweaked(LlamaForCausalLM):
        pass

    class Adapter(torch.nn.Linear):
        pass

    model = uneven.model
    proj = model.model.layers[-1].mlp.down_proj
    changes = [(lambda: setattr(model, "__class__", Tweaked), lambda: setattr(model, "__class__", LlamaForCausalLM)),
               (lambda: setattr(proj, "__class__", Adapter), lambda: setattr(proj, "__class__", torch.nn.Linear)),
               (model.train, model.eval)]
    assert hf_llama_step.supports(model)
    for change, undo in changes:
        change()
        try:
            assert not hf_llama_step.supports(model)
        finally:
            undo()
    handle = proj.register_forward_hook(lambda *args: None)
    assert not hf_llama_step.supports(model)
    handle.remove()
    assert hf_llama_step.supports(model)


def _decode_to_cap(backend, prompts, max_new, slots, **sampling) -> tuple[list[Completion], int]:
    """Every row runs to the cap (no EOS); the completions and the number of decode steps."""
    done: dict[int, Completion] = {}
    sampler = hf_generate.SeededSampler(**sampling) if sampling else None
    with torch.inference_mode():
        decoder = hf_generate._Decoder(backend.model, backend.tokenizer, prompts, max_new, (), sampler, set(), slots,
                                       done.__setitem__)
        decoder.run()
    return [done[i] for i in range(len(prompts))], decoder.steps


def test_rows_running_to_the_cap_share_the_slots_and_end_together(uneven, monkeypatch):
    """Seven prompts that all run to a 24-token cap in three slots: without sharing, three rounds
    of 24 steps, the last for one row; the last rows sharing the slots (set aside with their cache
    columns, resumed where they stopped) take fewer steps. Every completion equals the prompt's
    alone, greedy and sampled, so a row resumed in another slot goes on exactly where it stopped."""
    monkeypatch.setattr(hf_generate, "SHARE_QUANTUM", 4)
    set_aside: list[int] = []
    real_take = SlotCache.take

    def take(self, slot, own):
        set_aside.append(own)
        return real_take(self, slot, own)

    monkeypatch.setattr(SlotCache, "take", take)
    prompts = [uneven.tokenizer(p)["input_ids"] for p in _prompts(7)]
    shared, steps = _decode_to_cap(uneven, prompts, 24, slots=3)
    assert set_aside and all(c.finish_reason == "length" and c.tokens == 24 for c in shared)
    alone = [_decode_to_cap(uneven, [p], 24, slots=1)[0][0] for p in prompts]
    assert shared == alone and len({c.text for c in shared}) == 7
    with monkeypatch.context() as m:
        m.setattr(hf_generate._Decoder, "_sharing", lambda self: False)
        unshared, rounds = _decode_to_cap(uneven, prompts, 24, slots=3)
    # A row's first token comes from its prefill: 23 decode steps a round, 7 x 23 / 3 -> 54 shared.
    assert unshared == shared and rounds == 3 * 23 and steps <= 55, (steps, rounds)
    sampling = {"seeds": list(range(7)), "temperature": 1.0, "top_p": 0.9}
    sampled, _ = _decode_to_cap(uneven, prompts, 24, slots=3, **sampling)
    assert sampled == [_decode_to_cap(uneven, [p], 24, slots=1, seeds=[k], temperature=1.0, top_p=0.9)[0][0]
                       for k, p in enumerate(prompts)]


def test_rows_ending_early_keep_their_slots(uneven, monkeypatch):
    """Rows that end at EOS after unknown numbers of tokens never share: setting the row furthest
    ahead aside could delay the longest one, which ends the call."""
    monkeypatch.setattr(hf_generate, "SHARE_QUANTUM", 2)
    monkeypatch.setattr(SlotCache, "take", lambda *a: pytest.fail("a row was set aside"))
    prompts = [uneven.tokenizer(p)["input_ids"] for p in _prompts(10)]
    completions = _decode(uneven, prompts, 60, slots=3)
    assert sum(c.finish_reason == "eos" for c in completions) >= len(prompts) // 2  # below 3 in 4 capped


def test_stop_strings_and_budgets_end_rows_exactly(uneven):
    """A stop string ends a row at the token that completes it (counted, text cut before it); the
    budget ends it after exactly max_new tokens; other rows keep going."""
    tok = uneven.tokenizer
    prompts = [tok(p)["input_ids"] for p in _prompts(6)]
    free = _decode(uneven, prompts, 40, slots=2)
    text = max(free, key=lambda c: len(c.text)).text
    stop = text[len(text) // 2:len(text) // 2 + 2]  # two characters from the middle of a long completion
    stopped = _decode(uneven, prompts, 40, slots=2, stop=(stop,))
    assert any(c.finish_reason == "stop" for c in stopped)
    for f, s in zip(free, stopped):
        if s.finish_reason == "stop":
            assert stop not in s.text and f.text.startswith(s.text) and s.tokens <= f.tokens
        else:
            assert s == f
    short = _decode(uneven, prompts, 5, slots=4)
    assert all(c.tokens == 5 and c.finish_reason == "length" for c in short if c.finish_reason != "eos")
    assert _decode(uneven, prompts[:2], 0, slots=2) == [Completion("", "length", 0)] * 2


def test_each_request_is_reported_as_it_ends(uneven, monkeypatch):
    """generate() reports each request through ``on_done`` as soon as its row ends, not when the
    call returns (the worker writes it at once, so a killed worker loses only rows in flight):
    once each, with the completions the call returns, the first well before the last step."""
    requests = [GenerateRequest(p, 40) for p in _prompts(6)]
    forwards = 0

    def counting(rows, width):
        nonlocal forwards
        forwards += 1

    _before_every_pass(monkeypatch, uneven.model, counting)
    reports: list[tuple[int, list[Completion], int]] = []
    returned = uneven.generate(requests, lambda i, completions: reports.append((i, completions, forwards)))
    assert sorted(i for i, _, _ in reports) == list(range(len(requests)))
    assert all(completions == [returned[i]] for i, completions, _ in reports)
    assert reports[0][2] < forwards / 2, (reports[0][2], forwards)  # rows ended while others ran on
    sampled = [GenerateRequest(p, 20, num_samples=3, temperature=1.0, seed=k) for k, p in enumerate(_prompts(2))]
    reports.clear()
    returned = uneven.generate(sampled, lambda i, completions: reports.append((i, completions, forwards)))
    assert sorted(i for i, _, _ in reports) == [0, 1]  # a request is reported once all its samples ended
    assert all(completions == returned[3 * i:3 * i + 3] for i, completions, _ in reports)


def test_slot_cache_keeps_each_rows_columns_through_joins_and_compaction():
    """The cache alone, two layers: after rows of different lengths are placed, grown step by
    step, squeezed and widened, each slot shows the prefix then exactly its own columns."""

    class Layer:
        def __init__(self, keys):
            self.keys = self.values = keys

    class Prefill:
        def __init__(self, keys_per_layer):
            self.layers = [Layer(k) for k in keys_per_layer]

    prefix, heads, dim = 3, 2, 4

    def columns(n, tag):  # n columns whose values say (tag, column index)
        return torch.stack([torch.full((heads, dim), tag * 1000 + c, dtype=torch.float32) for c in range(n)], 1)

    def prefill(rows):  # [rows, heads, prefix + width, dim], per layer (layer 1 = layer 0 + 0.5)
        width = max(n for _, n in rows)
        keys = torch.zeros(len(rows), heads, prefix + width, dim)
        for r, (tag, n) in enumerate(rows):
            keys[r, :, :prefix] = columns(prefix, 0)
            keys[r, :, prefix + width - n:] = columns(n, tag)
        return Prefill([keys, keys + 0.5])

    expected: dict[int, list[float]] = {}  # slot -> its own column values (layer 0)
    first = prefill([(1, 4), (2, 2)])
    cache = SlotCache(first, prefix, slots=2, capacity=8)
    cache.fit(4)
    for slot, (tag, n) in enumerate([(1, 4), (2, 2)]):
        cache.place(slot, first, slot, n)
        expected[slot] = [tag * 1000 + c for c in range(n)]

    def step(tags):
        for li, layer in enumerate(cache.layers):
            layer.update(torch.stack([torch.full((heads, 1, dim), t + li * 0.5) for t in tags]),
                         torch.stack([torch.full((heads, 1, dim), t + li * 0.5) for t in tags]))
        for slot, t in enumerate(tags):
            expected[slot].append(t)

    def check():
        used = torch.tensor([len(expected[s]) for s in range(len(expected))])
        mask = cache.mask(used)[:, :-1].bool()  # without the column the next step would write
        for li, layer in enumerate(cache.layers):
            for slot in expected:
                seen = layer.keys[slot, 0, mask[slot], 0].tolist()
                assert seen == [c + li * 0.5 for c in [0, 1, 2] + expected[slot]], (li, slot)

    for t in range(10):  # grows past the reserved capacity
        step([5000 + t, 6000 + t])
    check()
    # Slot 1's row ends; a longer prompt joins there: the region widens for it.
    joiner = prefill([(3, 60)])
    cache.fit(max(len(expected[0]), 60))
    cache.place(1, joiner, 0, 60)
    expected[1] = [3000 + c for c in range(60)]
    step([7000, 7001])
    check()
    # That row ends and a short one joins: the holes are squeezed out (region shrinks).
    before = cache.region
    short = prefill([(4, 1)])
    cache.fit(max(len(expected[0]), 1))
    cache.place(1, short, 0, 1)
    expected[1] = [4000]
    assert cache.region < before
    step([7100, 7101])
    check()
    cache.select([1])  # slot 0's row ends with nothing waiting: it leaves the batch
    expected = {0: expected[1]}
    step([7200])
    check()


def test_out_of_memory_mid_run_keeps_finished_rows(uneven, monkeypatch, caplog):
    """No GPU here: out of memory is a test double, raised at the Nth forward pass (after some rows
    finished). The finished rows stand, the rest start again with fewer rows in flight, and the
    completions equal an undisturbed run."""
    requests = [GenerateRequest(p, 30) for p in _prompts(7)]
    backend = HFCausalLM(ModelConfig(abbr="u", path=uneven.cfg.path, batch_size=4, max_seq_len=1024))
    expected = backend.generate(requests)
    shapes: list[tuple[int, int]] = []
    failed_at: list[int] = []

    def failing(rows: int, width: int) -> None:
        shapes.append((rows, width))
        if not failed_at and len(shapes) > 20 and rows > 2:  # once, mid-run, 3 or 4 rows in flight
            failed_at.append(len(shapes))
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    _before_every_pass(monkeypatch, backend.model, failing)
    assert backend.generate(requests) == expected
    assert failed_at and backend.generate_cap == 2 and "ran out of device memory" in caplog.text
    after = shapes[failed_at[0]:]
    assert max(r for r, _ in after) <= 2
    assert sum(r for r, width in after if width > 1) < len(requests)  # rows finished before it were not redone


@pytest.mark.slow
def test_the_inference_worker_hands_the_backend_many_batches_at_once(uneven, tmp_path):
    """A finished row is refilled only from prompts the same generate() call holds: the worker
    sends a generation dataset's prompts in chunks of ``generate_chunk`` (16 batches), not one
    batch at a time, so rows of uneven length keep every slot busy across batch boundaries. The
    completions are those of each prompt decoded alone."""
    gsm = write_gsm8k(tmp_path / "gsm8k", n_train=2, n_test=10)
    dataset = gsm8k_dataset(gsm, max_out_len=60)
    dataset["infer_cfg"]["inferencer"]["stop"] = []
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="u", path=uneven.cfg.path, batch_size=2, max_out_len=60,
                                                  max_seq_len=1024)], [dataset])
    proc = compass("run", str(cfg), "-w", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run,) = (tmp_path / "out" / "cfg").iterdir()
    calls = [line for line in (run / "logs" / "infer" / "u.events.jsonl").read_text().splitlines() if line.strip()]
    assert len(calls) == 1 and len(sent_ids(run / "logs" / "infer" / "u.events.jsonl")) == 10
    rows = predictions_of(run, "u", "gsm8k-mini")
    assert len({r.completion_tokens for r in rows}) >= 3, [(r.finish_reason, r.completion_tokens) for r in rows]
    tok = uneven.tokenizer
    alone = {r.id: _decode(uneven, [tok(r.prompt)["input_ids"]], 60, slots=1)[0] for r in rows}
    assert all((r.prediction, r.finish_reason, r.completion_tokens) == (c.text, c.finish_reason, c.tokens)
               for r in rows for c in [alone[r.id]])
