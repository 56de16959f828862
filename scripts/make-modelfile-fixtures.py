#!/usr/bin/env python3
"""Fixtures for Tests/ModelFileTests: files written by the reference packages (torch.save, safetensors,
numpy), and their expected values in JSON that the tests read with Foundation alone.

Expected values are exact: float tensors as Float32 bit patterns (after the conversion the reader must do:
float16/bfloat16 widen exactly, float64 rounds to nearest as torch's .float() does), integers as integers.

Usage: python3 scripts/make-modelfile-fixtures.py   (torch, numpy, safetensors; seeded; < 200 KB in all)
"""
import collections
import json
import os
import struct
import sys
import warnings

import numpy as np
import torch
import safetensors
import safetensors.torch

warnings.filterwarnings("ignore", category=FutureWarning)  # torch.nn.utils.weight_norm is deprecated
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "modelfile")
torch.manual_seed(1234)
rng = np.random.default_rng(1234)


def expected_entry(t):
    """JSON for one tensor: shape and exact values (float bits as uint32, or integers)."""
    if isinstance(t, torch.Tensor):
        if t.dtype.is_floating_point:
            a = t.detach().to(torch.float32).contiguous().numpy()
        else:
            a = t.detach().to(torch.int64).contiguous().numpy()
    else:
        a = np.array(t, order="C")  # keeps 0-d arrays 0-d (ascontiguousarray would not)
        a = a.astype(np.float32) if a.dtype.kind == "f" else a.astype(np.int64)
    if a.dtype == np.float32:
        return {"shape": list(a.shape), "kind": "float", "bits": a.reshape(-1).view(np.uint32).tolist()}
    return {"shape": list(a.shape), "kind": "int", "values": a.reshape(-1).tolist()}


def write_json(name, obj):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, separators=(",", ":"), sort_keys=True)


def weight_normed(module, name):
    """A real torch.nn.utils.weight_norm module with random g; returns (state dict entries, folded weight)."""
    module = torch.nn.utils.weight_norm(module)            # weight_g, weight_v (EnCodec's layout)
    with torch.no_grad():
        module.weight_g.copy_(torch.rand_like(module.weight_g) * 2 + 0.1)
        module.weight_v.mul_(3.0)
    x = torch.randn(1, module.in_channels, 16)
    module(x)                                               # the forward pre-hook recomputes .weight
    sd = {f"{name}.{k}": v for k, v in module.state_dict().items()}
    return sd, module.weight.detach().clone()


def make_state_dict():
    sd = collections.OrderedDict()
    expected = {}
    sd["f32"] = torch.randn(3, 4)
    sd["f16"] = torch.randn(2, 5).half()
    sd["bf16"] = torch.randn(6).bfloat16()
    sd["f64"] = torch.randn(3, 2).double() * 1e3
    sd["i64"] = torch.randint(-2**40, 2**40, (2, 3), dtype=torch.int64)
    sd["i32"] = torch.randint(-2**31, 2**31 - 1, (4,), dtype=torch.int32)
    sd["i16"] = torch.randint(-2**15, 2**15 - 1, (5,), dtype=torch.int16)
    sd["u8"] = torch.randint(0, 255, (3,), dtype=torch.uint8)
    sd["mask"] = torch.tensor([True, False, True])
    sd["transposed"] = torch.randn(4, 3).t()                # non-contiguous: strides (1, 3)
    sd["sliced"] = torch.randn(5, 6)[1:4, ::2]              # storage offset 6, strides (6, 2)
    base = torch.randn(12)
    sd["shared_a"] = base[2:7]                              # one storage, two views
    sd["shared_b"] = base.view(3, 4)
    sd["expanded"] = torch.randn(3, 1).expand(3, 4)        # stride 0: 3 stored values, 12 elements
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["steps"] = 12345                                     # a non-tensor entry
    folded = {}
    for name, module in [("small.conv", torch.nn.Conv1d(1, 4, 7)),         # rows of 7 (< 8 lanes)
                         ("eight.conv", torch.nn.Conv1d(2, 3, 4)),         # rows of 8
                         ("conv.conv", torch.nn.Conv1d(3, 5, 4)),          # rows of 12 (a partial vector)
                         ("wide.conv", torch.nn.Conv1d(13, 4, 7)),         # rows of 91
                         ("convtr.convtr", torch.nn.ConvTranspose1d(5, 3, 6))]:  # [Cin, Cout, K]: per input channel
        entries, w = weight_normed(module, name)
        sd.update(entries)
        folded[f"{name}.weight"] = w
    # The parametrization API (Hugging Face models): original0 = g, original1 = v.
    hf = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv1d(4, 2, 3))
    with torch.no_grad():
        hf.parametrizations.weight.original0.copy_(torch.rand(2, 1, 1) + 0.5)
    sd.update({f"hf.conv.{k}": v for k, v in hf.state_dict().items()})
    folded["hf.conv.weight"] = hf.weight.detach().clone()

    torch.save(sd, os.path.join(OUT, "state_dict.th"))
    for k, v in sd.items():
        if isinstance(v, torch.Tensor):
            expected[k] = expected_entry(v)
    write_json("state_dict_expected.json", {
        "tensors": expected,
        "folded": {k: expected_entry(v) for k, v in folded.items()},
        "scalars": {"steps": 12345},
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
    })
    return sd


def make_other_checkpoints(sd):
    small = collections.OrderedDict([("a", torch.randn(2, 3)), ("b", torch.arange(5)), ("c", torch.randn(3, 2).t())])
    # Protocol 4: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL.
    torch.save(small, os.path.join(OUT, "protocol4.th"), pickle_protocol=4)
    # A training checkpoint: the state dict sits under "state_dict", beside other values; a Parameter.
    nested = {
        "epoch": 7, "lr": 0.001, "name": "encodec", "flag": True, "nothing": None, "history": [1, 2, 3],
        "state_dict": collections.OrderedDict([
            ("w", torch.nn.Parameter(torch.randn(2, 2))),
            ("block", {"bias": torch.randn(3), "count": 4}),
        ]),
        "optimizer": {"step": 10},
    }
    torch.save(nested, os.path.join(OUT, "nested.pt"))
    write_json("other_expected.json", {
        "protocol4": {k: expected_entry(v) for k, v in small.items()},
        "nested": {"w": expected_entry(nested["state_dict"]["w"]),
                   "block.bias": expected_entry(nested["state_dict"]["block"]["bias"])},
    })
    # Bad inputs, as torch.save really writes them.
    torch.save({"w": torch.randn(2), "tags": {1, 2}}, os.path.join(OUT, "bad_opcode.th"), pickle_protocol=4)  # EMPTY_SET
    torch.save({"w": torch.randn(2), "device": torch.device("cpu")}, os.path.join(OUT, "bad_global.th"))     # torch.device
    torch.save({"w": torch.randn(2)}, os.path.join(OUT, "legacy.th"), _use_new_zipfile_serialization=False)


def make_safetensors():
    t = {
        "f32": torch.randn(2, 3),
        "f16": torch.randn(4).half(),
        "bf16": torch.randn(3, 1).bfloat16(),
        "f64": torch.randn(2, 2).double(),
        "i64": torch.randint(-2**50, 2**50, (3,), dtype=torch.int64),
        "i32": torch.randint(-2**31, 2**31 - 1, (2, 2), dtype=torch.int32),
        "i16": torch.randint(-2**15, 2**15 - 1, (3,), dtype=torch.int16),
        "i8": torch.randint(-128, 127, (4,), dtype=torch.int8),
        "u8": torch.randint(0, 255, (2, 3), dtype=torch.uint8),
        "scalar": torch.tensor(-1.25),
        "empty": torch.zeros(0),
    }
    meta = {"format_version": "1", "note": "made by safetensors " + safetensors.__version__}
    safetensors.torch.save_file(t, os.path.join(OUT, "reference.safetensors"), metadata=meta)
    write_json("reference_expected.json", {"tensors": {k: expected_entry(v) for k, v in t.items()}, "metadata": meta})


def make_npy():
    files = {}
    a34 = rng.standard_normal((3, 4))
    files["f32_le"] = a34.astype("<f4")
    files["f32_be"] = a34.astype(">f4")
    files["f64_le"] = a34.astype("<f8")
    files["f64_be"] = a34.astype(">f8")
    files["f16_le"] = a34.astype("<f2")
    files["f16_be"] = a34.astype(">f2")
    ints = rng.integers(-100, 100, (2, 5))
    files["i8"] = ints.astype("i1")
    files["u8"] = (ints + 100).astype("u1")
    files["i16_le"] = (ints * 300).astype("<i2")
    files["i16_be"] = (ints * 300).astype(">i2")
    files["u16_be"] = (ints * 300 + 30000).astype(">u2")
    files["i32_le"] = (ints * 10**7).astype("<i4")
    files["i32_be"] = (ints * 10**7).astype(">i4")
    files["i64_le"] = (ints * 10**15).astype("<i8")
    files["i64_be"] = (ints * 10**15).astype(">i8")
    files["f32_fortran"] = np.asfortranarray(rng.standard_normal((3, 4, 2)).astype("<f4"))
    files["i32_fortran"] = np.asfortranarray((ints * 7).astype(">i4"))
    files["scalar"] = np.array(2.5, dtype="<f4")
    files["vector"] = rng.standard_normal(7).astype("<f4")
    files["codes_i64_big"] = np.array([[1, 2], [3, 2**40]], dtype="<i8")   # reads fine; int32 conversion refuses
    for name, a in files.items():
        np.save(os.path.join(OUT, f"{name}.npy"), a)
    for version in [(2, 0), (3, 0)]:
        name = f"f32_v{version[0]}"
        files[name] = a34.astype("<f4")
        with open(os.path.join(OUT, f"{name}.npy"), "wb") as f:
            np.lib.format.write_array(f, files[name], version=version)
    write_json("npy_expected.json", {name: expected_entry(a) for name, a in files.items()})
    # Arrays we refuse.
    np.save(os.path.join(OUT, "bad_complex.npy"), np.array([1 + 2j, 3j], dtype="<c8"))
    np.save(os.path.join(OUT, "bad_object.npy"), np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(os.path.join(OUT, "bad_strings.npy"), np.array(["ab", "cde"]))
    np.save(os.path.join(OUT, "bad_u64.npy"), np.array([1, 2], dtype="<u8"))
    np.save(os.path.join(OUT, "bad_f64_overflow.npy"), np.array([1.0, 1e300], dtype="<f8"))


def main():
    os.makedirs(OUT, exist_ok=True)
    sd = make_state_dict()
    make_other_checkpoints(sd)
    make_safetensors()
    make_npy()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {os.path.normpath(OUT)}")
    if total > 200_000:
        sys.exit("fixtures exceed 200 KB")


if __name__ == "__main__":
    main()
