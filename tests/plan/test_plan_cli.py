#!/usr/bin/python3
"""`ember plan` and the memory check of `ember run` / `ember bench`, as a user meets them.

Builds a tiny Llama checkpoint (tests/plan/tiny_config.json shapes, standard library only),
converts it to q4, then checks:
  1. plan HF_DIR lists all five weight types with the exact f32 weight bytes; --json agrees.
  2. plan MODEL.ember --mem 1M: the table says it does not fit, exit status 2 (1 = error).
  3. plan MODEL.ember --mem 1G: fits (exit 0), largest ctx = max_position_embeddings.
  4. run --mem 1M refuses before loading, naming needed vs available; --mem 1G runs;
     --no-mem-check skips the check; a budget between two contexts names the largest ctx.
  5. bench MODEL.ember --mem 1M and bench --synthetic --mem 1M refuse.
  6. --kv-mem: plan's KV is the given bytes in whole blocks; too small for --ctx is an error;
     run refuses a budget a byte below the plan with --kv-mem and runs at exactly it.
  7. bench --parallel: a budget above the single-sequence need but below --parallel 256's is
     refused (exit 1, naming the largest P that fits); that P and -n alone run.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
EMBER = os.environ["EMBER_BIN"]
CONVERT = os.environ["EMBER_CONVERT_BIN"]
failures: list[str] = []


def check(ok: bool, msg: str) -> None:
    print(("PASS " if ok else "FAIL ") + msg, flush=True)
    if not ok:
        failures.append(msg)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120)


def ember(*args: str) -> subprocess.CompletedProcess:
    return run(EMBER, *args)


def tiny_checkpoint(dir_path: str) -> int:
    """Writes config.json + model.safetensors (F32); returns the parameter count."""
    with open(os.path.join(HERE, "tiny_config.json")) as fh:
        cfg = json.load(fh)
    v, h, f = cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"]
    heads, kv, layers = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["num_hidden_layers"]
    hd = h // heads
    shapes = {"model.embed_tokens.weight": [v, h], "model.norm.weight": [h], "lm_head.weight": [v, h]}
    for l in range(layers):
        p = f"model.layers.{l}."
        shapes.update({p + "input_layernorm.weight": [h], p + "post_attention_layernorm.weight": [h],
                       p + "self_attn.q_proj.weight": [heads * hd, h], p + "self_attn.k_proj.weight": [kv * hd, h],
                       p + "self_attn.v_proj.weight": [kv * hd, h], p + "self_attn.o_proj.weight": [h, heads * hd],
                       p + "mlp.gate_proj.weight": [f, h], p + "mlp.up_proj.weight": [f, h],
                       p + "mlp.down_proj.weight": [h, f]})
    header, data, params = {}, b"", 0
    for i, (name, shape) in enumerate(shapes.items()):
        n = 1
        for d in shape:
            n *= d
        params += n
        blob = struct.pack(f"<{n}f", *[((i * 131 + k * 17) % 97 - 48) / 256.0 for k in range(n)])
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(header).encode()
    with open(os.path.join(dir_path, "model.safetensors"), "wb") as fh:
        fh.write(struct.pack("<Q", len(text)) + text + data)
    with open(os.path.join(dir_path, "config.json"), "w") as fh:
        json.dump(cfg, fh)
    return params


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        hf = os.path.join(tmp, "hf")
        os.makedirs(hf)
        params = tiny_checkpoint(hf)
        model = os.path.join(tmp, "tiny-q4.ember")
        p = run(CONVERT, hf, "-o", model, "--type", "q4", "--quiet")
        check(p.returncode == 0, f"tiny checkpoint converts to q4 ({p.stderr.strip()})")

        # 1. HF directory: five types.
        p = ember("plan", hf, "--mem", "1G", "--ctx", "64")
        check(p.returncode == 0, f"plan HF_DIR exits 0 ({p.stderr.strip()})")
        for t in ["| f32 |", "| f16 |", "| bf16 |", "| q8 |", "| q4 (embed q8) |"]:
            check(t in p.stdout, f"plan HF_DIR lists {t}")
        j = json.loads(ember("plan", hf, "--mem", "1G", "--ctx", "64", "--json").stdout)
        types = {t["type"]: t for t in j["types"]}
        check(types["f32"]["weights_bytes"] == params * 4, f"f32 weights = {params} params x 4 B")
        check(types["q4 (embed q8)"]["weights_bytes"] == 18816, "q4 weights = 18816 B (hand-computed)")
        check(j["kv_type"] == "f16" and j["kv_bytes_per_token"] == 2 * 2 * 2 * 8 * 2, "KV f16 per token")
        for t in j["types"]:
            parts = t["weights_bytes"] + t["kv_cache_bytes"] + t["scratch_bytes"] + t["runtime_bytes"]
            check(t["total_bytes"] == parts and t["fits"] is True, f"{t['type']}: total = sum of parts, fits")

        p = ember("plan", os.path.join(HERE, "tiny_config.json"), "--mem", "1G", "--type", "q4", "--json")
        check(p.returncode == 0 and json.loads(p.stdout)["types"][0]["weights_bytes"] == 18816,
              "plan CONFIG.json --type q4: one row, same bytes")

        # 2. --mem 1M: does not fit, exit 2.
        p = ember("plan", model, "--mem", "1M")
        check(p.returncode == 2, f"plan --mem 1M exits 2 (got {p.returncode})")
        check("| no |" in p.stdout and "does not fit" in p.stderr, "the table says no; stderr says it does not fit")
        check("1.00 MiB (--mem 1M)" in p.stdout, "the budget and its source are printed")

        # 3. --mem 1G: fits; the largest ctx is the model's maximum.
        p = ember("plan", model, "--mem", "1G", "--json")
        j = json.loads(p.stdout)
        check(p.returncode == 0 and j["types"][0]["fits"] is True, "plan --mem 1G fits, exit 0")
        check(j["types"][0]["largest_ctx"] == 128, "largest ctx capped at max_position_embeddings (128)")
        check(j["types"][0]["type"] == "q4 (file)", "a .ember file is planned at its own type")
        p = ember("plan", model, "--type", "q8")
        check(p.returncode == 1 and "ember: error: --type applies to a Hugging Face directory" in p.stderr,
              "plan FILE --type is an error (exit 1)")
        p = ember("plan", model, "--ctx", "1000")
        check(p.returncode == 1 and "exceeds the model's maximum" in p.stderr, "plan --ctx over the maximum: error")

        # 4. run refuses before loading / runs with enough memory.
        toks = ["--tokens", "1,5,9", "-n", "2", "--temp", "0", "--print-ids"]
        p = ember("run", model, *toks, "--mem", "1M")
        check(p.returncode == 1 and "ember: error: " in p.stderr and "needs " in p.stderr
              and "only 1.00 MiB is available (--mem 1M)" in p.stderr, f"run --mem 1M refuses: {p.stderr.strip()}")
        p = ember("run", model, *toks, "--mem", "1G")
        check(p.returncode == 0 and len(p.stdout.strip().split(",")) == 2, "run --mem 1G generates 2 tokens")
        p = ember("run", model, *toks, "--mem", "1M", "--no-mem-check")
        check(p.returncode == 0, "run --no-mem-check skips the check")
        # A budget that holds ctx 64 but not 128: the message names a ctx in [64, 128).
        plan64 = json.loads(ember("plan", model, "--ctx", "64", "--kv-type", "f32", "--json", "-t", "1").stdout)
        budget = str(plan64["types"][0]["total_bytes"])
        p = ember("run", model, *toks, "--ctx", "128", "-t", "1", "--mem", budget)
        largest = None
        if "the largest context that fits is --ctx " in p.stderr:
            largest = int(p.stderr.split("the largest context that fits is --ctx ")[1].split(";")[0].split()[0])
        check(p.returncode == 1 and largest is not None and 64 <= largest < 128,
              f"run --ctx 128 over budget names the largest ctx ({largest})")
        p = ember("run", model, *toks, "--ctx", "64", "-t", "1", "--mem", budget)
        check(p.returncode == 0, "run --ctx 64 within the same budget runs")

        # 5. bench.
        p = ember("bench", model, "--mem", "1M", "-p", "4", "-n", "0", "-r", "1")
        check(p.returncode == 1 and "is available (--mem 1M)" in p.stderr, "bench FILE --mem 1M refuses")
        p = ember("bench", "--synthetic", os.path.join(HERE, "tiny_config.json"), "--mem", "1M")
        check(p.returncode == 1 and "is available (--mem 1M)" in p.stderr, "bench --synthetic --mem 1M refuses")

        # 6. --kv-mem: the planned KV pool is the bytes given, in whole 16-position blocks
        #    (f16: 16 x 128 B = 2048 B per block); run and bench check it before loading.
        j = json.loads(ember("plan", model, "--kv-mem", "10000", "--ctx", "64", "--json").stdout)
        check(j["kv_mem_bytes"] == 10000 and j["types"][0]["kv_cache_bytes"] == 4 * 2048,
              f"plan --kv-mem 10000: KV {j['types'][0]['kv_cache_bytes']} B = 4 whole blocks")
        check(j["types"][0]["largest_ctx"] == 64, "plan --kv-mem: the largest ctx is what the pool holds (64)")
        p = ember("plan", model, "--kv-mem", "4000", "--ctx", "64")
        check(p.returncode == 1 and "fewer than the context of 64" in p.stderr,
              f"plan --kv-mem too small for --ctx: error ({p.stderr.strip()})")
        p = ember("run", model, *toks, "--ctx", "64", "--kv-mem", "4000", "--mem", "1G")
        check(p.returncode == 1 and "fewer than the context of 64" in p.stderr, "run --kv-mem too small: refused")
        plan_big_kv = json.loads(ember("plan", model, "--ctx", "64", "--kv-mem", "64M", "-t", "1", "--json").stdout)
        budget = str(plan_big_kv["types"][0]["total_bytes"] - 1)
        p = ember("run", model, *toks, "--ctx", "64", "-t", "1", "--kv-mem", "64M", "--mem", budget)
        check(p.returncode == 1 and "--kv-mem 67108864" in p.stderr and "--kv-mem " in p.stderr.split("needs")[1],
              f"run --kv-mem 64M refused a byte below its plan, names a --kv-mem that fits: {p.stderr.strip()}")
        p = ember("run", model, *toks, "--ctx", "64", "-t", "1", "--kv-mem", "64M", "--mem", str(int(budget) + 1))
        check(p.returncode == 0, "run --kv-mem 64M at exactly its plan runs")

        # 7. bench --parallel: its second KV pool and graph count. A budget 1 MiB above the
        #    single-sequence plan runs -n 100 alone but refuses --parallel 256 (256 x 116
        #    positions = 4 MiB of f16 KV) naming the largest P that fits.
        single = json.loads(ember("plan", model, "--ctx", "128", "-t", "1", "--json").stdout)["types"][0]["total_bytes"]
        budget = str(single + (1 << 20))
        bench_args = ["bench", model, "--ctx", "128", "-t", "1", "-p", "0", "-n", "100", "-r", "1", "--no-warmup",
                      "--ttft", "0", "-q", "--mem", budget]
        p = ember(*bench_args)
        check(p.returncode == 0 and "tg100" in p.stdout, f"bench -n 100 alone fits {budget} B ({p.stderr.strip()})")
        p = ember(*bench_args, "--parallel", "1,256")
        largest = None
        if "the largest --parallel that fits is " in p.stderr:
            largest = int(p.stderr.split("the largest --parallel that fits is ")[1].split()[0])
        check(p.returncode == 1 and "--parallel 256 KV cache 4.00 MiB" in p.stderr and largest is not None
              and 1 <= largest < 256, f"bench --parallel 1,256 refused, names P {largest}: {p.stderr.strip()}")
        p = ember(*bench_args, "--parallel", str(largest or 1), "--json")
        check(p.returncode == 0 and any(t["n_parallel"] == largest for t in json.loads(p.stdout)),
              f"bench --parallel {largest} (the P it named) runs in the same budget")

    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)


if __name__ == "__main__":
    main()
