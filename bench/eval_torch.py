# bench/eval.sh's peer: transformers' GPT2LMHeadModel scoring the same
# windows as gpt-eval (inputs tokens[wT : wT+T], targets one further), fp32.
#   python eval_torch.py HF_DIR STREAM THREADS T  ->  "tokens/s mean_loss"
import struct, sys, time
import torch
import torch.nn.functional as F
from transformers import GPT2LMHeadModel

torch.set_num_threads(int(sys.argv[3]))
T = int(sys.argv[4])
m = GPT2LMHeadModel.from_pretrained(sys.argv[1], torch_dtype=torch.float32).eval()
b = open(sys.argv[2], "rb").read()
n = struct.unpack_from("<i", b, 8)[0]
toks = torch.tensor(struct.unpack_from("<%dH" % n, b, 1024), dtype=torch.long)
W = (n - 1) // T
with torch.inference_mode():
    t0 = time.perf_counter()
    total = 0.0
    for w in range(W):
        x = toks[w * T:(w + 1) * T][None]
        y = toks[w * T + 1:(w + 1) * T + 1]
        total += F.cross_entropy(m(x).logits[0], y, reduction="sum").item()
    dt = time.perf_counter() - t0
print(f"{W * T / dt:.1f} {total / (W * T):.7f}")
