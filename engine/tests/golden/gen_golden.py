#!/usr/bin/env python3
"""Generates engine/tests/golden/golden.json: golden values for every Born op.

Regenerate (from the repository root):

    .venv/bin/python engine/tests/golden/gen_golden.py

or `... gen_golden.py --check` to verify that the committed file is up to date
(exit status 1 and a message when it differs).

The output must be byte-for-byte reproducible: inputs come from a small
self-contained PRNG (not NumPy's, whose streams may change between versions),
transcendental functions go through Python's `math` module element by element,
and float64 results are written with 15 significant digits so that last-ulp
differences between platforms do not change the file.

Format: a JSON list, one case per line:

    {"name", "op", "inputs": [T...], "args": {...}, "expected": T or [T...],
     "rtol", "atol"}
    T = {"dtype", "shape", "data", optional "permute", optional "slice"}

`data`/`shape` describe a contiguous array; with "permute" the test input is
np.transpose(arr, permute), then with "slice" = [dim, start, stop, step] it is
that view sliced along dim (NumPy semantics). NaN/inf are the strings
"nan"/"inf"/"-inf". Expected values follow PyTorch's semantics and dtype rules,
computed in float64 from the dtype-rounded inputs, then rounded to the output
dtype.
"""

import json
import math
import os
import sys
import warnings

import numpy as np

ORDER = ["bool", "u8", "i32", "i64", "f16", "bf16", "f32", "f64"]
FLOATS = ("f16", "bf16", "f32", "f64")
INTS = ("u8", "i32", "i64")

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "golden.json")


# ----------------------------------------------------------------------------
# deterministic random numbers (splitmix64)
# ----------------------------------------------------------------------------
class Rng:
    def __init__(self, seed):
        self.s = seed & 0xFFFFFFFFFFFFFFFF

    def u64(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return z ^ (z >> 31)

    def uniform(self, lo, hi, shape, decimals=3):
        """Uniform values in [lo, hi] with at most `decimals` decimals."""
        n = int(np.prod(shape)) if len(shape) else 1
        scale = 10 ** decimals
        a, b = int(round(lo * scale)), int(round(hi * scale))
        vals = [(a + self.u64() % (b - a + 1)) / scale for _ in range(n)]
        return np.array(vals, dtype=np.float64).reshape(shape)

    def ints(self, lo, hi, shape):
        """Integers in [lo, hi)."""
        n = int(np.prod(shape)) if len(shape) else 1
        vals = [lo + self.u64() % (hi - lo) for _ in range(n)]
        return np.array(vals, dtype=np.float64).reshape(shape)

    def bools(self, shape):
        n = int(np.prod(shape)) if len(shape) else 1
        vals = [float(self.u64() >> 63) for _ in range(n)]
        return np.array(vals, dtype=np.float64).reshape(shape)

    def distinct(self, shape, lo=-5.0, step=0.25):
        """Distinct values (a shuffled grid), for sort/topk/argmax without ties."""
        n = int(np.prod(shape)) if len(shape) else 1
        vals = [lo + i * step for i in range(n)]
        for i in range(n - 1, 0, -1):
            j = self.u64() % (i + 1)
            vals[i], vals[j] = vals[j], vals[i]
        return np.array(vals, dtype=np.float64).reshape(shape)


R = Rng(20240611)


# ----------------------------------------------------------------------------
# dtype rules and rounding
# ----------------------------------------------------------------------------
def promote(a, b):
    if a == b:
        return a
    if {a, b} == {"f16", "bf16"}:
        return "f32"
    return max(a, b, key=ORDER.index)


def floatify(dt):
    return dt if dt in FLOATS else "f32"


def bf16_round(x):
    f = np.asarray(x, dtype=np.float64).astype(np.float32)
    b = f.view(np.uint32).astype(np.uint64)
    b = ((b + ((b >> 16) & 1) + 0x7FFF) >> 16) << 16
    out = b.astype(np.uint32).view(np.float32).astype(np.float64)
    return np.where(np.isnan(f), np.nan, out)


def cast(x, dt):
    """Rounds float64 values to those representable in dt (kept as float64)."""
    x = np.array(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        if dt == "f64":
            return x
        if dt == "f32":
            return x.astype(np.float32).astype(np.float64)
        if dt == "f16":
            return x.astype(np.float16).astype(np.float64)
        if dt == "bf16":
            return bf16_round(x)
        if dt == "bool":
            return (x != 0).astype(np.float64)
        return np.trunc(x)


def enc_val(v, dt, exact=True):
    """One value as JSON. Inputs are exact; float64 results (exact=False) keep
    15 significant digits so that last-ulp platform differences don't show."""
    if dt == "bool":
        return bool(v)
    if dt in INTS:
        return int(v)
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if dt == "f64":
        return v if exact else float("%.15g" % v)
    if dt == "f16":
        s = float(str(np.float16(v)))
        assert float(np.float16(s)) == v, (v, s)
    else:  # f32 and bf16 (exact in f32)
        s = float(str(np.float32(v)))
        assert float(np.float32(s)) == v, (v, s)
    return s


def enc(arr, dt, exact=True):
    arr = np.asarray(arr, dtype=np.float64)
    return {
        "dtype": dt,
        "shape": [int(d) for d in arr.shape],
        "data": [enc_val(v, dt, exact) for v in arr.reshape(-1)],
    }


def inp(x, dt, nc=None):
    """An input tensor: (json, logical float64 values rounded to dt).

    nc: None (contiguous), "perm" (stored transposed, permuted back),
    "slice" (every other element of a larger array along dim 0),
    "both" (permuted, then stepped slice along dim 0)."""
    logical = cast(x, dt)
    if nc is None:
        return enc(logical, dt), logical
    r = logical.ndim
    perm = list(range(r))[::-1] if nc in ("perm", "both") else list(range(r))
    view = logical
    if nc in ("slice", "both"):
        n = logical.shape[0]
        shape = list(logical.shape)
        shape[0] = 2 * n + 1
        view = np.full(shape, 1.0 if dt == "bool" else 99.0)
        view[1::2] = logical
    inv = list(np.argsort(perm))
    stored = np.ascontiguousarray(np.transpose(view, inv))
    j = enc(stored, dt)
    if nc in ("perm", "both"):
        j["permute"] = perm
    if nc in ("slice", "both"):
        j["slice"] = [0, 1, 2 * logical.shape[0] + 1, 2]
    got = np.transpose(stored, perm)
    if "slice" in j:
        got = got[1::2]
    assert np.array_equal(got, logical, equal_nan=True)
    return j, logical


def out(x, dt, exact=False):
    return enc(cast(x, dt), dt, exact=exact)


TOL = {
    "f32": (1e-5, 1e-6),
    "f64": (1e-9, 1e-12),
    "f16": (1e-2, 1e-3),
    "bf16": (1e-2, 1e-2),
}

CASES = []
NAMES = set()


def case(name, op, inputs, expected, args=None, dt=None, rtol=None, atol=None):
    """inputs: list of json tensors; expected: json tensor or list of them."""
    assert name not in NAMES, name
    NAMES.add(name)
    if dt is None:
        e = expected[0] if isinstance(expected, list) else expected
        dt = e["dtype"]
    r, a = TOL.get(dt, (0.0, 0.0))
    CASES.append({
        "name": name,
        "op": op,
        "inputs": inputs,
        "args": args or {},
        "expected": expected,
        "rtol": r if rtol is None else rtol,
        "atol": a if atol is None else atol,
    })


def vec(f):
    """Elementwise float64 function through Python's math module (portable)."""
    def g(x):
        x = np.asarray(x, dtype=np.float64)
        return np.array([f(float(v)) for v in x.reshape(-1)], dtype=np.float64).reshape(x.shape)
    return g


def _safe(f):
    def g(v):
        try:
            return f(v)
        except (ValueError, OverflowError):
            return float("nan")
    return g


def m_exp(v):
    if v == -math.inf:
        return 0.0
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


def m_log(v):
    if v == 0:
        return -math.inf
    if v < 0 or math.isnan(v):
        return math.nan
    return math.log(v)


def m_log1p(v):
    if v == -1:
        return -math.inf
    if v < -1 or math.isnan(v):
        return math.nan
    return math.log1p(v)


def m_sqrt(v):
    if v < 0 or math.isnan(v):
        return math.nan
    return math.sqrt(v)


def m_sigmoid(v):
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = m_exp(v)
    return e / (1.0 + e)


def m_recip(v):
    if v == 0:
        return math.copysign(math.inf, v)
    return 1.0 / v


def m_gelu(v):
    return 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0)))


def m_gelu_tanh(v):
    return 0.5 * v * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (v + 0.044715 * v ** 3)))


def m_silu(v):
    return v * m_sigmoid(v)


UNARY = {
    # name: (function, domain lo, hi, float_only, int_ok)
    "neg": (np.negative, -3, 3, False, True),
    "abs": (np.abs, -3, 3, False, True),
    "exp": (vec(m_exp), -3, 3, True, True),
    "log": (vec(m_log), 0.05, 5, True, True),
    "log1p": (vec(m_log1p), -0.9, 3, True, False),
    "sqrt": (vec(m_sqrt), 0, 5, True, True),
    "rsqrt": (vec(lambda v: 1.0 / math.sqrt(v)), 0.05, 5, True, False),
    "recip": (vec(m_recip), 0.1, 3, True, False),
    "sin": (vec(math.sin), -4, 4, True, True),
    "cos": (vec(math.cos), -4, 4, True, False),
    "tanh": (vec(math.tanh), -3, 3, True, True),
    "sigmoid": (vec(m_sigmoid), -5, 5, True, True),
    "relu": (lambda x: np.maximum(x, 0.0), -3, 3, False, False),
    "gelu": (vec(m_gelu), -3, 3, True, False),
    "gelu_tanh": (vec(m_gelu_tanh), -3, 3, True, False),
    "silu": (vec(m_silu), -4, 4, True, False),
    "erf": (vec(math.erf), -2.5, 2.5, True, False),
    "floor": (np.floor, -3, 3, False, False),
    "ceil": (np.ceil, -3, 3, False, False),
    "round": (np.rint, -3, 3, False, False),  # half to even
    "sign": (np.sign, -3, 3, False, True),
}


def gen_unary():
    for k, (op, (f, lo, hi, fonly, int_ok)) in enumerate(UNARY.items()):
        x, xv = inp(R.uniform(lo, hi, [2, 3]), "f32")
        case(f"{op}_f32_2x3", op, [x], out(f(xv), "f32"))
        x, xv = inp(R.uniform(lo, hi, [3, 4]), "f32", "perm" if k % 2 else "both")
        case(f"{op}_f32_noncontiguous", op, [x], out(f(xv), "f32"))
        x, xv = inp(R.uniform(lo, hi, [5]), "f64")
        case(f"{op}_f64_5", op, [x], out(f(xv), "f64"))
        if k % 2:
            x, xv = inp(np.zeros([0, 3]), "f32")
            case(f"{op}_f32_empty", op, [x], out(f(xv), "f32"))
            x, xv = inp(R.uniform(lo, hi, [2, 1, 3]), "f16")
            case(f"{op}_f16", op, [x], out(f(xv), "f16"))
        else:
            x, xv = inp(R.uniform(lo, hi, []), "f32")
            case(f"{op}_f32_scalar", op, [x], out(f(xv), "f32"))
            x, xv = inp(R.uniform(lo, hi, [4]), "bf16")
            case(f"{op}_bf16", op, [x], out(f(xv), "bf16"))
        if int_ok:
            lo_i = max(int(math.ceil(lo)), 1 if op in ("log",) else int(math.ceil(lo)))
            x, xv = inp(R.ints(lo_i, int(hi) + 1, [2, 3]), "i32")
            odt = "f32" if fonly else "i32"
            case(f"{op}_i32", op, [x], out(f(xv), odt))
            if not fonly:
                x, xv = inp(R.ints(-100000, 100000, [5]), "i64")
                case(f"{op}_i64", op, [x], out(f(xv), "i64"))

    # special values (PyTorch results)
    sv = np.array([0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan])
    for op in ["abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "floor"]:
        f = UNARY[op][0]
        x, xv = inp(sv, "f32")
        case(f"{op}_special_values", op, [x], out(f(xv), "f32"))
    x, xv = inp(np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49, 3.51]), "f32")
    case("round_half_to_even", "round", [x], out(np.rint(xv), "f32"))
    x, xv = inp(np.array([-2.0, -0.5, 0.0, 2.5, 1e-3]), "f32")
    case("sign_zero_and_small", "sign", [x], out(np.sign(xv), "f32"))

    # logical_not
    x, xv = inp(R.bools([2, 3]), "bool")
    case("logical_not_bool", "logical_not", [x], out(1 - xv, "bool"))
    x, xv = inp(R.bools([3, 4]), "bool", "perm")
    case("logical_not_bool_permuted", "logical_not", [x], out(1 - xv, "bool"))
    x, xv = inp(np.array([0.0, 1.5, -2.0, 0.0]), "f32")
    case("logical_not_f32", "logical_not", [x], out(xv == 0, "bool"))
    x, xv = inp(np.array([0, 3, -1, 0, 7]), "i64")
    case("logical_not_i64", "logical_not", [x], out(xv == 0, "bool"))

    # leaky_relu, clamp, powf
    def leaky(x, s):
        return np.where(x > 0, x, x * s)
    for i, (dt, slope, nc, shape) in enumerate([
            ("f32", 0.01, None, [2, 3]), ("f32", 0.2, "perm", [3, 4]), ("f64", 0.1, None, [5]),
            ("f16", 0.1, None, [6]), ("f32", 0.5, None, [0, 3]), ("f32", 0.3, "slice", [3, 2])]):
        x, xv = inp(R.uniform(-3, 3, shape), dt, nc)
        case(f"leaky_relu_{i}_{dt}", "leaky_relu", [x], out(leaky(xv, slope), dt), {"slope": slope})
    for i, (dt, lo, hi, nc, shape) in enumerate([
            ("f32", -0.5, 0.5, None, [2, 3]), ("f32", -1.0, 2.0, "perm", [3, 4]), ("f64", 0.0, 1.0, None, [5]),
            ("f16", -1.0, 1.0, None, [6]), ("f32", 0.0, 0.0, None, [4]), ("f32", -1, 1, None, [0, 2]),
            ("bf16", -0.5, 1.0, None, [5])]):
        x, xv = inp(R.uniform(-3, 3, shape), dt, nc)
        case(f"clamp_{i}_{dt}", "clamp", [x], out(np.minimum(np.maximum(xv, lo), hi), dt), {"min": lo, "max": hi})
    for i, (dt, e, lo, hi, nc, shape) in enumerate([
            ("f32", 2.0, -3, 3, None, [2, 3]), ("f32", 0.5, 0, 4, None, [2, 3]), ("f32", -1.0, 0.5, 3, "perm", [3, 4]),
            ("f32", 3.0, -2, 2, None, [5]), ("f64", 1.5, 0, 3, None, [5]), ("f16", 2.0, -2, 2, None, [4]),
            ("f32", 0.0, -2, 2, None, [3]), ("f32", -0.5, 0.25, 4, "slice", [3, 2])]):
        x, xv = inp(R.uniform(lo, hi, shape), dt, nc)
        case(f"powf_{i}_{dt}", "powf", [x], out(xv ** e, dt), {"exponent": e})


# ----------------------------------------------------------------------------
# binary
# ----------------------------------------------------------------------------
def np_rem(a, b):
    with np.errstate(all="ignore"):
        return np.mod(a, b)


BINARY = {
    "add": (lambda a, b: a + b, "arith"),
    "sub": (lambda a, b: a - b, "arith"),
    "mul": (lambda a, b: a * b, "arith"),
    "div": (lambda a, b: a / b, "div"),
    "rem": (np_rem, "rem"),
    "pow": (lambda a, b: a ** b, "pow"),
    "maximum": (np.maximum, "arith"),
    "minimum": (np.minimum, "arith"),
    "eq": (lambda a, b: a == b, "cmp"),
    "ne": (lambda a, b: a != b, "cmp"),
    "lt": (lambda a, b: a < b, "cmp"),
    "le": (lambda a, b: a <= b, "cmp"),
    "gt": (lambda a, b: a > b, "cmp"),
    "ge": (lambda a, b: a >= b, "cmp"),
}

SHAPES = [
    ("same", [2, 3], [2, 3]),
    ("row_col", [3, 1], [1, 4]),
    ("vec_to_3d", [4], [2, 3, 4]),
    ("scalar_lhs", [], [2, 3]),
    ("scalar_rhs", [2, 3], []),
    ("empty", [0, 3], [1, 3]),
    ("size1", [1], [5]),
]


def bin_operands(kind, sa, sb, dt, nca=None, ncb=None):
    if kind == "pow":
        if dt in FLOATS:
            a = R.uniform(0.1, 3, sa)
            b = R.uniform(-2, 2, sb)
        else:
            a = R.ints(-4, 5, sa)
            b = R.ints(0, 4, sb)
    elif kind in ("div", "rem"):
        if dt in FLOATS:
            a = R.uniform(-5, 5, sa, 2)
            b = R.uniform(0.5, 3, sb, 2) * np.where(R.bools(sb) > 0, 1, -1)
        else:
            a = R.ints(-20, 21, sa)
            b = R.ints(1, 7, sb) * np.where(R.bools(sb) > 0, 1, -1)
    elif kind == "cmp":
        if dt in FLOATS:
            a = R.ints(-2, 3, sa) * 0.5
            b = R.ints(-2, 3, sb) * 0.5
        else:
            a = R.ints(-2, 3, sa)
            b = R.ints(-2, 3, sb)
    else:
        if dt in FLOATS:
            a = R.uniform(-3, 3, sa)
            b = R.uniform(-3, 3, sb)
        elif dt == "u8":
            a = R.ints(0, 100, sa)
            b = R.ints(0, 100, sb)
        else:
            a = R.ints(-50, 50, sa)
            b = R.ints(-50, 50, sb)
    return a, b


def out_dtype(op, kind, da, db):
    p = promote(da, db)
    if kind == "cmp":
        return "bool"
    if kind == "div":
        return floatify(p)
    return p


def binary_case(name, op, a, da, b, db, nca=None, ncb=None, rtol=None, atol=None):
    f, kind = BINARY[op]
    ja, av = inp(a, da, nca)
    jb, bv = inp(b, db, ncb)
    odt = out_dtype(op, kind, da, db)
    with np.errstate(all="ignore"):
        e = f(av, bv)
    if op == "pow" and odt in INTS:
        e = np.trunc(e)
    if op == "rem" and odt in FLOATS and atol is None:
        atol = 1e-5 if odt in ("f32", "f64") else 2e-2
    if op == "pow" and odt == "f32" and rtol is None:
        rtol = 2e-5
    case(name, op, [ja, jb], out(e, odt), rtol=rtol, atol=atol)


def gen_binary():
    for k, (op, (f, kind)) in enumerate(BINARY.items()):
        for j, (sname, sa, sb) in enumerate(SHAPES):
            if sname in ("scalar_rhs", "size1"):
                continue
            if sname == "same" and (j + k) % 2:
                continue
            if sname == "empty" and kind == "cmp":
                continue
            a, b = bin_operands(kind, sa, sb, "f32")
            nca = ncb = None
            if sname == "row_col":
                ncb = "slice"
            if sname == "vec_to_3d":
                ncb = "perm"
            binary_case(f"{op}_f32_{sname}", op, a, "f32", b, "f32", nca, ncb)
        # non-contiguous
        if k % 2:
            a, b = bin_operands(kind, [3, 4], [3, 4], "f32")
            binary_case(f"{op}_f32_perm_x_slice", op, a, "f32", b, "f32", "perm", "slice")
        else:
            a, b = bin_operands(kind, [2, 3], [3], "f32")
            binary_case(f"{op}_f32_both_x_bcast", op, a, "f32", b, "f32", "both", None)
        if kind != "cmp" or k % 2:
            a, b = bin_operands(kind, [2, 3], [2, 3], "f64")
            binary_case(f"{op}_f64", op, a, "f64", b, "f64")
        if k % 2:
            a, b = bin_operands(kind, [2, 3], [3], "f16")
            binary_case(f"{op}_f16", op, a, "f16", b, "f16")
        else:
            a, b = bin_operands(kind, [5], [5], "bf16")
            binary_case(f"{op}_bf16", op, a, "bf16", b, "bf16")
        if k % 2 or kind in ("rem", "pow"):
            a, b = bin_operands(kind, [2, 3], [2, 1], "i32")
            binary_case(f"{op}_i32", op, a, "i32", b, "i32")
        if k % 2 == 0 or kind in ("rem", "pow"):
            a, b = bin_operands(kind, [4], [2, 4], "i64")
            binary_case(f"{op}_i64", op, a, "i64", b, "i64")
        a, b = bin_operands(kind, [2, 3], [2, 3], "i32")
        if kind == "div" or ((kind == "arith" or kind == "cmp") and k % 2 == 0):
            binary_case(f"{op}_i32_x_f32", op, a, "i32", b * 0.5 if kind != "div" else b, "f32")
        if kind == "div" or (kind == "arith" and k % 2 == 1):
            binary_case(f"{op}_i32_x_i64", op, a, "i32", b, "i64")
        if op in ("add", "mul"):
            a, b = bin_operands(kind, [2, 3], [3], "f32")
            binary_case(f"{op}_f16_x_f32", op, a, "f16", b, "f32")
        if op == "add":
            binary_case(f"{op}_f16_x_bf16", op, a, "f16", b, "bf16", rtol=1e-2, atol=1e-2)
        if op in ("add", "sub"):
            a, b = bin_operands(kind, [2, 3], [3], "u8")
            if op == "add":
                binary_case(f"{op}_u8", op, a, "u8", b, "u8")
            if op == "sub":
                binary_case(f"{op}_u8_x_i32", op, a, "u8", b, "i32")

    # special values
    nan, inf = math.nan, math.inf
    x = np.array([1.0, nan, 2.0, -inf, nan, 0.0])
    y = np.array([nan, 1.0, 3.0, 1.0, nan, -0.0])
    for op in ["add", "maximum", "eq", "ne", "lt"]:
        binary_case(f"{op}_nan", op, x, "f32", y, "f32")
    binary_case("div_by_zero", "div", np.array([1.0, -1.0, 0.0, 3.0]), "f32", np.array([0.0, 0.0, 0.0, -0.0]), "f32")
    binary_case("div_int_by_zero", "div", np.array([1, -1, 0, 3]), "i32", np.array([0, 0, 0, 2]), "i32")
    binary_case("rem_float_signs", "rem", np.array([5.5, -5.5, 5.5, -5.5, 0.0, 3.0]), "f32",
                np.array([2.0, 2.0, -2.0, -2.0, 1.5, 1.5]), "f32")
    binary_case("rem_int_signs", "rem", np.array([7, -7, 7, -7, 0, 6]), "i64", np.array([3, 3, -3, -3, 5, 3]), "i64")
    binary_case("pow_neg_base_int_exp", "pow", np.array([-2.0, -1.5, -3.0, 2.0, 0.0]), "f32",
                np.array([2.0, 3.0, -1.0, 0.0, 2.0]), "f32")
    binary_case("pow_zero_zero", "pow", np.array([0.0, 0.0, 4.0]), "f32", np.array([0.0, 1.0, 0.5]), "f32")

    # logical ops
    LOG = {"logical_and": np.logical_and, "logical_or": np.logical_or, "logical_xor": np.logical_xor}
    for op, f in LOG.items():
        for sname, sa, sb in SHAPES:
            if sname in ("scalar_rhs", "size1", "same", "vec_to_3d"):
                continue
            ja, av = inp(R.bools(sa), "bool")
            jb, bv = inp(R.bools(sb), "bool")
            case(f"{op}_{sname}", op, [ja, jb], out(f(av, bv), "bool"))
        ja, av = inp(R.bools([3, 4]), "bool", "perm")
        jb, bv = inp(R.bools([3, 4]), "bool", "slice")
        case(f"{op}_perm_x_slice", op, [ja, jb], out(f(av, bv), "bool"))
        ja, av = inp(np.array([0, 2, 0, -1]), "i32")
        jb, bv = inp(np.array([True, False, True, True]), "bool")
        case(f"{op}_i32_x_bool", op, [ja, jb], out(f(av, bv), "bool"))

    # where_cond
    W = [
        ("bcast_cond", [3, 1], [3, 4], [1, 4], "f32", "f32", None),
        ("bcast_values", [2, 3, 4], [4], [], "f32", "f32", None),
        ("scalar_cond", [], [2, 3], [2, 3], "f32", "f32", None),
        ("empty", [0, 3], [0, 3], [3], "f32", "f32", None),
        ("i64", [2, 3], [2, 3], [1], "i64", "i64", None),
        ("i32_f32", [4], [4], [4], "i32", "f32", None),
        ("f16", [5], [5], [5], "f16", "f16", None),
        ("slice", [3, 2], [3, 2], [3, 2], "f32", "f32", "slice"),
    ]
    for name, sc, st, sf, dt, df, nc in W:
        jc, cv = inp(R.bools(sc), "bool", nc)
        jt, tv = inp(R.uniform(-3, 3, st) if dt in FLOATS else R.ints(-9, 9, st), dt, nc)
        jf, fv = inp(R.uniform(-3, 3, sf) if df in FLOATS else R.ints(-9, 9, sf), df, nc if sf == st else None)
        case(f"where_cond_{name}", "where_cond", [jc, jt, jf], out(np.where(cv > 0, tv, fv), promote(dt, df)))


# ----------------------------------------------------------------------------
# reductions
# ----------------------------------------------------------------------------
def red_dtype(op, dt):
    if op in ("sum", "prod", "cumsum", "sum_all"):
        return "i64" if dt in INTS or dt == "bool" else dt
    if op in ("all", "any"):
        return "bool"
    return dt


def ax(dims):
    return tuple(dims) if isinstance(dims, list) else dims


def np_var(x, dims, corr, keep):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # n <= correction gives nan, like PyTorch
        return np.var(x, axis=ax(dims), ddof=corr, keepdims=keep)


def lse(x, dims, keep):
    axes = [d % x.ndim for d in (dims if isinstance(dims, list) else [dims])]
    if any(x.shape[d] == 0 for d in axes):
        r = np.full([1 if i in axes else s for i, s in enumerate(x.shape)], -math.inf)
    else:
        m = np.max(x, axis=ax(dims), keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            r = np.log(np.sum(np.exp(x - m), axis=ax(dims), keepdims=True)) + m
    if not keep:
        r = np.squeeze(r, axis=ax(dims))
    return r


REDS = {
    "sum": lambda x, d, k: np.sum(x, axis=ax(d), keepdims=k),
    "mean": lambda x, d, k: np.mean(x, axis=ax(d), keepdims=k),
    "max": lambda x, d, k: np.max(x, axis=ax(d), keepdims=k),
    "min": lambda x, d, k: np.min(x, axis=ax(d), keepdims=k),
    "prod": lambda x, d, k: np.prod(x, axis=ax(d), keepdims=k),
    "logsumexp": lse,
    "var": lambda x, d, k: np_var(x, d, 1, k),
    "std": lambda x, d, k: np.sqrt(np_var(x, d, 1, k)),
}


def gen_reductions():
    red_cfgs = [
        ("dim1", [2, 3, 4], 1, False, None),
        ("dims02_keep", [2, 3, 4], [0, 2], True, None),
        ("neg_dim_keep", [3, 4], -1, True, None),
        ("perm", [3, 4], 0, False, "perm"),
        ("slice", [3, 5], 1, False, "slice"),
        ("size1_dim", [3, 1, 2], 1, False, None),
        ("1d_all", [7], 0, False, None),
        ("both_keep", [3, 4], [0, 1], True, "both"),
    ]
    for k, (op, f) in enumerate(REDS.items()):
        for j, (cname, shape, dims, keep, nc) in enumerate(red_cfgs):
            if cname in ("perm", "slice", "size1_dim", "1d_all") and (j + k) % 2:
                continue
            lo, hi = (0.5, 1.5) if op == "prod" else (-3, 3)
            x, xv = inp(R.uniform(lo, hi, shape), "f32", nc)
            at = 1e-5 if op in ("sum", "mean", "var", "std") else None
            case(f"{op}_f32_{cname}", op, [x], out(f(xv, dims, keep), "f32"),
                 {"dims": dims, "keepdim": keep}, rtol=1e-5 if op not in ("var", "std") else 1e-4, atol=at)
        x, xv = inp(R.uniform(0.5, 1.5, [2, 3, 4]) if op == "prod" else R.uniform(-3, 3, [2, 3, 4]), "f64")
        case(f"{op}_f64", op, [x], out(f(xv, [1, 2], False), "f64"), {"dims": [1, 2], "keepdim": False})
        if k % 2:
            x, xv = inp(R.uniform(0.5, 1.5, [3, 4]) if op == "prod" else R.uniform(-3, 3, [3, 4]), "f16")
            case(f"{op}_f16", op, [x], out(f(xv, -1, False), "f16"), {"dims": -1, "keepdim": False},
                 rtol=1e-2, atol=1e-2)
        else:
            x, xv = inp(R.uniform(0.5, 1.5, [2, 4]) if op == "prod" else R.uniform(-3, 3, [2, 4]), "bf16")
            case(f"{op}_bf16", op, [x], out(f(xv, 0, True), "bf16"), {"dims": 0, "keepdim": True},
                 rtol=1e-2, atol=2e-2)
        if op in ("sum", "max", "min", "prod"):
            x, xv = inp(R.ints(-5, 6, [3, 4]), "i32")
            case(f"{op}_i32", op, [x], out(f(xv, 1, False), red_dtype(op, "i32")), {"dims": 1, "keepdim": False})
            x, xv = inp(R.ints(-1000, 1000, [2, 3]), "i64", "perm")
            case(f"{op}_i64_perm", op, [x], out(f(xv, 0, True), "i64"), {"dims": 0, "keepdim": True})
        if op in ("sum", "prod", "logsumexp"):
            x, xv = inp(np.zeros([0, 3]), "f32")
            case(f"{op}_empty_dim", op, [x], out(f(xv, 0, False), "f32"), {"dims": 0, "keepdim": False})
            if op == "sum":
                x, xv = inp(np.zeros([0, 3]), "f32")
                case(f"{op}_empty_keep", op, [x], out(f(xv, [0], True), "f32"), {"dims": [0], "keepdim": True})
        if op in ("max", "mean"):
            x, xv = inp(np.zeros([0, 3]), "f32")
            case(f"{op}_empty_other_dim", op, [x], out(f(xv, 1, False), "f32"), {"dims": 1, "keepdim": False})
    # sum of bool / u8 -> i64
    x, xv = inp(R.bools([3, 4]), "bool")
    case("sum_bool", "sum", [x], out(np.sum(xv, axis=1), "i64"), {"dims": 1, "keepdim": False})
    x, xv = inp(R.ints(0, 255, [3, 4]), "u8")
    case("sum_u8", "sum", [x], out(np.sum(xv, axis=0), "i64"), {"dims": 0, "keepdim": False})
    # NaN propagation
    x, xv = inp(np.array([[1.0, math.nan, 2.0], [0.5, -1.0, 3.0]]), "f32")
    for op in ("max", "min", "sum"):
        case(f"{op}_nan", op, [x], out(REDS[op](xv, 1, False), "f32"), {"dims": 1, "keepdim": False})
    x, xv = inp(np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1001.0, -999.5]]), "f32")
    case("logsumexp_large", "logsumexp", [x], out(lse(xv, 1, False), "f32"), {"dims": 1, "keepdim": False})
    x, xv = inp(np.array([[-math.inf, -math.inf], [0.0, -math.inf]]), "f32")
    case("logsumexp_neg_inf", "logsumexp", [x], out(lse(xv, 1, False), "f32"), {"dims": 1, "keepdim": False})

    # var/std with correction
    for op in ("var_correction", "std_correction"):
        for corr, shape, dims, keep, nc, dt in [
                (0, [3, 4], 1, False, None, "f32"), (2, [2, 5], -1, True, None, "f32"),
                (1, [2, 3, 4], [0, 2], False, "perm", "f32"), (0, [4, 3], 0, False, None, "f64"),
                (0, [6], 0, False, None, "f32"), (3, [3, 4], 1, False, "slice", "f32")]:
            x, xv = inp(R.uniform(-3, 3, shape), dt, nc)
            e = np_var(xv, dims, corr, keep)
            if op == "std_correction":
                e = np.sqrt(e)
            case(f"{op}_{corr}_{dt}_{'x'.join(map(str, shape))}_{nc}", op, [x], out(e, dt),
                 {"dims": dims, "correction": corr, "keepdim": keep},
                 rtol=1e-4 if dt == "f32" else None, atol=1e-5 if dt == "f32" else None)
    # all / any
    for op, f in (("all", np.all), ("any", np.any)):
        for cname, shape, dims, keep, nc, gen in [
                ("dim1", [3, 4], 1, False, None, "mixed"),
                ("neg", [3, 4], -1, False, "perm", "mixed"),
                ("all_true", [2, 3], 1, False, None, "ones"),
                ("empty", [0, 3], 0, False, None, "zeros"),
                ("slice", [3, 2], 0, True, "slice", "mixed")]:
            v = {"mixed": R.bools(shape), "ones": np.ones(shape), "zeros": np.zeros(shape)}[gen]
            x, xv = inp(v, "bool", nc)
            case(f"{op}_{cname}", op, [x], out(f(xv > 0, axis=ax(dims), keepdims=keep), "bool"),
                 {"dims": dims, "keepdim": keep})
        x, xv = inp(np.array([[0.0, 1.5, -2.0], [0.5, 0.0, 0.0]]), "f32")
        case(f"{op}_f32_input", op, [x], out(f(xv != 0, axis=1), "bool"), {"dims": 1, "keepdim": False})
        x, xv = inp(np.array([[0, 3], [4, 1]]), "i64")
        case(f"{op}_i64_input", op, [x], out(f(xv != 0, axis=0), "bool"), {"dims": 0, "keepdim": False})

    # argmax / argmin (first index of ties)
    for op, f in (("argmax", np.argmax), ("argmin", np.argmin)):
        for cname, shape, dim, keep, nc, dt, ties in [
                ("dim1", [3, 4], 1, False, None, "f32", False),
                ("neg", [2, 3, 4], -1, False, None, "f32", False),
                ("mid", [2, 3, 4], 1, True, "perm", "f32", False),
                ("ties", [3, 5], 1, False, None, "f32", True),
                ("i32", [3, 4], 1, False, None, "i32", True),
                ("i64_slice", [3, 4], 0, False, "slice", "i64", False),
                ("f16", [2, 5], 1, False, None, "f16", True)]:
            if ties:
                v = R.ints(-2, 3, shape)
            else:
                v = R.distinct(shape, -20, 1) if dt in INTS else R.distinct(shape)
            x, xv = inp(v, dt, nc)
            e = f(xv, axis=dim)
            if keep:
                e = np.expand_dims(e, dim)
            case(f"{op}_{cname}", op, [x], out(e, "i64"), {"dim": dim, "keepdim": keep})

    # full reductions
    FULL = {"sum_all": np.sum, "mean_all": np.mean, "max_all": np.max, "min_all": np.min}
    for op, f in FULL.items():
        for cname, shape, nc, dt in [("f32", [3, 4], None, "f32"), ("perm", [2, 3, 4], "perm", "f32"),
                                     ("f64", [5], None, "f64"),
                                     ("scalar", [], None, "f32"), ("f16", [2, 3], None, "f16"),
                                     ("i32", [2, 3], None, "i32"), ("big", [19, 23], None, "f32")]:
            if op == "mean_all" and dt == "i32":
                continue
            v = R.uniform(-3, 3, shape) if dt in FLOATS else R.ints(-50, 50, shape)
            x, xv = inp(v, dt, nc)
            odt = red_dtype(op, dt)
            case(f"{op}_{cname}", op, [x], out(f(xv), odt),
                 atol=1e-4 if dt == "f32" else (1e-2 if dt == "f16" else None))
    x, xv = inp(np.zeros([0, 3]), "f32")
    case("sum_all_empty", "sum_all", [x], out(np.float64(0), "f32"))
    x, xv = inp(R.bools([3, 3]), "bool")
    case("sum_all_bool", "sum_all", [x], out(np.sum(xv), "i64"))

    # softmax / log_softmax
    def softmax(x, d):
        m = np.max(x, axis=d, keepdims=True)
        e = np.exp(x - m)
        return e / np.sum(e, axis=d, keepdims=True)

    def log_softmax(x, d):
        return x - lse(x, d, True)

    for op, f in (("softmax", softmax), ("log_softmax", log_softmax)):
        for cname, shape, dim, nc, dt in [
                ("last", [2, 5], -1, None, "f32"), ("dim0", [3, 4], 0, None, "f32"),
                ("mid", [2, 3, 4], 1, None, "f32"), ("perm", [3, 4], -1, "perm", "f32"),
                ("f64", [2, 4], 1, None, "f64"),
                ("f16", [2, 6], -1, None, "f16"), ("bf16", [3, 3], 1, None, "bf16"),
                ("empty", [0, 4], -1, None, "f32")]:
            x, xv = inp(R.uniform(-3, 3, shape), dt, nc)
            case(f"{op}_{cname}", op, [x], out(f(xv, dim), dt), {"dim": dim},
                 atol=1e-5 if dt == "f32" else None)
        x, xv = inp(np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]]), "f32")
        case(f"{op}_large", op, [x], out(f(xv, 1), "f32"), {"dim": 1}, atol=1e-5)

    # cumsum
    for cname, shape, dim, nc, dt in [
            ("last", [2, 5], -1, None, "f32"),
            ("slice", [3, 4], 0, "slice", "f32"),
            ("i32", [2, 4], 1, None, "i32"), ("bool", [2, 4], 1, None, "bool"), ("f16", [2, 5], 1, None, "f16"), ("empty", [0, 3], 1, None, "f32"),
            ("long", [1, 300], 1, None, "f32")]:
        if dt in FLOATS:
            v = R.uniform(-3, 3, shape)
        elif dt == "bool":
            v = R.bools(shape)
        else:
            v = R.ints(-20, 20, shape)
        x, xv = inp(v, dt, nc)
        odt = red_dtype("cumsum", dt)
        case(f"cumsum_{cname}", "cumsum", [x], out(np.cumsum(xv, axis=dim), odt), {"dim": dim},
             atol=(1e-3 if cname == "long" else 1e-4) if dt == "f32" else (2e-2 if dt == "f16" else None))

    # sort / argsort (stable), topk (no ties)
    def stable_sort(xv, dim, desc):
        key = -xv if desc else xv
        idx = np.argsort(key, axis=dim, kind="stable")
        return np.take_along_axis(xv, idx, axis=dim), idx

    for cname, shape, dim, desc, nc, dt, ties in [
            ("asc_last", [3, 5], -1, False, None, "f32", False),
            ("desc_last", [3, 5], -1, True, None, "f32", False),
            ("desc_mid", [2, 4, 3], 1, True, "perm", "f32", False),
            ("ties_desc", [2, 8], 1, True, None, "f32", True),
            ("i32", [3, 6], -1, False, None, "i32", True),
            ("i64_desc", [6, 2], 0, True, "slice", "i64", True),
            ("f16", [2, 5], 1, True, None, "f16", False),
            ("empty", [0, 4], 1, False, None, "f32", False),
            ("long", [1, 130], 1, True, None, "f32", True)]:
        v = R.ints(-3, 4, shape) if ties else R.distinct(shape)
        x, xv = inp(v, dt, nc)
        vals, idx = stable_sort(xv, dim, desc)
        args = {"dim": dim, "descending": desc}
        case(f"sort_{cname}", "sort", [x], [out(vals, dt), out(idx, "i64")], args, dt=dt)
        case(f"argsort_{cname}", "argsort", [x], out(idx, "i64"), args)

    for cname, shape, k, dim, largest, nc, dt in [
            ("largest", [3, 6], 2, -1, True, None, "f32"),
            ("dim0", [5, 3], 2, 0, True, None, "f32"),
            ("perm", [4, 5], 2, -1, True, "perm", "f32"),
            ("slice", [3, 4], 1, 0, False, "slice", "f32"),
            ("i64", [2, 7], 3, 1, True, None, "i64"),
            ("f16", [2, 6], 2, 1, True, None, "f16"),
            ("mid", [2, 5, 3], 2, 1, False, None, "f32")]:
        x, xv = inp(R.distinct(shape, -20, 1) if dt in INTS else R.distinct(shape), dt, nc)
        vals, idx = stable_sort(xv, dim, largest)
        sl = [slice(None)] * len(shape)
        sl[dim] = slice(0, k)
        case(f"topk_{cname}", "topk", [x], [out(vals[tuple(sl)], dt), out(idx[tuple(sl)], "i64")],
             {"k": k, "dim": dim, "largest": largest}, dt=dt)


# ----------------------------------------------------------------------------
# linear algebra
# ----------------------------------------------------------------------------
def gen_linalg():
    for cname, sa, sb, dt, nca, ncb in [
            ("2d", [2, 3], [3, 4], "f32", None, None),
            ("vec_mat", [3], [3, 4], "f32", None, None),
            ("mat_vec", [2, 3], [3], "f32", None, None),
            ("vec_vec", [4], [4], "f32", None, None),
            ("batched", [2, 2, 3], [3, 4], "f32", None, None),
            ("batch_bcast", [2, 1, 2, 3], [3, 3, 2], "f32", None, None),
            ("batch_both", [3, 2, 4], [3, 4, 2], "f32", None, None),
            ("perm_lhs", [4, 3], [3, 2], "f32", "perm", None),
            ("perm_both_batched", [2, 3, 3], [2, 3, 2], "f32", "perm", "perm"),
            ("vec_batched", [3], [2, 3, 2], "f32", None, None),
            ("f64", [3, 4], [4, 2], "f64", None, None),
            ("f16", [2, 8], [8, 3], "f16", None, None),
            ("i64", [2, 3], [3, 2], "i64", None, None),
            ("k0", [2, 0], [0, 3], "f32", None, None),
            ("large", [17, 33], [33, 9], "f32", None, None),
            ("large_f64", [9, 21], [21, 13], "f64", None, None)]:
        if dt in FLOATS:
            a, b = R.uniform(-2, 2, sa, 2), R.uniform(-2, 2, sb, 2)
        else:
            a, b = R.ints(-9, 10, sa), R.ints(-9, 10, sb)
        ja, av = inp(a, dt, nca)
        jb, bv = inp(b, dt, ncb)
        e = np.matmul(av, bv)
        case(f"matmul_{cname}", "matmul", [ja, jb], out(e, dt),
             atol=1e-4 if dt == "f32" else (5e-2 if dt in ("f16", "bf16") else None))
    for cname, n, m, dt, nca in [("f32", 3, 4, "f32", None), ("f64", 2, 5, "f64", None),
                                 ("i32", 3, 3, "i32", None), ("slice", 3, 2, "f32", "slice"),
                                 ("empty", 0, 3, "f32", None), ("one", 1, 1, "f32", None),
                                 ("f16", 4, 2, "f16", None)]:
        a = R.uniform(-2, 2, [n]) if dt in FLOATS else R.ints(-9, 9, [n])
        b = R.uniform(-2, 2, [m]) if dt in FLOATS else R.ints(-9, 9, [m])
        ja, av = inp(a, dt, nca)
        jb, bv = inp(b, dt)
        case(f"outer_{cname}", "outer", [ja, jb], out(np.outer(av, bv), dt))
    for cname, shape, nc, dt in [("f32", [2, 3], None, "f32"), ("perm", [3, 4], "perm", "f32"),
                                 ("i32", [3, 2], None, "i32"), ("slice", [2, 3], "slice", "f32"),
                                 ("empty", [0, 3], None, "f32"), ("bool", [2, 2], None, "bool")]:
        v = R.uniform(-3, 3, shape) if dt in FLOATS else (R.bools(shape) if dt == "bool" else R.ints(-9, 9, shape))
        x, xv = inp(v, dt, nc)
        case(f"t_{cname}", "t", [x], out(xv.T, dt))
    for cname, shape, d0, d1, nc, dt in [("02", [2, 3, 4], 0, 2, None, "f32"), ("neg", [2, 3, 4], -1, -2, None, "f32"),
                                         ("same", [2, 3], 1, 1, None, "f32"), ("perm", [2, 3, 4], 0, 1, "perm", "f32"),
                                         ("i64", [3, 2], 0, 1, None, "i64"), ("mixed_sign", [2, 1, 3], -3, 2, "slice", "f32"),
                                         ("2d_f64", [3, 5], 1, 0, None, "f64")]:
        v = R.uniform(-3, 3, shape) if dt in FLOATS else R.ints(-9, 9, shape)
        x, xv = inp(v, dt, nc)
        case(f"transpose_{cname}", "transpose", [x], out(np.swapaxes(xv, d0, d1), dt), {"d0": d0, "d1": d1})


# ----------------------------------------------------------------------------
# convolution and pooling
# ----------------------------------------------------------------------------
def conv2d_ref(x, w, b, stride, pad, dil, groups):
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    sh, sw = stride
    ph, pw = pad
    dh, dw = dil
    OH = (H + 2 * ph - dh * (KH - 1) - 1) // sh + 1
    OW = (W + 2 * pw - dw * (KW - 1) - 1) // sw + 1
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw))
    xp[:, :, ph:ph + H, pw:pw + W] = x
    Og = O // groups
    y = np.zeros((N, O, OH, OW))
    for n in range(N):
        for o in range(O):
            g = o // Og
            for i in range(OH):
                for j in range(OW):
                    s = 0.0
                    for c in range(Cg):
                        for kh in range(KH):
                            for kw in range(KW):
                                s += xp[n, g * Cg + c, i * sh + kh * dh, j * sw + kw * dw] * w[o, c, kh, kw]
                    y[n, o, i, j] = s + (b[o] if b is not None else 0.0)
    return y


def conv_transpose2d_ref(x, w, b, stride, pad, opad, dil, groups):
    N, C, H, W = x.shape
    Cin, Og, KH, KW = w.shape
    sh, sw = stride
    ph, pw = pad
    dh, dw = dil
    OH = (H - 1) * sh - 2 * ph + dh * (KH - 1) + opad[0] + 1
    OW = (W - 1) * sw - 2 * pw + dw * (KW - 1) + opad[1] + 1
    Cg = C // groups
    y = np.zeros((N, Og * groups, OH, OW))
    for n in range(N):
        for c in range(C):
            g = c // Cg
            for i in range(H):
                for j in range(W):
                    for o in range(Og):
                        for kh in range(KH):
                            for kw in range(KW):
                                oi = i * sh - ph + kh * dh
                                oj = j * sw - pw + kw * dw
                                if 0 <= oi < OH and 0 <= oj < OW:
                                    y[n, g * Og + o, oi, oj] += x[n, c, i, j] * w[c, o, kh, kw]
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def pool_ref(x, k, s, p, mode):
    N, C, H, W = x.shape
    OH = (H + 2 * p[0] - k[0]) // s[0] + 1
    OW = (W + 2 * p[1] - k[1]) // s[1] + 1
    fill = -math.inf if mode == "max" else 0.0
    xp = np.full((N, C, H + 2 * p[0], W + 2 * p[1]), fill)
    xp[:, :, p[0]:p[0] + H, p[1]:p[1] + W] = x
    y = np.zeros((N, C, OH, OW))
    for i in range(OH):
        for j in range(OW):
            win = xp[:, :, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]]
            y[:, :, i, j] = win.max(axis=(2, 3)) if mode == "max" else win.sum(axis=(2, 3)) / (k[0] * k[1])
    return y


def adaptive_ref(x, osz):
    N, C, H, W = x.shape
    OH, OW = osz
    y = np.zeros((N, C, OH, OW))
    for i in range(OH):
        h0, h1 = (i * H) // OH, -((-(i + 1) * H) // OH)
        for j in range(OW):
            w0, w1 = (j * W) // OW, -((-(j + 1) * W) // OW)
            y[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return y


def pair(v):
    return list(v) if isinstance(v, (list, tuple)) else [v, v]


def gen_conv():
    # conv1d via conv2d with H = 1
    for cname, xs, ws, bias, stride, pad, dil, groups, dt, nc in [
            ("basic", [2, 3, 10], [4, 3, 3], False, 1, 0, 1, 1, "f32", None),
            ("stride2", [2, 3, 11], [2, 3, 3], True, 2, 0, 1, 1, "f32", None),
            ("groups2", [1, 4, 8], [6, 2, 3], True, 1, 1, 1, 2, "f32", None),
            ("depthwise", [2, 3, 6], [3, 1, 2], False, 1, 0, 1, 3, "f32", None),
            ("all", [2, 4, 12], [4, 2, 3], True, 2, 2, 2, 2, "f32", None),
            ("f64", [1, 2, 6], [3, 2, 2], True, 1, 1, 1, 1, "f64", None),
            ("perm_input", [2, 3, 5], [2, 3, 2], False, 1, 0, 1, 1, "f32", "perm"),
            ("k1", [1, 3, 4], [5, 3, 1], True, 1, 0, 1, 1, "f32", None)]:
        jx, xv = inp(R.uniform(-2, 2, xs, 2), dt, nc)
        jw, wv = inp(R.uniform(-1, 1, ws, 2), dt)
        ins = [jx, jw]
        bv = None
        if bias:
            jb, bv = inp(R.uniform(-1, 1, [ws[0]], 2), dt)
            ins.append(jb)
        y = conv2d_ref(xv[:, :, None, :], wv[:, :, None, :], bv, (1, stride), (0, pad), (1, dil), groups)[:, :, 0, :]
        case(f"conv1d_{cname}", "conv1d", ins, out(y, dt),
             {"stride": stride, "padding": pad, "dilation": dil, "groups": groups},
             atol=1e-5 if dt == "f32" else None)

    for cname, xs, ws, bias, stride, pad, dil, groups, dt, nc in [
            ("basic", [1, 2, 5, 5], [3, 2, 3, 3], False, 1, 0, 1, 1, "f32", None),
            ("bias", [2, 3, 4, 4], [2, 3, 3, 3], True, 1, 0, 1, 1, "f32", None),
            ("stride_2_1", [1, 2, 6, 5], [2, 2, 3, 2], False, [2, 1], 0, 1, 1, "f32", None),
            ("dilation_1_2", [1, 1, 6, 8], [1, 1, 2, 3], False, 1, 1, [1, 2], 1, "f32", None),
            ("groups2", [1, 4, 5, 5], [4, 2, 3, 3], True, 1, 1, 1, 2, "f32", None),
            ("depthwise", [2, 3, 4, 4], [3, 1, 3, 3], False, 1, 1, 1, 3, "f32", None),
            ("all", [2, 4, 8, 7], [6, 2, 3, 2], True, [2, 1], [1, 0], [1, 2], 2, "f32", None),
            ("f64", [1, 2, 4, 4], [2, 2, 2, 2], True, 1, 1, 1, 1, "f64", None),
            ("f16", [1, 2, 4, 4], [2, 2, 3, 3], False, 1, 0, 1, 1, "f16", None),
            ("perm_input", [2, 2, 4, 3], [3, 2, 2, 2], False, 1, 0, 1, 1, "f32", "perm"),
            ("larger", [1, 8, 6, 6], [8, 8, 3, 3], True, 1, 1, 1, 1, "f32", None)]:
        jx, xv = inp(R.uniform(-2, 2, xs, 2), dt, nc)
        jw, wv = inp(R.uniform(-1, 1, ws, 2), dt)
        ins = [jx, jw]
        bv = None
        if bias:
            jb, bv = inp(R.uniform(-1, 1, [ws[0]], 2), dt)
            ins.append(jb)
        y = conv2d_ref(xv, wv, bv, pair(stride), pair(pad), pair(dil), groups)
        case(f"conv2d_{cname}", "conv2d", ins, out(y, dt),
             {"stride": pair(stride), "padding": pair(pad), "dilation": pair(dil), "groups": groups},
             atol=1e-4 if dt == "f32" else (5e-2 if dt == "f16" else None))

    for cname, xs, ws, bias, stride, pad, opad, dil, groups, dt in [
            ("basic", [1, 2, 3, 3], [2, 3, 3, 3], False, 1, 0, 0, 1, 1, "f32"),
            ("stride2", [1, 2, 3, 3], [2, 1, 3, 3], True, 2, 0, 0, 1, 1, "f32"),
            ("stride2_pad1", [1, 1, 4, 4], [1, 2, 3, 3], False, 2, 1, 0, 1, 1, "f32"),
            ("output_padding", [1, 2, 3, 3], [2, 2, 3, 3], True, 2, 1, 1, 1, 1, "f32"),
            ("stride_2_1", [1, 1, 3, 4], [1, 2, 2, 3], False, [2, 1], [0, 1], [1, 0], 1, 1, "f32"),
            ("dilation2", [1, 2, 3, 3], [2, 1, 2, 2], False, 1, 0, 0, 2, 1, "f32"),
            ("groups2", [1, 4, 3, 3], [4, 1, 2, 2], True, 1, 0, 0, 1, 2, "f32"),
            ("all", [2, 4, 3, 2], [4, 3, 3, 2], True, [2, 3], [1, 0], [1, 2], [1, 2], 2, "f32"),
            ("f64", [1, 2, 2, 2], [2, 2, 3, 3], True, 2, 1, 1, 1, 1, "f64"),
            ("1x1", [1, 3, 2, 2], [3, 2, 1, 1], False, 1, 0, 0, 1, 1, "f32")]:
        jx, xv = inp(R.uniform(-2, 2, xs, 2), dt)
        jw, wv = inp(R.uniform(-1, 1, ws, 2), dt)
        ins = [jx, jw]
        bv = None
        if bias:
            jb, bv = inp(R.uniform(-1, 1, [ws[1] * groups], 2), dt)
            ins.append(jb)
        y = conv_transpose2d_ref(xv, wv, bv, pair(stride), pair(pad), pair(opad), pair(dil), groups)
        case(f"conv_transpose2d_{cname}", "conv_transpose2d", ins, out(y, dt),
             {"stride": pair(stride), "padding": pair(pad), "output_padding": pair(opad),
              "dilation": pair(dil), "groups": groups},
             atol=1e-5 if dt == "f32" else None)

    for op in ("max_pool2d", "avg_pool2d"):
        mode = "max" if op == "max_pool2d" else "avg"
        for cname, xs, k, s, p, dt, nc in [
                ("k2s2", [1, 2, 4, 4], 2, 2, 0, "f32", None),
                ("k3s2p1", [1, 2, 7, 6], 3, 2, 1, "f32", None),
                ("rect", [1, 1, 5, 7], [2, 3], [1, 2], 0, "f32", None),
                ("pad_rect", [1, 1, 4, 5], [3, 2], [2, 1], [1, 0], "f32", None),
                ("f64", [1, 2, 4, 4], 2, 1, 0, "f64", None),
                ("f16", [1, 1, 4, 4], 2, 2, 0, "f16", None),
                ("perm", [2, 2, 4, 4], 2, 2, 1, "f32", "perm"),
                ("global", [2, 3, 3, 3], 3, 3, 0, "f32", None)]:
            lo = -3 if cname != "pad_rect" else -5
            hi = 3 if cname != "pad_rect" else -1  # all negative: padding must not win
            jx, xv = inp(R.uniform(lo, hi, xs, 2), dt, nc)
            y = pool_ref(xv, pair(k), pair(s), pair(p), mode)
            case(f"{op}_{cname}", op, [jx], out(y, dt), {"kernel": pair(k), "stride": pair(s), "padding": pair(p)},
                 atol=1e-5 if dt == "f32" else None)

    for cname, xs, osz, dt, nc in [
            ("5x7_to_2x3", [1, 2, 5, 7], [2, 3], "f32", None),
            ("global", [2, 3, 4, 4], [1, 1], "f32", None),
            ("exact", [1, 1, 6, 6], [3, 3], "f32", None),
            ("upsample", [1, 1, 3, 2], [4, 5], "f32", None),
            ("identity", [1, 2, 3, 3], [3, 3], "f32", None),
            ("f64", [1, 1, 7, 5], [3, 2], "f64", None),
            ("perm", [2, 2, 5, 4], [2, 2], "f32", "perm")]:
        jx, xv = inp(R.uniform(-3, 3, xs, 2), dt, nc)
        case(f"adaptive_avg_pool2d_{cname}", "adaptive_avg_pool2d", [jx], out(adaptive_ref(xv, osz), dt),
             {"output_size": osz}, atol=1e-5 if dt == "f32" else None)


# ----------------------------------------------------------------------------
# movement
# ----------------------------------------------------------------------------
def rand_for(dt, shape):
    if dt in FLOATS:
        return R.uniform(-3, 3, shape)
    if dt == "bool":
        return R.bools(shape)
    if dt == "u8":
        return R.ints(0, 255, shape)
    return R.ints(-99, 99, shape)


def unary_move(op, cname, shape, dt, nc, fn, args):
    x, xv = inp(rand_for(dt, shape), dt, nc)
    case(f"{op}_{cname}", op, [x], out(fn(xv), dt), args)


def np_slice(x, dim, start, stop, step):
    sl = [slice(None)] * x.ndim
    sl[dim] = slice(start, stop, step)
    return x[tuple(sl)]


def gen_movement():
    for cname, shape, target, dt, nc in [
            ("merge", [2, 3, 4], [6, 4], "f32", None), ("infer", [2, 3, 4], [4, -1], "f32", None),
            ("to_scalar", [1, 1], [], "f32", None),
            ("from_scalar", [], [1, 1], "f32", None), ("perm", [3, 4], [2, 6], "f32", "perm"),
            ("slice", [3, 4], [12], "f32", "slice"), ("empty", [0, 3], [3, 0], "f32", None),
("flat", [2, 3, 2], [-1], "i64", "perm")]:
        def fn(xv, target=target):
            return xv.reshape(target)
        unary_move("reshape", cname, shape, dt, nc, fn, {"shape": target})

    for cname, shape, perm, dt, nc in [
            ("201", [2, 3, 4], [2, 0, 1], "f32", None), ("neg", [2, 3, 4], [-1, 0, 1], "f32", None),
            ("identity", [2, 3], [0, 1], "f32", None), ("of_perm", [2, 3, 4], [1, 2, 0], "f32", "perm"),
            ("i32_4d", [2, 1, 3, 2], [3, 1, 0, 2], "i32", None), ("empty", [0, 2, 3], [2, 0, 1], "f32", None),
            ("slice", [3, 4], [1, 0], "f32", "slice"), ("bool", [2, 3], [1, 0], "bool", None)]:
        unary_move("permute", cname, shape, dt, nc, lambda xv, p=perm: np.transpose(xv, p), {"dims": perm})

    for op in ("expand", "broadcast_to"):
        for cname, shape, target, dt, nc in [
                ("col", [3, 1], [3, 4], "f32", None), ("lead", [1, 3], [2, 2, 3], "f32", None),
                ("scalar", [], [2, 2], "f32", None), 
                ("new_and_1", [3, 1], [2, 3, 5], "i64", None), ("perm", [1, 3], [4, 3], "f32", "perm"),
                ("to_empty", [1, 3], [0, 3], "f32", None), ("slice", [2, 1, 3], [2, 4, 3], "f32", "slice")]:
            unary_move(op, cname, shape, dt, nc, lambda xv, t=target: np.broadcast_to(xv, t),
                       {"shape": target})

    for cname, shape, dim, dt, nc in [("first", [1, 3, 1], 0, "f32", None), ("last_neg", [1, 3, 1], -1, "f32", None),
                                      ("not_one", [2, 3], 1, "f32", None), ("to_scalar", [1], 0, "f32", None),
                                      ("i32", [2, 1, 3], 1, "i32", "perm")]:
        def fn(xv, dim=dim):
            return np.squeeze(xv, dim) if xv.shape[dim] == 1 else xv
        unary_move("squeeze", cname, shape, dt, nc, fn, {"dim": dim})
    for cname, shape, dim, dt, nc in [("front", [2, 3], 0, "f32", None), ("back_neg", [2, 3], -1, "f32", None),
                                      ("mid", [2, 3], 1, "f32", None), ("scalar", [], 0, "f32", None),
                                      ("neg_mid", [2, 3], -2, "i64", "perm"), ("end", [2, 3], 2, "f32", None)]:
        unary_move("unsqueeze", cname, shape, dt, nc, lambda xv, d=dim: np.expand_dims(xv, d), {"dim": dim})
    for cname, shape, s, e, dt, nc in [("all", [2, 3, 4], 0, -1, "f32", None), ("tail", [2, 3, 4], 1, 2, "f32", None),
                                       ("head", [2, 3, 4], 0, 1, "f32", None), ("noop", [2, 3], 1, 1, "f32", None),
                                       ("perm", [2, 3, 4], 0, -1, "f32", "perm"), ("neg", [2, 3, 2, 2], -3, -2, "i32", None),
                                       ("empty", [0, 3], 0, 1, "f32", None)]:
        def fn(xv, s=s, e=e):
            r = xv.ndim
            s2, e2 = s % r, e % r
            return xv.reshape(xv.shape[:s2] + (int(np.prod(xv.shape[s2:e2 + 1])),) + xv.shape[e2 + 1:])
        unary_move("flatten", cname, shape, dt, nc, fn, {"start": s, "end": e})

    for cname, shape, dim, start, stop, step, dt, nc in [
            ("basic", [6, 2], 0, 1, 4, 1, "f32", None), ("step2", [7], 0, 0, 7, 2, "f32", None),
            ("neg_idx", [6, 2], 0, -4, -1, 1, "f32", None), ("clamp", [5], 0, -10, 10, 1, "f32", None),
            ("reverse", [5, 2], 0, None, None, -1, "f32", None), ("rev_range", [6], 0, 4, 1, -1, "f32", None), ("rev_neg", [6], 0, -1, -5, -2, "f32", None),
            ("open_end", [2, 6], -1, 2, None, 2, "f32", None),
            ("crossed", [5], 0, 4, 1, 1, "f32", None),
            ("perm", [4, 5], 1, 1, 4, 2, "f32", "perm"), ("of_slice", [4, 3], 0, 1, None, 1, "i32", "slice"),
            ("i64_rev_dim1", [2, 5], 1, None, None, -1, "i64", None), ("mid_dim", [2, 5, 3], 1, 1, -1, 2, "f32", None),
            ("rev_clamp", [5], 0, 10, -10, -3, "f32", None)]:
        unary_move("slice", cname, shape, dt, nc, lambda xv, d=dim, a=start, b=stop, c=step: np_slice(xv, d, a, b, c),
                   {"dim": dim, "start": start, "stop": stop, "step": step})

    for cname, shape, dim, start, ln, dt, nc in [("dim0", [5, 2], 0, 1, 2, "f32", None), ("neg", [2, 6], -1, 3, 3, "f32", None),
                                                 ("empty", [4], 0, 2, 0, "f32", None), ("full", [3], 0, 0, 3, "i32", None),
                                                 ("perm", [3, 4], 0, 1, 2, "f32", "perm")]:
        unary_move("narrow", cname, shape, dt, nc, lambda xv, d=dim, a=start, n=ln: np_slice(xv, d, a, a + n, 1),
                   {"dim": dim, "start": start, "len": ln})

    # cat / stack
    for cname, shapes, dim, dt, ncs in [
            ("dim1", [[2, 1], [2, 3]], 1, "f32", None),
            ("neg", [[2, 2, 2], [2, 2, 1]], -1, "f32", None), ("three", [[1, 2], [2, 2], [3, 2]], 0, "i64", None),
            ("with_empty", [[0, 3], [2, 3]], 0, "f32", None), ("perm_slice", [[3, 2], [3, 2]], 1, "f32", ["perm", "slice"]),
            ("bool", [[2], [3]], 0, "bool", None), ("1d", [[3], [4]], -1, "f64", None)]:
        ins, vals = [], []
        for i, s in enumerate(shapes):
            j, v = inp(rand_for(dt, s), dt, ncs[i] if ncs else None)
            ins.append(j)
            vals.append(v)
        case(f"cat_{cname}", "cat", ins, out(np.concatenate(vals, axis=dim), dt), {"dim": dim})
    for cname, shape, n, dim, dt, ncs in [
            ("dim0", [2, 3], 2, 0, "f32", None), ("dim1", [2, 3], 3, 1, "f32", None),
            ("last", [2, 3], 2, 2, "f32", None), ("neg", [2, 3], 2, -1, "f32", None),
            ("scalars", [], 3, 0, "i32", None), ("perm", [3, 2], 2, 0, "f32", ["perm", "slice"]),
            ("empty", [0, 2], 2, 1, "f32", None), ("neg3", [2], 2, -2, "f64", None)]:
        ins, vals = [], []
        for i in range(n):
            j, v = inp(rand_for(dt, shape), dt, ncs[i] if ncs else None)
            ins.append(j)
            vals.append(v)
        case(f"stack_{cname}", "stack", ins, out(np.stack(vals, axis=dim), dt), {"dim": dim})

    # split / chunk
    for cname, shape, size, dim, dt, nc in [("uneven", [5, 2], 2, 0, "f32", None), ("even", [2, 6], 3, 1, "f32", None),
                                            ("neg", [2, 5], 4, -1, "i64", None), ("big", [3], 5, 0, "f32", None),
                                            ("perm", [4, 3], 2, 0, "f32", "perm"), ("ones", [3, 2], 1, 0, "f32", None)]:
        x, xv = inp(rand_for(dt, shape), dt, nc)
        n = xv.shape[dim]
        parts = [np_slice(xv, dim, i, min(i + size, n), 1) for i in range(0, n, size)]
        case(f"split_{cname}", "split", [x], [out(p, dt) for p in parts], {"size": size, "dim": dim}, dt=dt)
    for cname, shape, chunks, dim, dt, nc in [("5_by_3", [5, 2], 3, 0, "f32", None), ("6_by_4", [6], 4, 0, "f32", None),
                                              ("even", [2, 4], 2, 1, "f32", None), ("neg", [2, 7], 3, -1, "i32", None),
                                              ("more_than_size", [3], 5, 0, "f32", None), ("perm", [4, 3], 2, 1, "f32", "perm")]:
        x, xv = inp(rand_for(dt, shape), dt, nc)
        n = xv.shape[dim]
        csz = -(-n // chunks)
        parts = [np_slice(xv, dim, i, min(i + csz, n), 1) for i in range(0, n, csz)]
        case(f"chunk_{cname}", "chunk", [x], [out(p, dt) for p in parts], {"chunks": chunks, "dim": dim}, dt=dt)

    # pad / pad_reflect
    for cname, shape, pads, value, dt, nc in [
            ("2d", [2, 3], [[1, 1], [2, 0]], 0.0, "f32", None), ("last_only", [2, 3], [[0, 2]], -1.5, "f32", None),
            ("1d", [4], [[3, 1]], 2.0, "f32", None), ("all_dims", [2, 2], [[1, 1], [1, 1]], 9.0, "i32", None), ("perm", [3, 2], [[1, 2]], 0.0, "f32", "perm"),
            ("empty", [0, 2], [[1, 1], [0, 0]], 3.0, "f32", None),
            ("f64_neg_inf", [2], [[1, 1]], -math.inf, "f64", None), ("slice", [2, 3], [[2, 2]], 1.0, "f32", "slice")]:
        x, xv = inp(rand_for(dt, shape), dt, nc)
        full = [(0, 0)] * (len(shape) - len(pads)) + [tuple(p) for p in pads]
        e = np.pad(xv, full, mode="constant", constant_values=value)
        case(f"pad_{cname}", "pad", [x], out(e, dt), {"pads": pads, "value": enc_val(value, "f64")})
    for cname, shape, pads, dt, nc in [("1d", [5], [[2, 1]], "f32", None), ("2d", [3, 4], [[1, 2], [2, 3]], "f32", None),
                                       ("last", [2, 4], [[1, 1]], "f32", None), ("perm", [3, 3], [[1, 0]], "f32", "perm"),
                                       ("3d", [2, 3, 3], [[2, 2], [1, 1]], "f64", None), ("zero", [2, 3], [[0, 0]], "f32", None)]:
        x, xv = inp(rand_for(dt, shape), dt, nc)
        full = [(0, 0)] * (len(shape) - len(pads)) + [tuple(p) for p in pads]
        case(f"pad_reflect_{cname}", "pad_reflect", [x], out(np.pad(xv, full, mode="reflect"), dt), {"pads": pads})

    for cname, shape, dims, dt, nc in [("dim0", [3, 2], [0], "f32", None), ("both", [2, 3], [0, 1], "f32", None),
                                       ("neg", [2, 3, 4], [-1], "f32", None), ("perm", [3, 4], [1], "f32", "perm"),
                                       ("i64_mid", [2, 3, 2], [1, -1], "i64", None), ("slice", [3, 2], [0], "f32", "slice"),
                                       ("empty", [0, 3], [1], "f32", None)]:
        unary_move("flip", cname, shape, dt, nc, lambda xv, d=dims: np.flip(xv, tuple(d)), {"dims": dims})
    for cname, shape, reps, dt, nc in [("2x1", [2, 3], [2, 1], "f32", None), ("lead", [2, 3], [1, 2, 2], "f32", None),
                                       ("1d", [3], [3], "i32", None), ("ones", [2, 2], [1, 1], "f32", None),
                                       ("perm", [3, 2], [2, 3], "f32", "perm"), ("zero", [2, 2], [0, 1], "f32", None),
                                       ("bool", [2], [2, 2], "bool", None)]:
        unary_move("repeat", cname, shape, dt, nc, lambda xv, r=reps: np.tile(xv, r), {"reps": reps})
    for op, f in (("tril", np.tril), ("triu", np.triu)):
        for cname, shape, k, dt, nc in [("k0", [3, 3], 0, "f32", None), ("k1", [3, 4], 1, "f32", None),
                                        ("km1", [4, 3], -1, "f32", None), ("wide", [3, 5], 2, "i32", None),
                                        ("batched", [2, 3, 3], 0, "f32", None), ("perm", [3, 4], -2, "f32", "perm"),
                                        ("big_k", [2, 2], 5, "f64", None), ("bool", [3, 3], 0, "bool", None)]:
            unary_move(op, cname, shape, dt, nc, lambda xv, k=k, f=f: f(xv, k), {"k": k})


# ----------------------------------------------------------------------------
# indexing
# ----------------------------------------------------------------------------
def gen_indexing():
    # gather
    for cname, shape, ishape, dim, dt, nc in [
            ("dim1", [3, 4], [3, 2], 1, "f32", None), ("dim0", [3, 4], [2, 4], 0, "f32", None),
            ("neg", [2, 3, 4], [2, 3, 5], -1, "f32", None), ("smaller", [4, 5], [2, 3], 1, "f32", None),
            ("perm", [3, 4], [3, 4], 0, "f32", "perm"), ("i64", [2, 5], [2, 3], 1, "i64", None),
            ("empty", [3, 4], [3, 0], 1, "f32", None), ("f64_mid", [2, 3, 2], [2, 4, 2], 1, "f64", None)]:
        x, xv = inp(rand_for(dt, shape), dt, nc)
        d = dim % len(shape)
        idx = R.ints(0, shape[d], ishape)
        ji, iv = inp(idx, "i64")
        e = np.zeros(ishape)
        for pos in np.ndindex(*ishape):
            src = list(pos)
            src[d] = int(iv[pos])
            e[pos] = xv[tuple(src)]
        case(f"gather_{cname}", "gather", [x, ji], out(e, dt), {"dim": dim})

    # scatter (distinct indices along dim) / scatter_add (duplicates allowed)
    for op in ("scatter", "scatter_add"):
        for cname, shape, ishape, dim, dt, nc in [
                ("dim0", [3, 4], [2, 4], 0, "f32", None), ("dim1", [3, 5], [3, 3], 1, "f32", None),
                ("neg", [2, 3, 4], [2, 3, 2], -1, "f32", None), ("perm_self", [4, 3], [3, 3], 0, "f32", "perm"),
                ("i64", [2, 4], [2, 4], 1, "i64", None), ("smaller_other", [4, 4], [2, 3], 1, "f32", None),
                ("f64", [5], [3], 0, "f64", None)]:
            x, xv = inp(rand_for(dt, shape), dt, nc)
            d = dim % len(shape)
            idx = np.zeros(ishape)
            for pos in np.ndindex(*[s for i, s in enumerate(ishape) if i != d]):
                if op == "scatter":
                    cand = list(R.distinct([shape[d]], 0, 1).astype(int))[:ishape[d]]
                else:
                    cand = list(R.ints(0, shape[d], [ishape[d]]).astype(int))
                for k, c in enumerate(cand):
                    full = list(pos)
                    full.insert(d, k)
                    idx[tuple(full)] = c
            ji, iv = inp(idx, "i64")
            js, sv = inp(rand_for(dt, ishape), dt)
            e = xv.copy()
            for pos in np.ndindex(*ishape):
                tgt = list(pos)
                tgt[d] = int(iv[pos])
                if op == "scatter":
                    e[tuple(tgt)] = sv[pos]
                else:
                    e[tuple(tgt)] += sv[pos]
            case(f"{op}_{cname}", op, [x, ji, js], out(e, dt), {"dim": dim})
    # scatter_add with many duplicates
    x, xv = inp(np.zeros([4]), "f32")
    ji, iv = inp(np.array([0, 1, 0, 3, 0, 1]), "i64")
    js, sv = inp(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), "f32")
    e = xv.copy()
    np.add.at(e, iv.astype(int), sv)
    case("scatter_add_duplicates", "scatter_add", [x, ji, js], out(e, "f32"), {"dim": 0})

    for cname, shape, dim, idx, dt, nc in [("dim0", [4, 3], 0, [2, 0], "f32", None),
                                           ("dim1_repeat", [2, 4], 1, [3, 3, 0, 1, 3], "f32", None),
                                           ("neg", [2, 3, 4], -1, [1, 2], "i32", None),
                                           ("perm", [3, 4], 0, [1, 2, 0], "f32", "perm"),
                                           ("empty_idx", [3, 2], 0, [], "f32", None),
                                           ("1d", [5], 0, [4, 0, 4], "f64", None),
                                           ("slice", [4, 2], 1, [1], "f32", "slice")]:
        x, xv = inp(rand_for(dt, shape), dt, nc)
        ji, iv = inp(np.array(idx, dtype=np.float64), "i64")
        case(f"index_select_{cname}", "index_select", [x, ji],
             out(np.take(xv, iv.astype(int), axis=dim), dt), {"dim": dim})

    for cname, shape, mshape, value, dt, nc in [("same", [2, 3], [2, 3], 0.0, "f32", None),
                                                ("bcast_row", [3, 4], [4], -1.0, "f32", None),
                                                ("neg_inf", [2, 3], [2, 3], -math.inf, "f32", None),
                                                ("i64", [2, 3], [1, 3], 5.0, "i64", None),
                                                ("perm", [3, 4], [3, 4], 2.0, "f32", "perm"),
                                                ("scalar_mask", [2, 2], [], 3.0, "f32", None),
                                                ("nan", [3], [3], math.nan, "f32", None)]:
        x, xv = inp(rand_for(dt, shape), dt, nc)
        jm, mv = inp(R.bools(mshape), "bool", nc if mshape == shape else None)
        case(f"masked_fill_{cname}", "masked_fill", [x, jm], out(np.where(mv > 0, value, xv), dt),
             {"value": enc_val(value, "f64")})

    for cname, ishape, n in [("1d", [4], 5), ("2d", [2, 3], 4), ("scalar", [], 3), ("empty", [0], 3),
                             ("one_class", [3], 1)]:
        idx = R.ints(0, n, ishape)
        ji, iv = inp(idx, "i64")
        e = (iv[..., None] == np.arange(n)).astype(np.float64)
        case(f"one_hot_{cname}", "one_hot", [ji], out(e, "i64"), {"num_classes": n})

    for cname, ishape, vocab, dim, dt, nc in [("1d", [4], 5, 3, "f32", None), ("2d", [2, 3], 6, 4, "f32", None),
                                              ("scalar", [], 3, 2, "f32", None), ("f64", [3], 4, 2, "f64", None),
                                              ("perm_weight", [2, 2], 4, 3, "f32", "perm"),
                                              ("f16", [3], 5, 4, "f16", None), ("empty", [0], 3, 2, "f32", None)]:
        ji, iv = inp(R.ints(0, vocab, ishape), "i64")
        jw, wv = inp(rand_for(dt, [vocab, dim]), dt, nc)
        case(f"embedding_{cname}", "embedding", [ji, jw], out(wv[iv.astype(int)], dt))


# ----------------------------------------------------------------------------
# creation and casts
# ----------------------------------------------------------------------------
def gen_creation():
    for op, v in (("zeros", 0.0), ("ones", 1.0)):
        for shape, dt in [([2, 3], "f32"), ([0], "i64"), ([], "f64"), ([2, 1, 2], "bool"), ([3], "f16")]:
            case(f"{op}_{dt}_{len(shape)}d", op, [], out(np.full(shape, v), dt), {"shape": shape, "dtype": dt})
    for i, (shape, value, dt) in enumerate([([2, 3], 2.5, "f32"), ([3], -3.0, "i64"), ([], 1e-3, "f64"),
                                            ([2, 2], 1.0, "bool"), ([0, 2], 4.0, "f32"), ([2], 0.1, "bf16"),
                                            ([2], -7.0, "i32")]):
        case(f"full_{i}_{dt}", "full", [], out(np.full(shape, value), dt),
             {"shape": shape, "value": value, "dtype": dt})
    for cname, a, b, s, dt in [("int", 0, 5, 1, "i64"), ("frac", 0.5, 2.0, 0.25, "f32"), ("neg_step", 5, 0, -1.5, "f32"),
                               ("empty", 3, 3, 1, "i64"), ("f64", -1, 1, 0.3, "f64"), ("i32_step3", 1, 11, 3, "i32")]:
        n = max(0, math.ceil((b - a) / s))
        e = np.array([a + i * s for i in range(n)], dtype=np.float64)
        case(f"arange_{cname}", "arange", [], out(e, dt), {"start": a, "end": b, "step": s, "dtype": dt})
    for cname, a, b, n, dt in [("unit", 0, 1, 5, "f32"), ("one", 3, 7, 1, "f32"), ("zero", 0, 1, 0, "f32"),
                               ("f64_desc", 2, -2, 7, "f64"), ("f32_long", -1, 1, 11, "f32")]:
        e = np.linspace(a, b, n)
        case(f"linspace_{cname}", "linspace", [], out(e, dt), {"start": a, "end": b, "steps": n, "dtype": dt},
             atol=1e-6 if dt == "f32" else None)
    for n, dt in [(3, "f32"), (1, "i64"), (0, "f32"), (4, "bool"), (2, "f64")]:
        case(f"eye_{n}_{dt}", "eye", [], out(np.eye(n), dt), {"n": n, "dtype": dt})
    for value, dt in [(3.5, "f32"), (7, "i64"), (True, "bool"), (-2.25, "f64"), (200, "u8"), (0.5, "f16")]:
        case(f"scalar_{dt}", "scalar", [], out(np.array(float(value)), dt), {"value": enc_val(value, dt), "dtype": dt})

    for cname, vals, src, dst in [
            ("f32_to_i32_trunc", [1.7, -1.7, 0.0, 2.0, -0.5], "f32", "i32"),
            ("f32_to_f16", [0.1, 1.0 / 3, 65504.0, -2.5e-3], "f32", "f16"),
            ("f32_to_bf16", [0.1, 1.0 / 3, 3.0e38, -2.5e-3], "f32", "bf16"),
            ("f64_to_f32", [0.1, -1.0 / 3, 1e-40], "f64", "f32"),
            ("f32_to_bool", [0.0, 1.5, -0.0, math.nan], "f32", "bool"),
            ("bool_to_f32", [1, 0, 1], "bool", "f32"),
            ("i64_to_f64", [12345678901, -3], "i64", "f64"),
            ("i32_to_f32", [16777217, -7], "i32", "f32"),
            ("i32_to_u8", [0, 200, 255], "i32", "u8"),
            ("f16_to_f32", [0.1, -65504.0], "f16", "f32"),
            ("bf16_to_f16", [0.1, 2.5], "bf16", "f16"),
            ]:
        x, xv = inp(np.array(vals, dtype=np.float64), src)
        # rtol 1e-15 for f64: serde_json's default float parser may be off by one ulp
        case(f"to_dtype_{cname}", "to_dtype", [x], out(xv, dst, exact=True), {"dtype": dst},
             rtol=1e-15 if dst == "f64" else 0.0, atol=0.0)
    x, xv = inp(R.uniform(-3, 3, [3, 4]), "f32", "perm")
    case("to_dtype_perm_f64", "to_dtype", [x], out(xv, "f64", exact=True), {"dtype": "f64"}, rtol=1e-15, atol=0.0)
    x, xv = inp(R.uniform(-3, 3, [3, 2]), "f32", "slice")
    case("to_dtype_slice_f16", "to_dtype", [x], out(xv, "f16"), {"dtype": "f16"}, rtol=0.0, atol=0.0)


def main():
    gen_creation()
    gen_unary()
    gen_binary()
    gen_reductions()
    gen_linalg()
    gen_conv()
    gen_movement()
    gen_indexing()
    text = "[\n" + ",\n".join(json.dumps(c, indent=None, sort_keys=True, allow_nan=False) for c in CASES) + "\n]\n"
    if "--check" in sys.argv:
        with open(OUT) as f:
            if f.read() != text:
                print(f"{OUT} is out of date: run {sys.argv[0]}", file=sys.stderr)
                sys.exit(1)
        print(f"{OUT} is up to date ({len(CASES)} cases)")
        return
    with open(OUT, "w") as f:
        f.write(text)
    counts = {}
    for c in CASES:
        counts[c["op"]] = counts.get(c["op"], 0) + 1
    if "-v" in sys.argv:
        for k in sorted(counts):
            print(f"{k:22s} {counts[k]}")
    print(f"wrote {len(CASES)} cases, {len(counts)} ops, {len(text)} bytes to {OUT}")


if __name__ == "__main__":
    main()
