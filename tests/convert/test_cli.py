#!/usr/bin/python3
"""ember-convert as a user runs it: exit codes, the error format, --quiet, a real conversion.

    test_cli.py PATH/TO/ember-convert

Builds its own tiny Llama checkpoint (standard library only); also converts
$EMBER_SHARED/models/stories260K when that exists.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

EXE = sys.argv[1]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(*args):
    r = subprocess.run([EXE, *args], capture_output=True)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def write_safetensors(path, tensors):
    """tensors: name -> (shape, list of floats), stored F32."""
    header, data, offset = {}, b"", 0
    for name, (shape, values) in tensors.items():
        blob = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        data += blob
        offset += len(blob)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def tiny_llama(dir_path):
    v, h, f, heads, kv, layers = 16, 32, 40, 2, 1, 1
    hd = h // heads
    shapes = {"model.embed_tokens.weight": [v, h], "model.norm.weight": [h], "lm_head.weight": [v, h]}
    for l in range(layers):
        p = "model.layers.%d." % l
        shapes.update({p + "input_layernorm.weight": [h], p + "post_attention_layernorm.weight": [h],
                       p + "self_attn.q_proj.weight": [heads * hd, h], p + "self_attn.k_proj.weight": [kv * hd, h],
                       p + "self_attn.v_proj.weight": [kv * hd, h], p + "self_attn.o_proj.weight": [h, heads * hd],
                       p + "mlp.gate_proj.weight": [f, h], p + "mlp.up_proj.weight": [f, h],
                       p + "mlp.down_proj.weight": [h, f]})
    tensors = {}
    for i, (name, shape) in enumerate(shapes.items()):
        n = 1
        for d in shape:
            n *= d
        tensors[name] = (shape, [((i * 131 + k * 17) % 97 - 48) / 64.0 for k in range(n)])
    write_safetensors(os.path.join(dir_path, "model.safetensors"), tensors)
    config = {"architectures": ["LlamaForCausalLM"], "vocab_size": v, "hidden_size": h, "intermediate_size": f,
              "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
              "bos_token_id": 1, "eos_token_id": 2}
    with open(os.path.join(dir_path, "config.json"), "w") as fh:
        json.dump(config, fh)


with tempfile.TemporaryDirectory() as tmp:
    hf = os.path.join(tmp, "hf")
    os.makedirs(hf)
    tiny_llama(hf)
    out = os.path.join(tmp, "out.ember")

    code, stdout, stderr = run("--help")
    check(code == 0 and "--type" in stdout, "--help exits 0 and lists --type")

    code, _, stderr = run(os.path.join(tmp, "absent"), "-o", out)
    check(code == 1 and stderr.startswith("ember-convert: error: ") and "absent" in stderr,
          "missing directory: exit 1, 'ember-convert: error:' naming it")
    check(not os.path.exists(out), "missing directory: no output")

    code, _, stderr = run(hf, "-o", out, "--type", "q5")
    check(code == 1 and stderr.startswith("ember-convert: error: "), "bad --type: exit 1 with the error format")
    code, _, stderr = run(hf)
    check(code == 1 and "output" in stderr, "no -o: exit 1 naming the option")

    code, _, stderr = run(hf, "-o", out, "--type", "q4")
    check(code == 0 and os.path.exists(out), "tiny Llama converts to q4")
    check("wrote " in stderr and "tensors" in stderr, "summary line printed")
    with open(out, "rb") as fh:
        check(fh.read(8) == b"EMBERMDL", "output starts with the magic")

    code, _, stderr = run(hf, "-o", out, "--type", "f16", "--quiet")
    check(code == 0 and stderr == "", "--quiet prints nothing")
    check(sorted(os.listdir(tmp)) == ["hf", "out.ember"], "no temp files left")

    with open(os.path.join(hf, "config.json"), "w") as fh:
        fh.write('{"architectures": ["FalconForCausalLM"]}')
    code, _, stderr = run(hf, "-o", out)
    check(code == 1 and "unsupported architecture FalconForCausalLM" in stderr,
          "unsupported architecture: exit 1 naming it")

    stories = os.path.join(os.environ.get("EMBER_SHARED", ""), "models", "stories260K")
    if os.path.isdir(stories):
        code, _, stderr = run(stories, "-o", os.path.join(tmp, "stories.ember"), "--type", "q4", "--quiet")
        check(code == 0, "stories260K converts to q4")
    else:
        print("skip stories260K: not found under $EMBER_SHARED")

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
