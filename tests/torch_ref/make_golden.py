#!/usr/bin/env python3
"""Build GPT-2 in PyTorch from a gptkit checkpoint and write the golden file
that tests/test_gpt2.c compares gptkit's CPU model against.

    .venv/bin/python tests/torch_ref/make_golden.py tests/torch_ref/model.bin tests/torch_ref/golden.bin

model.bin is written by gptkit itself (build/rel/tests/test_gpt2 --write-model
tests/torch_ref/model.bin): llm.c checkpoint format, version 3.  The reference
runs in float64, so the comparison measures gptkit's fp32 error, not torch's.

golden.bin layout (little-endian):
  int32[16]  magic 20241126, B, T, V, Vp, L, NH, C, maxT, steps, 0...
  int32[B*T] inputs, int32[B*T] targets
  f32[B*T*V] logits of the first forward
  f32        mean loss of the first forward
  f32[P]     gradient of every parameter (checkpoint order and layout, P = all
             parameters including the padded wte rows, whose gradient is 0)
  f32[steps] loss before each of `steps` AdamW steps (same batch each step)
  f32[steps] gradient norm before clipping at each step
The optimiser settings are fixed below and mirrored in tests/test_gpt2.c.
"""
import math
import struct
import sys

import numpy as np
import torch

MAGIC = 20241126
B, T = 4, 16
STEPS = 10
LR, BETAS, EPS, WD, CLIP = 1e-3, (0.9, 0.95), 1e-8, 0.1, 0.72  # clips the first steps
SEED = 1234

NAMES = ["wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
         "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"]


def shapes(maxT, V, Vp, L, NH, C):
    return [(Vp, C), (maxT, C), (L, C), (L, C), (L, 3 * C, C), (L, 3 * C),
            (L, C, C), (L, C), (L, C), (L, C), (L, 4 * C, C), (L, 4 * C),
            (L, C, 4 * C), (L, C), (C,), (C,)]


def load(path):
    raw = open(path, "rb").read()
    h = struct.unpack("<256i", raw[:1024])
    assert h[0] == 20240326 and h[1] == 3, "want an llm.c fp32 checkpoint"
    maxT, V, L, NH, C, Vp = h[2:8]
    flat = np.frombuffer(raw[1024:], dtype="<f4")
    params, off = {}, 0
    for name, shp in zip(NAMES, shapes(maxT, V, Vp, L, NH, C)):
        n = int(np.prod(shp))
        params[name] = torch.tensor(flat[off:off + n].reshape(shp), dtype=torch.float64,
                                    requires_grad=True)
        off += n
    assert off == flat.size
    return (maxT, V, Vp, L, NH, C), params


def gelu(x):  # GPT-2's tanh approximation
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def forward(cfg, p, idx, targets):
    maxT, V, Vp, L, NH, C = cfg
    Bb, Tt = idx.shape
    hs = C // NH
    x = p["wte"][idx] + p["wpe"][:Tt]
    mask = torch.tril(torch.ones(Tt, Tt, dtype=torch.bool))
    for l in range(L):
        h = torch.nn.functional.layer_norm(x, (C,), p["ln1w"][l], p["ln1b"][l], 1e-5)
        qkv = h @ p["qkvw"][l].T + p["qkvb"][l]
        q, k, v = qkv.split(C, dim=2)
        q = q.view(Bb, Tt, NH, hs).transpose(1, 2)
        k = k.view(Bb, Tt, NH, hs).transpose(1, 2)
        v = v.view(Bb, Tt, NH, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(Bb, Tt, C)
        x = x + y @ p["attprojw"][l].T + p["attprojb"][l]
        h = torch.nn.functional.layer_norm(x, (C,), p["ln2w"][l], p["ln2b"][l], 1e-5)
        h = gelu(h @ p["fcw"][l].T + p["fcb"][l])
        x = x + h @ p["fcprojw"][l].T + p["fcprojb"][l]
    x = torch.nn.functional.layer_norm(x, (C,), p["lnfw"], p["lnfb"], 1e-5)
    logits = x @ p["wte"][:V].T          # padded rows never get probability
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
    return logits, loss


def main():
    model, out = sys.argv[1], sys.argv[2]
    cfg, p = load(model)
    maxT, V, Vp, L, NH, C = cfg
    rng = np.random.default_rng(SEED)
    tokens = rng.integers(0, V, size=(B, T + 1))
    idx = torch.tensor(tokens[:, :T])
    tgt = torch.tensor(tokens[:, 1:])

    logits, loss = forward(cfg, p, idx, tgt)
    loss.backward()
    grads = np.concatenate([p[n].grad.numpy().ravel() for n in NAMES]).astype("<f4")
    first_logits = logits.detach().numpy().astype("<f4")
    first_loss = float(loss.detach())

    decay = [p[n] for n in ("wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw")]
    nodecay = [p[n] for n in NAMES if n not in ("wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=EPS)
    losses, norms = [], []
    for step in range(STEPS):
        opt.zero_grad()
        _, loss = forward(cfg, p, idx, tgt)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(p.values()), CLIP)
        losses.append(float(loss.detach()))
        norms.append(float(norm))
        opt.step()

    with open(out, "wb") as f:
        hdr = [MAGIC, B, T, V, Vp, L, NH, C, maxT, STEPS] + [0] * 6
        f.write(struct.pack("<16i", *hdr))
        f.write(idx.numpy().astype("<i4").tobytes())
        f.write(tgt.numpy().astype("<i4").tobytes())
        f.write(first_logits.tobytes())
        f.write(struct.pack("<f", first_loss))
        f.write(grads.tobytes())
        f.write(np.array(losses, dtype="<f4").tobytes())
        f.write(np.array(norms, dtype="<f4").tobytes())
    print(f"loss {first_loss:.6f}; after {STEPS} steps {losses[-1]:.6f}; grad norm {norms[0]:.4f}")


if __name__ == "__main__":
    main()
