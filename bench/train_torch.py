#!/usr/bin/env python3
"""PyTorch's figure for bench/train.sh: the same GPT-2 training step as
gpt-train (fp32, tied head, tanh GELU, AdamW with decay on matrices, clip 1.0)
on the CPU with a fixed thread count; prints one line per step:
(step wall-ms loss cpu-ms) and at the end `peak_rss_mb N`.
    python3 bench/train_torch.py TOKENS.tok L H C B T STEPS THREADS"""
import math
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def main():
    path, L, H, C, B, T, steps, threads = sys.argv[1], *map(int, sys.argv[2:9])
    torch.set_num_threads(threads)
    torch.manual_seed(1337)
    raw = open(path, "rb").read()
    hdr = struct.unpack("<256i", raw[:1024])
    dtype = "<u2" if hdr[0] == 20240520 else "<u4"
    tok = np.frombuffer(raw[1024:], dtype=dtype).astype(np.int64)
    V = hdr[3] or 50257
    Vp = (V + 127) // 128 * 128
    maxT = 1024

    def p(*shape, std=0.02):
        return torch.nn.Parameter(torch.randn(*shape) * std)
    P = {
        "wte": p(Vp, C), "wpe": p(maxT, C),
        "ln1w": torch.nn.Parameter(torch.ones(L, C)), "ln1b": torch.nn.Parameter(torch.zeros(L, C)),
        "qkvw": p(L, 3 * C, C), "qkvb": torch.nn.Parameter(torch.zeros(L, 3 * C)),
        "attprojw": p(L, C, C, std=0.02 / math.sqrt(2 * L)), "attprojb": torch.nn.Parameter(torch.zeros(L, C)),
        "ln2w": torch.nn.Parameter(torch.ones(L, C)), "ln2b": torch.nn.Parameter(torch.zeros(L, C)),
        "fcw": p(L, 4 * C, C), "fcb": torch.nn.Parameter(torch.zeros(L, 4 * C)),
        "fcprojw": p(L, C, 4 * C, std=0.02 / math.sqrt(2 * L)), "fcprojb": torch.nn.Parameter(torch.zeros(L, C)),
        "lnfw": torch.nn.Parameter(torch.ones(C)), "lnfb": torch.nn.Parameter(torch.zeros(C)),
    }

    def forward(idx, tgt):
        x = P["wte"][idx] + P["wpe"][:T]
        for l in range(L):
            h = F.layer_norm(x, (C,), P["ln1w"][l], P["ln1b"][l])
            q, k, v = F.linear(h, P["qkvw"][l], P["qkvb"][l]).split(C, dim=2)
            q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + F.linear(y.transpose(1, 2).reshape(B, T, C), P["attprojw"][l], P["attprojb"][l])
            h = F.layer_norm(x, (C,), P["ln2w"][l], P["ln2b"][l])
            h = F.gelu(F.linear(h, P["fcw"][l], P["fcb"][l]), approximate="tanh")
            x = x + F.linear(h, P["fcprojw"][l], P["fcprojb"][l])
        x = F.layer_norm(x, (C,), P["lnfw"], P["lnfb"])
        logits = F.linear(x, P["wte"][:V])
        return F.cross_entropy(logits.view(-1, V), tgt.view(-1))

    decay = [P[n] for n in ("wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw")]
    rest = [P[n] for n in P if n not in ("wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=3e-4, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    pos = 0
    for step in range(steps):
        if pos + B * T + 1 > len(tok):
            pos = 0
        buf = torch.from_numpy(tok[pos:pos + B * T + 1].copy())
        pos += B * T
        idx, tgt = buf[:-1].view(B, T), buf[1:].view(B, T)
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = forward(idx, tgt)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(P.values()), 1.0)
        opt.step()
        ms = (time.perf_counter() - t0) * 1000
        cpu_ms = (time.process_time() - c0) * 1000
        print(f"{step + 1} {ms:.1f} {loss.item():.4f} {cpu_ms:.1f}", flush=True)
    print(f"peak_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


if __name__ == "__main__":
    main()
