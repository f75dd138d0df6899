#!/usr/bin/env python3
"""Writes the tiny ONNX models and golden cases the engine/ort tests use.

Run from anywhere (deterministic, fixed seed):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install -r requirements-testdata.txt
    /tmp/venv/bin/python gen.py

Expected outputs are computed with numpy, independently of ONNX Runtime;
the script then runs every case through onnxruntime as a sanity check and
stops if the runtime disagrees, so a committed golden is never one that the
runtime itself cannot reproduce.

cases.json lists, per case, the model file, the inputs and the expected
outputs: {"dtype", "shape", "data"} with float16 data as uint16 bit
patterns and float32 data as decimal strings of the exact values.
"""

import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 18
IR_VERSION = 8  # old enough for any ONNX Runtime >= 1.15

F32, F16, I64, I32, U8, BOOL = (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT64,
                                TensorProto.INT32, TensorProto.UINT8, TensorProto.BOOL)
NAMES = {np.float32: "float32", np.float16: "float16", np.int64: "int64",
         np.int32: "int32", np.uint8: "uint8", np.bool_: "bool"}


def save(graph, name):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="body4d engine/ort testdata")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, os.path.join(HERE, name))


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def dtypes_model():
    """One input and output per dtype, plus casts between float16 and float32."""
    nodes = [
        helper.make_node("Mul", ["x_f32", "two_f32"], ["y_f32"]),
        helper.make_node("Add", ["x_f16", "x_f16"], ["y_f16"]),
        helper.make_node("Add", ["x_i64", "one_i64"], ["y_i64"]),
        helper.make_node("Mul", ["x_i32", "three_i32"], ["y_i32"]),
        helper.make_node("BitwiseNot", ["x_u8"], ["y_u8"]),
        helper.make_node("Not", ["x_bool"], ["y_bool"]),
        helper.make_node("Cast", ["x_f32"], ["f32_to_f16"], to=F16),
        helper.make_node("Cast", ["x_f16"], ["f16_to_f32"], to=F32),
    ]
    inits = [
        numpy_helper.from_array(np.array(2, np.float32), "two_f32"),
        numpy_helper.from_array(np.array(1, np.int64), "one_i64"),
        numpy_helper.from_array(np.array(3, np.int32), "three_i32"),
    ]
    s = [2, 3]
    graph = helper.make_graph(
        nodes, "dtypes",
        [vi("x_f32", F32, s), vi("x_f16", F16, s), vi("x_i64", I64, s),
         vi("x_i32", I32, s), vi("x_u8", U8, s), vi("x_bool", BOOL, s)],
        [vi("y_f32", F32, s), vi("y_f16", F16, s), vi("y_i64", I64, s),
         vi("y_i32", I32, s), vi("y_u8", U8, s), vi("y_bool", BOOL, s),
         vi("f32_to_f16", F16, s), vi("f16_to_f32", F32, s)],
        inits)
    save(graph, "dtypes.onnx")


def cast_model(n):
    """float32 [n] -> float16 [n]: checks our half conversion against the runtime's."""
    graph = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["y"], to=F16),
         helper.make_node("Cast", ["y"], ["back"], to=F32)],
        "cast", [vi("x", F32, [n])], [vi("y", F16, [n]), vi("back", F32, [n])])
    save(graph, "cast.onnx")


def f16_dynamic_model():
    """A float16 output of dynamic shape (onnxruntime_go cannot return one)."""
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "f16_dynamic",
                              [vi("x", F16, ["n"])], [vi("y", F16, ["n"])])
    save(graph, "f16_dynamic.onnx")


def dynamic_model(w, b):
    """y = x @ w + b with a dynamic batch; nz = NonZero(x > 0), whose size
    depends on the data, so the runtime must allocate it."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["xw"]),
         helper.make_node("Add", ["xw", "b"], ["y"]),
         helper.make_node("Greater", ["x", "zero"], ["pos"]),
         helper.make_node("NonZero", ["pos"], ["nz"])],
        "dynamic", [vi("x", F32, ["batch", 4])],
        [vi("y", F32, ["batch", 3]), vi("nz", I64, [2, "count"])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
         numpy_helper.from_array(np.array(0, np.float32), "zero")])
    save(graph, "dynamic.onnx")


def scalar_model():
    """Rank-0 input and output: y = x * s, total = sum(y)."""
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "s"], ["y"]),
         helper.make_node("ReduceSum", ["y"], ["total"], keepdims=0)],
        "scalar", [vi("x", F32, [3]), vi("s", F32, [])],
        [vi("y", F32, [3]), vi("total", F32, [])])
    save(graph, "scalar.onnx")


def add16_model():
    """The benchmark model: y = x + c with x of shape [1, 16]."""
    c = np.arange(16, dtype=np.float32).reshape(1, 16) / 16
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "c"], ["y"])], "add16",
        [vi("x", F32, [1, 16])], [vi("y", F32, [1, 16])],
        [numpy_helper.from_array(c, "c")])
    save(graph, "add16.onnx")
    return c


def double_model():
    """A float64 input, an element type engines do not exchange."""
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "double",
                              [vi("x", TensorProto.DOUBLE, [2])], [vi("y", TensorProto.DOUBLE, [2])])
    save(graph, "double.onnx")


def initializer_input_model():
    """y = x + w with w both an initializer and a graph input (as older
    exporters wrote weights): a session's only input is x. The output has a
    dimension with neither a value nor a name."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])],
        "initializer_input", [vi("x", F32, [2, 3]), vi("w", F32, [2, 3])],
        [vi("y", F32, [None, 3])],
        [numpy_helper.from_array(np.ones((2, 3), np.float32), "w")])
    save(graph, "initializer_input.onnx")


def slow_model(steps=24):
    """A chain of n x n MatMuls, long enough to cancel mid-run."""
    nodes = []
    prev = "x"
    for i in range(steps):
        nxt = f"m{i}" if i < steps - 1 else "y"
        nodes.append(helper.make_node("MatMul", [prev, "x"], [nxt]))
        prev = nxt
    graph = helper.make_graph(nodes, "slow", [vi("x", F32, ["n", "n"])], [vi("y", F32, ["n", "n"])])
    save(graph, "slow.onnx")


def enc(a):
    a = np.asarray(a)
    dt = NAMES[a.dtype.type]
    if a.dtype == np.float16:
        data = a.view(np.uint16).ravel().tolist()
    elif a.dtype == np.float32:
        # repr of the float64 widening is exact and parses back exactly.
        data = [repr(float(v)) for v in a.ravel()]
    elif a.dtype == np.bool_:
        data = [bool(v) for v in a.ravel()]
    else:
        data = [int(v) for v in a.ravel()]
    return {"dtype": dt, "shape": list(a.shape), "data": data}


def main():
    rng = np.random.default_rng(20260124)
    cases = []

    dtypes_model()
    x_f32 = rng.standard_normal((2, 3)).astype(np.float32)
    x_f16 = (rng.standard_normal((2, 3)) * 100).astype(np.float16)
    x_i64 = np.array([[-(2**40), -1, 0], [1, 7, 2**40]], np.int64)
    x_i32 = np.array([[-5, 0, 5], [100, -100, 2**20]], np.int32)
    x_u8 = np.array([[0, 1, 2], [127, 128, 255]], np.uint8)
    x_bool = np.array([[True, False, True], [False, False, True]])
    cases.append({
        "name": "every dtype", "model": "dtypes.onnx",
        "inputs": {"x_f32": x_f32, "x_f16": x_f16, "x_i64": x_i64, "x_i32": x_i32,
                   "x_u8": x_u8, "x_bool": x_bool},
        "outputs": {"y_f32": x_f32 * np.float32(2), "y_f16": x_f16 + x_f16,
                    "y_i64": x_i64 + 1, "y_i32": x_i32 * 3, "y_u8": ~x_u8,
                    "y_bool": ~x_bool, "f32_to_f16": x_f32.astype(np.float16),
                    "f16_to_f32": x_f16.astype(np.float32)},
    })

    # Random magnitudes over the whole half range and beyond, plus exact
    # ties between adjacent halves, subnormals, overflow and specials.
    h = rng.integers(0, 0x7bff, 200).astype(np.uint16)
    lo = h.view(np.float16).astype(np.float32)
    hi = (h + 1).view(np.float16).astype(np.float32)
    ties = (lo.astype(np.float64) + hi) / 2
    x = np.concatenate([
        (rng.standard_normal(200) * np.exp2(rng.uniform(-30, 18, 200))).astype(np.float32),
        ties.astype(np.float32), -ties.astype(np.float32),
        np.array([0, -0.0, 65504, 65519.996, 65520, 1e9, -1e9, 2**-24, 2**-25,
                  2**-25 * 1.5, 1e-10, np.inf, -np.inf], np.float32),
    ]).astype(np.float32)
    assert np.all(ties.astype(np.float32) == ties), "ties must be exact in float32"
    cast_model(len(x))
    with np.errstate(over="ignore"):  # overflow to inf is what is tested
        y = x.astype(np.float16)
    cases.append({"name": "cast float32 to float16", "model": "cast.onnx",
                  "inputs": {"x": x}, "outputs": {"y": y, "back": y.astype(np.float32)}})

    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    dynamic_model(w, b)
    for batch in (1, 5):
        xb = rng.standard_normal((batch, 4)).astype(np.float32)
        # MatMul accumulation order may differ from numpy's; the golden is
        # computed in float64 and rounded, and the Go test allows 1e-6.
        y = (xb.astype(np.float64) @ w.astype(np.float64)).astype(np.float32) + b
        cases.append({"name": f"dynamic batch {batch}", "model": "dynamic.onnx",
                      "inputs": {"x": xb},
                      "outputs": {"y": y, "nz": np.stack(np.nonzero(xb > 0)).astype(np.int64)}})
    xz = -np.ones((2, 4), np.float32)
    cases.append({"name": "dynamic empty nonzero", "model": "dynamic.onnx",
                  "inputs": {"x": xz},
                  "outputs": {"y": (xz.astype(np.float64) @ w).astype(np.float32) + b,
                              "nz": np.zeros((2, 0), np.int64)}})

    scalar_model()
    xs = np.array([1.5, -2, 4], np.float32)
    s = np.array(0.5, np.float32)
    cases.append({"name": "scalar", "model": "scalar.onnx",
                  "inputs": {"x": xs, "s": s},
                  "outputs": {"y": xs * s, "total": np.array((xs * s).sum(), np.float32)}})

    c = add16_model()
    x16 = rng.standard_normal((1, 16)).astype(np.float32)
    cases.append({"name": "add16", "model": "add16.onnx", "inputs": {"x": x16},
                  "outputs": {"y": x16 + c}})

    double_model()
    initializer_input_model()
    f16_dynamic_model()
    slow_model()
    with open(os.path.join(HERE, "not_onnx.onnx"), "w") as f:
        f.write("this is a text file, not an ONNX model\n")

    check_with_onnxruntime(cases)
    out = [{"name": k["name"], "model": k["model"],
            "inputs": {n: enc(a) for n, a in k["inputs"].items()},
            "outputs": {n: enc(a) for n, a in k["outputs"].items()}} for k in cases]
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(k) for k in out) + "\n]\n")


def check_with_onnxruntime(cases):
    import onnxruntime as ort
    for k in cases:
        sess = ort.InferenceSession(os.path.join(HERE, k["model"]),
                                    providers=["CPUExecutionProvider"])
        got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, k["inputs"])))
        for name, want in k["outputs"].items():
            g = got[name]
            ok = g.dtype == want.dtype and g.shape == want.shape
            if ok and want.dtype == np.float32 and k["model"] == "dynamic.onnx":
                ok = np.allclose(g, want, rtol=0, atol=1e-6)
            elif ok:
                ok = np.array_equal(g.view(np.uint16) if g.dtype == np.float16 else g,
                                    want.view(np.uint16) if want.dtype == np.float16 else want)
            if not ok:
                raise SystemExit(f"{k['name']}: onnxruntime {name} = {g!r}, numpy {want!r}")


if __name__ == "__main__":
    main()
