//! Property tests: the engine against small naive reference implementations
//! (plain loops over row-major `Vec<f64>`), on random shapes, axes and op chains.
//! With `BORN_DEVICE=gpu` the tensors live on the GPU (install/test.sh runs both).
//!
//! Every property builds its inputs from proptest-drawn shapes and a seed, runs the
//! engine, and compares shape and values with the reference; failure messages name
//! the op, the shapes and the axes involved.

use born::prelude::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

// ---------------------------------------------------------------------------
// Reference helpers
// ---------------------------------------------------------------------------

/// A tiny deterministic generator (splitmix64), so tensor contents come from one seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// `n` small integers in `lo..=hi`, as f64.
    fn ints(&mut self, n: usize, lo: i64, hi: i64) -> Vec<f64> {
        (0..n)
            .map(|_| (lo + self.below((hi - lo + 1) as usize) as i64) as f64)
            .collect()
    }

    /// A random permutation of `0..n`.
    fn perm(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            p.swap(i, self.below(i + 1));
        }
        p
    }
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Calls `f` with every multi-index of `shape`, in row-major order.
fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize])) {
    if numel(shape) == 0 {
        return;
    }
    let mut idx = vec![0usize; shape.len()];
    loop {
        f(&idx);
        let mut d = shape.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// A row-major n-d array of f64: the reference the engine is checked against.
#[derive(Clone, Debug, PartialEq)]
struct Nd {
    shape: Vec<usize>,
    data: Vec<f64>,
}

impl Nd {
    fn new(shape: Vec<usize>, data: Vec<f64>) -> Nd {
        assert_eq!(numel(&shape), data.len(), "reference: bad data length for {shape:?}");
        Nd { shape, data }
    }

    fn from_fn(shape: Vec<usize>, mut f: impl FnMut(&[usize]) -> f64) -> Nd {
        let mut data = Vec::with_capacity(numel(&shape));
        for_each_index(&shape, |i| data.push(f(i)));
        Nd { shape, data }
    }

    fn rank(&self) -> usize {
        self.shape.len()
    }

    fn offset(&self, idx: &[usize]) -> usize {
        let mut off = 0;
        for (d, &i) in idx.iter().enumerate() {
            assert!(i < self.shape[d], "reference: index {idx:?} outside {:?}", self.shape);
            off = off * self.shape[d] + i;
        }
        off
    }

    fn get(&self, idx: &[usize]) -> f64 {
        self.data[self.offset(idx)]
    }

    /// The element that a broadcast to a shape of rank `idx.len()` puts at `idx`.
    fn get_broadcast(&self, idx: &[usize]) -> f64 {
        let lead = idx.len() - self.rank();
        let src: Vec<usize> = (0..self.rank())
            .map(|d| if self.shape[d] == 1 { 0 } else { idx[lead + d] })
            .collect();
        self.get(&src)
    }

    fn reshape(&self, spec: &[isize]) -> Nd {
        let known: usize = spec.iter().filter(|&&d| d >= 0).map(|&d| d as usize).product();
        let shape = spec
            .iter()
            .map(|&d| if d < 0 { self.data.len() / known } else { d as usize })
            .collect();
        Nd::new(shape, self.data.clone())
    }

    /// Output dim `i` is input dim `perm[i]`.
    fn permute(&self, perm: &[usize]) -> Nd {
        let shape = perm.iter().map(|&p| self.shape[p]).collect();
        Nd::from_fn(shape, |i| {
            let mut src = vec![0; perm.len()];
            for (k, &p) in perm.iter().enumerate() {
                src[p] = i[k];
            }
            self.get(&src)
        })
    }

    /// Keeps the entries `indices` (in that order) along `dim`.
    fn take(&self, dim: usize, indices: &[usize]) -> Nd {
        let mut shape = self.shape.clone();
        shape[dim] = indices.len();
        Nd::from_fn(shape, |i| {
            let mut src = i.to_vec();
            src[dim] = indices[i[dim]];
            self.get(&src)
        })
    }

    fn flip(&self, dim: usize) -> Nd {
        let n = self.shape[dim];
        self.take(dim, &(0..n).rev().collect::<Vec<_>>())
    }

    /// The data as a realized tensor of `dtype`, on the default device (`BORN_DEVICE=gpu`
    /// runs these properties on the GPU; f64 stays on the CPU, which has it).
    fn tensor(&self, dtype: DType) -> Tensor {
        let t = Tensor::from_vec(self.data.clone(), self.shape.clone())
            .to_dtype(dtype)
            .realize();
        match born::runtime().default_device() {
            gpu @ Device::Gpu(_) if dtype != DType::F64 => t.to_device(gpu),
            _ => t,
        }
    }
}

/// Whether new tensors go to a GPU (`BORN_DEVICE=gpu`): f64 values stay on the CPU there.
fn on_gpu() -> bool {
    born::runtime().default_device().is_gpu()
}

/// The dtype for small integer values: f64, or f32 (exact for them) where tensors go to a GPU.
fn exact_float() -> DType {
    if on_gpu() {
        DType::F32
    } else {
        DType::F64
    }
}

/// CPython's `slice(start, stop, step).indices(n)`, expanded to the index list.
fn py_slice(n: usize, start: Option<isize>, stop: Option<isize>, step: isize) -> Vec<usize> {
    let n = n as isize;
    let (lower, upper) = if step > 0 { (0, n) } else { (-1, n - 1) };
    let adjust = |v: isize| if v < 0 { (v + n).max(lower) } else { v.min(upper) };
    let start = start.map_or(if step < 0 { upper } else { lower }, adjust);
    let stop = stop.map_or(if step < 0 { lower } else { upper }, adjust);
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        out.push(i as usize);
        i += step;
    }
    out
}

/// NumPy's broadcasting rule, written out independently of the engine.
fn np_broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let r = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| if i < r - s.len() { 1 } else { s[i - (r - s.len())] };
    (0..r)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// Elementwise binary op with broadcasting.
fn naive_binary(a: &Nd, b: &Nd, f: impl Fn(f64, f64) -> f64) -> Nd {
    let shape = np_broadcast(&a.shape, &b.shape).expect("reference: shapes must broadcast");
    Nd::from_fn(shape, |i| f(a.get_broadcast(i), b.get_broadcast(i)))
}

/// Compares values: same length, and equal within `tol * (1 + |want|)` (NaN equals NaN).
fn compare(got: &[f64], want: &[f64], tol: f64) -> Option<String> {
    if got.len() != want.len() {
        return Some(format!("length {} vs expected {}", got.len(), want.len()));
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let same = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= tol * (1.0 + w.abs());
        if !same {
            return Some(format!("element {i}: got {g}, expected {w}"));
        }
    }
    None
}

/// Checks shape and values of `t` against `want`, with `ctx` describing the case.
fn check(t: &Tensor, want: &Nd, tol: f64, ctx: &str) -> std::result::Result<(), TestCaseError> {
    prop_assert_eq!(t.shape(), &want.shape[..], "shape mismatch: {}", ctx);
    let got = t.to_vec_f64();
    if let Some(m) = compare(&got, &want.data, tol) {
        return Err(TestCaseError::fail(format!(
            "{ctx}: {m}\n  got:      {got:?}\n  expected: {:?}",
            want.data
        )));
    }
    Ok(())
}

/// Turns a raw number into an axis of a rank-`r` tensor, negative about half the time.
fn axis(raw: usize, r: usize) -> isize {
    let a = raw % (2 * r.max(1));
    if a >= r {
        a as isize - 2 * r as isize
    } else {
        a as isize
    }
}

fn resolve_axis(a: isize, r: usize) -> usize {
    if a < 0 {
        (a + r as isize) as usize
    } else {
        a as usize
    }
}

fn shape_strategy(max_rank: usize, max_dim: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..=max_dim, 0..=max_rank)
}

/// Builds a shape aligned right against `base`, each dim kept, set to 1, or random.
fn derived_shape(base: &[usize], rank: usize, choices: &[(u8, usize)]) -> Vec<usize> {
    let off = base.len() - rank;
    (0..rank)
        .map(|i| match choices[i].0 {
            0 => base[off + i],
            1 => 1,
            _ => choices[i].1,
        })
        .collect()
}

fn pair_strategy() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (
        prop::collection::vec(0usize..=5, 4),
        0usize..=4,
        prop::collection::vec((0u8..3, 0usize..=5), 4),
        0usize..=4,
        prop::collection::vec((0u8..3, 0usize..=5), 4),
    )
        .prop_map(|(base, ra, ca, rb, cb)| (derived_shape(&base, ra, &ca), derived_shape(&base, rb, &cb)))
}

/// `cases` cases, and no regression files written next to the tests.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const FLOATS: [DType; 2] = [DType::F32, DType::F64];

// ---------------------------------------------------------------------------
// 1. Broadcasting
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    /// `try_add` succeeds iff NumPy's rule broadcasts the shapes, with NumPy's shape and
    /// the naive broadcast sum; otherwise the error names the op and both shapes.
    #[test]
    fn broadcasting_follows_numpy((sa, sb) in pair_strategy(), seed in any::<u64>(), lazy in any::<bool>()) {
        let mut rng = Rng(seed);
        let a = Nd::new(sa.clone(), rng.ints(numel(&sa), -9, 9));
        let b = Nd::new(sb.clone(), rng.ints(numel(&sb), -9, 9));
        let (mut ta, mut tb) = (a.tensor(DType::F64), b.tensor(DType::F64));
        if lazy {
            ta = &ta + 0.0;
            tb = &tb * 1.0;
        }
        let ctx = format!("add {sa:?} + {sb:?} (lazy inputs: {lazy})");
        match (np_broadcast(&sa, &sb), ta.try_add(&tb)) {
            (Some(_), Ok(t)) => check(&t, &naive_binary(&a, &b, |x, y| x + y), 0.0, &ctx)?,
            (None, Err(e)) => {
                let m = e.to_string();
                prop_assert!(
                    m.contains("add") && m.contains(&format!("{sa:?}")) && m.contains(&format!("{sb:?}")),
                    "{}: the error must name add and both shapes, got {:?}", ctx, m
                );
            }
            (Some(s), Err(e)) => prop_assert!(false, "{}: NumPy broadcasts to {:?} but the engine says {}", ctx, s, e),
            (None, Ok(t)) => prop_assert!(false, "{}: NumPy rejects this but the engine gives shape {:?}", ctx, t.shape()),
        }
    }
}

// ---------------------------------------------------------------------------
// 2. Movement ops
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Move {
    Reshape(u64),
    Permute(u64),
    Transpose(usize, usize),
    T,
    Flip(u8),
    Slice {
        dim: usize,
        start: Option<isize>,
        stop: Option<isize>,
        step: isize,
    },
    Unsqueeze(usize),
    Flatten(usize, usize),
}

fn move_strategy() -> impl Strategy<Value = Move> {
    prop_oneof![
        2 => any::<u64>().prop_map(Move::Reshape),
        2 => any::<u64>().prop_map(Move::Permute),
        1 => (0usize..8, 0usize..8).prop_map(|(a, b)| Move::Transpose(a, b)),
        1 => Just(Move::T),
        1 => any::<u8>().prop_map(Move::Flip),
        4 => (
            0usize..8,
            prop::option::of(-7isize..=7),
            prop::option::of(-7isize..=7),
            prop_oneof![-3isize..=-1, 1isize..=3],
        )
            .prop_map(|(dim, start, stop, step)| Move::Slice { dim, start, stop, step }),
        1 => (0usize..10).prop_map(Move::Unsqueeze),
        1 => (0usize..8, 0usize..8).prop_map(|(a, b)| Move::Flatten(a, b)),
    ]
}

/// A shape spec with the same number of elements (one dim may be -1).
fn reshape_target(n: usize, rng: &mut Rng) -> Vec<isize> {
    if n == 0 {
        let k = 1 + rng.below(3);
        let mut s: Vec<isize> = (0..k).map(|_| rng.below(4) as isize).collect();
        s[rng.below(k)] = 0;
        return s;
    }
    let k = match rng.below(5) {
        0 if n == 1 => 0,
        0 => 1,
        k => k,
    };
    let mut dims = vec![1usize; k];
    let (mut rest, mut p) = (n, 2);
    while rest > 1 {
        while rest.is_multiple_of(p) {
            dims[rng.below(k)] *= p;
            rest /= p;
        }
        p += 1;
    }
    let mut s: Vec<isize> = dims.iter().map(|&d| d as isize).collect();
    if k > 0 && rng.below(3) == 0 {
        s[rng.below(k)] = -1;
    }
    s
}

fn slice_tensor(t: &Tensor, dim: isize, start: Option<isize>, stop: Option<isize>, step: isize) -> Tensor {
    match (start, stop) {
        (Some(s), Some(e)) => t.slice(dim, s..e, step),
        (Some(s), None) => t.slice(dim, s.., step),
        (None, Some(e)) => t.slice(dim, ..e, step),
        (None, None) => t.slice(dim, .., step),
    }
}

/// Applies one movement to both the engine tensor and the reference; returns a description.
fn apply_move(t: &Tensor, nd: &Nd, mv: &Move) -> (Tensor, Nd, String) {
    let r = nd.rank();
    match *mv {
        Move::Reshape(seed) => {
            let spec = reshape_target(nd.data.len(), &mut Rng(seed));
            (t.reshape(spec.clone()), nd.reshape(&spec), format!("reshape({spec:?})"))
        }
        Move::Permute(seed) => {
            let perm = Rng(seed).perm(r);
            // Name some dims negatively: permute accepts both.
            let named: Vec<isize> = perm
                .iter()
                .enumerate()
                .map(|(i, &p)| {
                    if i % 2 == 1 {
                        p as isize - r as isize
                    } else {
                        p as isize
                    }
                })
                .collect();
            (
                t.permute(named.clone()),
                nd.permute(&perm),
                format!("permute({named:?})"),
            )
        }
        Move::Transpose(a, b) if r > 0 => {
            let (a, b) = (axis(a, r), axis(b, r));
            let mut perm: Vec<usize> = (0..r).collect();
            perm.swap(resolve_axis(a, r), resolve_axis(b, r));
            (t.transpose(a, b), nd.permute(&perm), format!("transpose({a}, {b})"))
        }
        // t() on a 0-d tensor fails (see `t_of_a_0d_tensor_is_itself`), so it is drawn on ranks 1 and 2.
        Move::T if (1..=2).contains(&r) => {
            let perm: Vec<usize> = (0..r).rev().collect();
            (t.t(), nd.permute(&perm), "t()".to_string())
        }
        Move::Flip(mask) => {
            let mut axes = Vec::new();
            let mut want = nd.clone();
            for d in 0..r {
                if mask & (1 << d) != 0 {
                    axes.push(if mask & (1 << (d + 4)) != 0 {
                        d as isize - r as isize
                    } else {
                        d as isize
                    });
                    want = want.flip(d);
                }
            }
            (t.flip(axes.clone()), want, format!("flip({axes:?})"))
        }
        Move::Slice { dim, start, stop, step } if r > 0 => {
            let dim = axis(dim, r);
            let d = resolve_axis(dim, r);
            let idx = py_slice(nd.shape[d], start, stop, step);
            let show = |v: Option<isize>| v.map_or(String::new(), |v| v.to_string());
            (
                slice_tensor(t, dim, start, stop, step),
                nd.take(d, &idx),
                format!("slice({dim}, {}..{}, {step})", show(start), show(stop)),
            )
        }
        Move::Unsqueeze(raw) => {
            let a = axis(raw, r + 1);
            let mut shape = nd.shape.clone();
            shape.insert(resolve_axis(a, r + 1), 1);
            let spec: Vec<isize> = shape.iter().map(|&d| d as isize).collect();
            (t.unsqueeze(a), nd.reshape(&spec), format!("unsqueeze({a})"))
        }
        Move::Flatten(a, b) if r > 0 => {
            let (a, b) = (axis(a, r), axis(b, r));
            let (s, e) = (
                resolve_axis(a, r).min(resolve_axis(b, r)),
                resolve_axis(a, r).max(resolve_axis(b, r)),
            );
            let (a, b) = if resolve_axis(a, r) <= resolve_axis(b, r) {
                (a, b)
            } else {
                (b, a)
            };
            let mut shape: Vec<isize> = nd.shape[..s].iter().map(|&d| d as isize).collect();
            shape.push(numel(&nd.shape[s..=e]) as isize);
            shape.extend(nd.shape[e + 1..].iter().map(|&d| d as isize));
            (t.flatten(a, b), nd.reshape(&shape), format!("flatten({a}, {b})"))
        }
        // Moves that need a dim on a 0-d tensor (or t() on rank > 2) are skipped.
        _ => (t.clone(), nd.clone(), "skip".to_string()),
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Chains of reshape/permute/transpose/flip/slice/unsqueeze/flatten give the values of a
    /// naive index computation, whether the input is realized (views), lazy, realized
    /// between moves, or has elementwise ops between moves.
    #[test]
    fn movement_chains_match_naive_indexing(
        shape in shape_strategy(4, 5),
        moves in prop::collection::vec(move_strategy(), 1..=6),
        mode in 0u8..4,
        dtype in prop::sample::select(&FLOATS[..]),
    ) {
        // Distinct values make any misplaced element visible.
        let base = Nd::new(shape.clone(), (0..numel(&shape)).map(|i| i as f64).collect());
        let mut t = base.tensor(dtype);
        if mode != 0 {
            t = &t + 0.0;
        }
        let mut nd = base.clone();
        let mut trail = vec![format!("{shape:?} {dtype} mode {mode}")];
        for mv in &moves {
            let (t2, nd2, what) = apply_move(&t, &nd, mv);
            trail.push(what);
            t = t2;
            nd = nd2;
            match mode {
                2 => t = &t * 1.0,
                3 => t = t.realize(),
                _ => {}
            }
            prop_assert_eq!(t.shape(), &nd.shape[..], "after {}", trail.join(" -> "));
        }
        let ctx = trail.join(" -> ");
        check(&t, &nd, 0.0, &ctx)?;
        // A kernel reading the (possibly strided) result, and a contiguous copy of it.
        check(&(&t + 1.0), &Nd::new(nd.shape.clone(), nd.data.iter().map(|v| v + 1.0).collect()), 0.0, &format!("{ctx} -> + 1"))?;
        check(&t.contiguous(), &nd, 0.0, &format!("{ctx} -> contiguous"))?;
        // Reshaping the result to 1-D must give row-major order.
        check(&t.reshape([-1]), &nd.reshape(&[-1]), 0.0, &format!("{ctx} -> reshape([-1])"))?;
    }

    /// Slicing one dim with every combination of bounds and steps follows NumPy exactly.
    #[test]
    fn slice_follows_numpy(
        n in 0usize..=7,
        start in prop::option::of(-10isize..=10),
        stop in prop::option::of(-10isize..=10),
        step in prop_oneof![-4isize..=-1, 1isize..=4],
        realized in any::<bool>(),
    ) {
        let base = Nd::new(vec![2, n], (0..2 * n).map(|i| i as f64).collect());
        let mut t = base.tensor(DType::F64);
        if !realized {
            t = &t - 0.0;
        }
        let got = slice_tensor(&t, 1, start, stop, step);
        let want = base.take(1, &py_slice(n, start, stop, step));
        check(&got, &want, 0.0, &format!("[2, {n}][:, {start:?}:{stop:?}:{step}] (realized {realized})"))?;
    }
}

// ---------------------------------------------------------------------------
// 3. Reductions
// ---------------------------------------------------------------------------

const REDUCTIONS: [&str; 5] = ["sum", "max", "min", "mean", "prod"];

fn naive_reduce(x: &Nd, op: &str, axes: &[usize], keepdim: bool) -> Nd {
    let kept: Vec<usize> = x
        .shape
        .iter()
        .enumerate()
        .map(|(d, &n)| if axes.contains(&d) { 1 } else { n })
        .collect();
    let init = match op {
        "sum" | "mean" => 0.0,
        "prod" => 1.0,
        "max" => f64::NEG_INFINITY,
        _ => f64::INFINITY,
    };
    let mut out = Nd::new(kept.clone(), vec![init; numel(&kept)]);
    for_each_index(&x.shape, |i| {
        let o: Vec<usize> = i
            .iter()
            .enumerate()
            .map(|(d, &v)| if axes.contains(&d) { 0 } else { v })
            .collect();
        let off = out.offset(&o);
        let v = x.get(i);
        let acc = &mut out.data[off];
        *acc = match op {
            "sum" | "mean" => *acc + v,
            "prod" => *acc * v,
            "max" => acc.max(v),
            _ => acc.min(v),
        };
    });
    if op == "mean" {
        let count = axes.iter().map(|&a| x.shape[a]).product::<usize>() as f64;
        out.data.iter_mut().for_each(|v| *v /= count);
    }
    if !keepdim {
        out.shape = x
            .shape
            .iter()
            .enumerate()
            .filter(|(d, _)| !axes.contains(d))
            .map(|(_, &n)| n)
            .collect();
    }
    out
}

fn engine_reduce(t: &Tensor, op: &str, axes: Vec<isize>, keepdim: bool) -> Result<Tensor> {
    match op {
        "sum" => t.try_sum(axes, keepdim),
        "max" => t.try_max(axes, keepdim),
        "min" => t.try_min(axes, keepdim),
        "mean" => t.try_mean(axes, keepdim),
        _ => t.try_prod(axes, keepdim),
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// sum/max/min/mean/prod over random axis subsets (negative axes mixed in, any order),
    /// keepdim or not, on contiguous, permuted, flipped and lazy inputs.
    #[test]
    fn reductions_match_naive(
        shape in shape_strategy(4, 4),
        op in prop::sample::select(&REDUCTIONS[..]),
        mask in any::<u8>(),
        reverse in any::<bool>(),
        keepdim in any::<bool>(),
        layout in 0u8..4,
        dtype in prop::sample::select(&FLOATS[..]),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let r = shape.len();
        // prod uses signed powers of two so that products are exact (and fit in f64).
        let data: Vec<f64> = if op == "prod" {
            rng.ints(numel(&shape), 0, 5).iter().map(|&v| [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0][v as usize]).collect()
        } else {
            rng.ints(numel(&shape), -9, 9)
        };
        let dtype = if op == "prod" { DType::F64 } else { dtype };
        let base = Nd::new(shape.clone(), data);
        // The input the reduction sees: contiguous, a permuted view, a flipped view, or lazy and permuted.
        let perm = rng.perm(r);
        let (x, t) = match layout {
            0 => (base.clone(), base.tensor(dtype)),
            1 => (base.permute(&perm), base.tensor(dtype).permute(perm.clone())),
            2 if r > 0 => (base.flip(0), base.tensor(dtype).flip(0)),
            _ => (base.permute(&perm), (&base.tensor(dtype) * 1.0).permute(perm.clone())),
        };
        let mut axes: Vec<isize> = (0..r.max(1))
            .filter(|&d| mask & (1 << d) != 0 && (d < r || r == 0))
            .map(|d| if r > 0 && mask & (1 << (d + 4)) != 0 { d as isize - r as isize } else { d as isize })
            .collect();
        if reverse {
            axes.reverse();
        }
        let resolved: Vec<usize> = if r == 0 { vec![] } else { axes.iter().map(|&a| resolve_axis(a, r)).collect() };
        let ctx = format!("{op}(axes {axes:?}, keepdim {keepdim}) of {:?} {dtype} (layout {layout}, perm {perm:?})", x.shape);
        let result = engine_reduce(&t, op, axes.clone(), keepdim);
        if (op == "max" || op == "min") && resolved.iter().any(|&a| x.shape[a] == 0) {
            let m = match result {
                Ok(t) => return Err(TestCaseError::fail(format!("{ctx}: expected an error for an empty dim, got shape {:?}", t.shape()))),
                Err(e) => e.to_string(),
            };
            prop_assert!(m.contains(op), "{}: error should name the op: {}", ctx, m);
            return Ok(());
        }
        let t = result.map_err(|e| TestCaseError::fail(format!("{ctx}: {e}")))?;
        let tol = if dtype == DType::F32 { 1e-6 } else { 1e-12 };
        check(&t, &naive_reduce(&x, op, &resolved, keepdim), tol, &ctx)?;
    }
}

// ---------------------------------------------------------------------------
// 4. Matmul
// ---------------------------------------------------------------------------

/// `np.matmul`: 1-D operands promoted (and the added dim dropped), batch dims broadcast.
fn naive_matmul(a: &Nd, b: &Nd) -> Nd {
    let a2 = if a.rank() == 1 {
        a.reshape(&[1, a.shape[0] as isize])
    } else {
        a.clone()
    };
    let b2 = if b.rank() == 1 {
        b.reshape(&[b.shape[0] as isize, 1])
    } else {
        b.clone()
    };
    let (ra, rb) = (a2.rank(), b2.rank());
    let (m, k, n) = (a2.shape[ra - 2], a2.shape[ra - 1], b2.shape[rb - 1]);
    let batch = np_broadcast(&a2.shape[..ra - 2], &b2.shape[..rb - 2]).expect("reference: batch dims must broadcast");
    let nb = batch.len();
    let pick = |x: &Nd, bi: &[usize], i: usize, j: usize| {
        let xb = x.rank() - 2;
        let mut idx: Vec<usize> = (0..xb)
            .map(|d| if x.shape[d] == 1 { 0 } else { bi[nb - xb + d] })
            .collect();
        idx.extend([i, j]);
        x.get(&idx)
    };
    let mut shape = batch.clone();
    shape.extend([m, n]);
    let mut out = Nd::from_fn(shape, |i| {
        (0..k)
            .map(|kk| pick(&a2, &i[..nb], i[nb], kk) * pick(&b2, &i[..nb], kk, i[nb + 1]))
            .sum()
    });
    if b.rank() == 1 {
        out.shape.remove(out.rank() - 1);
    }
    if a.rank() == 1 {
        let at = out.rank() - if b.rank() == 1 { 1 } else { 2 };
        out.shape.remove(at);
    }
    out
}

/// A matmul operand of `shape` holding `x`; when `trans`, built as the transpose of a realized
/// tensor with the last two dims swapped (a strided view), via `t()` on matrices.
fn operand(x: &Nd, trans: bool, lazy: bool, dtype: DType) -> Tensor {
    let r = x.rank();
    let t = if trans && r >= 2 {
        let mut perm: Vec<usize> = (0..r).collect();
        perm.swap(r - 2, r - 1);
        let stored = x.permute(&perm).tensor(dtype);
        if r == 2 {
            stored.t()
        } else {
            stored.transpose(-1, -2)
        }
    } else {
        x.tensor(dtype)
    };
    if lazy {
        &t + 0.0
    } else {
        t
    }
}

#[derive(Clone, Debug)]
struct MatmulCase {
    a_shape: Vec<usize>,
    b_shape: Vec<usize>,
}

fn matmul_case() -> impl Strategy<Value = MatmulCase> {
    (
        prop::collection::vec(1usize..=3, 0..=3),
        (0usize..=3, prop::collection::vec(any::<bool>(), 3)),
        (0usize..=3, prop::collection::vec(any::<bool>(), 3)),
        (0usize..=4, 0usize..=4, 0usize..=4),
        (any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(batch, (drop_a, ones_a), (drop_b, ones_b), (m, k, n), (vec_a, vec_b))| {
                let side = |drop: usize, ones: &[bool]| -> Vec<usize> {
                    let drop = drop.min(batch.len());
                    batch[drop..]
                        .iter()
                        .enumerate()
                        .map(|(i, &d)| if ones[i] { 1 } else { d })
                        .collect()
                };
                let mut a_shape = side(drop_a, &ones_a);
                let mut b_shape = side(drop_b, &ones_b);
                if vec_a {
                    a_shape = vec![k];
                } else {
                    a_shape.extend([m, k]);
                }
                if vec_b {
                    b_shape = vec![k];
                } else {
                    b_shape.extend([k, n]);
                }
                MatmulCase { a_shape, b_shape }
            },
        )
}

proptest! {
    #![proptest_config(config(256))]

    /// Batched, broadcast, 1-D and transposed matmul operands against the naive product.
    #[test]
    fn matmul_matches_naive(
        case in matmul_case(),
        trans in (any::<bool>(), any::<bool>()),
        lazy in any::<bool>(),
        dtype in prop::sample::select(&FLOATS[..]),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let a = Nd::new(case.a_shape.clone(), rng.ints(numel(&case.a_shape), -9, 9));
        let b = Nd::new(case.b_shape.clone(), rng.ints(numel(&case.b_shape), -9, 9));
        let ta = operand(&a, trans.0, lazy, dtype);
        let tb = operand(&b, trans.1, lazy, dtype);
        let ctx = format!(
            "matmul {:?} x {:?} {dtype} (transposed views {trans:?}, lazy {lazy})",
            case.a_shape, case.b_shape
        );
        let got = ta.try_matmul(&tb).map_err(|e| TestCaseError::fail(format!("{ctx}: {e}")))?;
        check(&got, &naive_matmul(&a, &b), 0.0, &ctx)?;
    }

    /// Inner dims that differ are an error naming matmul and both shapes.
    #[test]
    fn matmul_inner_dim_mismatch_is_an_error(
        case in matmul_case(),
        bump in 1usize..=3,
    ) {
        // Grow b's inner dim (its only dim when 1-D, else its second to last).
        let mut sb = case.b_shape.clone();
        let at = sb.len().saturating_sub(2);
        sb[at] += bump;
        let a = Tensor::zeros(case.a_shape.clone(), DType::F32);
        let b = Tensor::zeros(sb.clone(), DType::F32);
        match a.try_matmul(&b) {
            Ok(t) => prop_assert!(false, "matmul {:?} x {:?} should fail, got {:?}", case.a_shape, sb, t.shape()),
            Err(e) => {
                let m = e.to_string();
                prop_assert!(
                    m.contains("matmul") && m.contains(&format!("{:?}", case.a_shape)) && m.contains(&format!("{sb:?}")),
                    "matmul {:?} x {:?}: error should name matmul and both shapes: {}", case.a_shape, sb, m
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 5. Fusion
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Ew {
    AddS(f64),
    MulS(f64),
    SubS(f64),
    ExpClamped,
    Tanh,
    Relu,
    Abs,
    Neg,
    MaxOther,
}

fn ew_strategy() -> impl Strategy<Value = Ew> {
    let small = (-8i32..=8).prop_map(|v| v as f64 * 0.25);
    prop_oneof![
        small.clone().prop_map(Ew::AddS),
        small.clone().prop_map(Ew::MulS),
        small.prop_map(Ew::SubS),
        Just(Ew::ExpClamped),
        Just(Ew::Tanh),
        Just(Ew::Relu),
        Just(Ew::Abs),
        Just(Ew::Neg),
        Just(Ew::MaxOther),
    ]
}

fn ew_engine(t: &Tensor, op: Ew, other: &Tensor) -> Tensor {
    match op {
        Ew::AddS(c) => t + c,
        Ew::MulS(c) => t * c,
        Ew::SubS(c) => t - c,
        Ew::ExpClamped => t.clamp(-3.0, 3.0).exp(),
        Ew::Tanh => t.tanh(),
        Ew::Relu => t.relu(),
        Ew::Abs => t.abs(),
        Ew::Neg => -t,
        Ew::MaxOther => t.maximum(other),
    }
}

fn ew_naive(v: f64, op: Ew, other: f64) -> f64 {
    match op {
        Ew::AddS(c) => v + c,
        Ew::MulS(c) => v * c,
        Ew::SubS(c) => v - c,
        Ew::ExpClamped => v.clamp(-3.0, 3.0).exp(),
        Ew::Tanh => v.tanh(),
        Ew::Relu => v.max(0.0),
        Ew::Abs => v.abs(),
        Ew::Neg => -v,
        Ew::MaxOther => v.max(other),
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// A chain of 2..=10 elementwise ops realized in one go equals the chain realized op by
    /// op (and the naive values), and is one kernel.
    #[test]
    fn fused_chains_equal_step_by_step(
        shape in prop::collection::vec(1usize..=5, 0..=3),
        ops in prop::collection::vec(ew_strategy(), 2..=10),
        dtype in prop::sample::select(&FLOATS[..]),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let n = numel(&shape);
        let xs: Vec<f64> = rng.ints(n, -12, 12).iter().map(|v| v * 0.25).collect();
        let ys: Vec<f64> = rng.ints(n, -12, 12).iter().map(|v| v * 0.25).collect();
        let x = Nd::new(shape.clone(), xs.clone()).tensor(dtype);
        let y = Nd::new(shape.clone(), ys.clone()).tensor(dtype);

        let mut fused = x.clone();
        let mut stepwise = x.clone();
        for &op in &ops {
            fused = ew_engine(&fused, op, &y);
            stepwise = ew_engine(&stepwise, op, &y).realize();
        }
        let ctx = format!("{shape:?} {dtype}: {ops:?}");
        let kernels = fused.schedule().kernel_count();
        prop_assert_eq!(kernels, 1, "{}: the fused chain should be one kernel:\n{}", ctx, fused.schedule());
        prop_assert_eq!(fused.dtype(), dtype, "{}", ctx);

        let want_step = stepwise.to_vec_f64();
        let tol = if dtype == DType::F32 { 1e-5 } else { 1e-12 };
        check(&fused, &Nd::new(shape.clone(), want_step), tol, &format!("{ctx}: fused vs step by step"))?;

        // And both agree with plain Rust (rounded to f32 after each op for f32 tensors).
        let round = |v: f64| if dtype == DType::F32 { v as f32 as f64 } else { v };
        let want: Vec<f64> = xs
            .iter()
            .zip(&ys)
            .map(|(&v, &o)| ops.iter().fold(v, |acc, &op| round(ew_naive(acc, op, o))))
            .collect();
        check(&fused, &Nd::new(shape, want), tol * 10.0, &format!("{ctx}: fused vs naive"))?;
    }
}

// ---------------------------------------------------------------------------
// 6. cat / stack / split / chunk
// ---------------------------------------------------------------------------

/// `cat(split(x, size, dim), dim)` and `cat(chunk(x, n, dim), dim)` give `x` back, with pieces
/// of the documented sizes; `x` is reversed-dims view of a realized tensor when `permuted`.
fn split_chunk_case(
    shape: Vec<usize>,
    raw_dim: usize,
    size: usize,
    chunks: usize,
    lazy: bool,
    permuted: bool,
) -> std::result::Result<(), TestCaseError> {
    let r = shape.len();
    let dim = axis(raw_dim, r);
    let d = resolve_axis(dim, r);
    let base = Nd::new(shape.clone(), (0..numel(&shape)).map(|i| i as f64).collect());
    let (x, mut t) = if permuted {
        let perm: Vec<usize> = (0..r).rev().collect();
        (base.permute(&perm), base.tensor(DType::F32).permute(perm))
    } else {
        (base.clone(), base.tensor(DType::F32))
    };
    if lazy {
        t = &t + 0.0;
    }
    let len = x.shape[d];

    let parts = t.split(size, dim);
    let ctx = format!(
        "split({size}, {dim}) of {:?} (lazy {lazy}, permuted {permuted})",
        x.shape
    );
    prop_assert_eq!(parts.len(), len.div_ceil(size).max(1), "{}", ctx);
    for (i, p) in parts.iter().enumerate() {
        let want_len = size.min(len.saturating_sub(i * size));
        prop_assert_eq!(p.shape()[d], want_len, "{}: piece {}", ctx, i);
        let idx: Vec<usize> = (i * size..i * size + want_len).collect();
        check(p, &x.take(d, &idx), 0.0, &format!("{ctx}: piece {i}"))?;
    }
    let refs: Vec<&Tensor> = parts.iter().collect();
    check(&Tensor::cat(&refs, dim), &x, 0.0, &format!("cat of {ctx}"))?;

    let parts = t.chunk(chunks, dim);
    let ctx = format!(
        "chunk({chunks}, {dim}) of {:?} (lazy {lazy}, permuted {permuted})",
        x.shape
    );
    prop_assert!(parts.len() <= chunks, "{}: {} pieces", ctx, parts.len());
    prop_assert_eq!(parts.iter().map(|p| p.shape()[d]).sum::<usize>(), len, "{}", ctx);
    let refs: Vec<&Tensor> = parts.iter().collect();
    check(&Tensor::cat(&refs, dim), &x, 0.0, &format!("cat of {ctx}"))
}

proptest! {
    #![proptest_config(config(256))]

    /// Split/chunk round trips on non-empty tensors, and on tensors empty along the split dim.
    #[test]
    fn split_and_chunk_round_trip_through_cat(
        shape in prop::collection::vec(1usize..=5, 1..=4),
        raw_dim in 0usize..8,
        empty_split_dim in prop::bool::weighted(0.1),
        size in 1usize..=6,
        chunks in 1usize..=6,
        lazy in any::<bool>(),
        permuted in any::<bool>(),
    ) {
        let mut shape = shape;
        if empty_split_dim {
            // The split dim of the (possibly permuted) input is empty.
            let r = shape.len();
            let d = resolve_axis(axis(raw_dim, r), r);
            shape[if permuted { r - 1 - d } else { d }] = 0;
        }
        split_chunk_case(shape, raw_dim, size, chunks, lazy, permuted)?;
    }

    /// The same on any shape, including tensors empty along another dim than the split one.
    #[test]
    fn split_and_chunk_round_trip_through_cat_on_empty_tensors(
        shape in prop::collection::vec(0usize..=5, 1..=4),
        raw_dim in 0usize..8,
        size in 1usize..=6,
        chunks in 1usize..=6,
        lazy in any::<bool>(),
        permuted in any::<bool>(),
    ) {
        split_chunk_case(shape, raw_dim, size, chunks, lazy, permuted)?;
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// `stack` of k tensors of one shape along a new dim (negative dims too) matches naive.
    #[test]
    fn stack_matches_naive(
        shape in shape_strategy(3, 4),
        k in 1usize..=4,
        raw_dim in 0usize..10,
        lazy in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let r = shape.len();
        let dim = axis(raw_dim, r + 1);
        let d = resolve_axis(dim, r + 1);
        let inputs: Vec<Nd> = (0..k).map(|_| Nd::new(shape.clone(), rng.ints(numel(&shape), -9, 9))).collect();
        let tensors: Vec<Tensor> = inputs
            .iter()
            .map(|x| {
                let t = x.tensor(DType::F64);
                if lazy { &t * 1.0 } else { t }
            })
            .collect();
        let refs: Vec<&Tensor> = tensors.iter().collect();
        let got = Tensor::stack(&refs, dim);
        let mut out_shape = shape.clone();
        out_shape.insert(d, k);
        let want = Nd::from_fn(out_shape, |i| {
            let mut src = i.to_vec();
            let which = src.remove(d);
            inputs[which].get(&src)
        });
        check(&got, &want, 0.0, &format!("stack of {k} x {shape:?} at dim {dim} (lazy {lazy})"))?;
        // cat along an existing dim of the stacked pieces (unsqueezed) agrees with stack.
        let unsq: Vec<Tensor> = tensors.iter().map(|t| t.unsqueeze(dim)).collect();
        let refs: Vec<&Tensor> = unsq.iter().collect();
        check(&Tensor::cat(&refs, dim), &want, 0.0, &format!("cat of unsqueezed {k} x {shape:?} at dim {dim}"))?;
    }
}

// ---------------------------------------------------------------------------
// 7. Elementwise arithmetic in each dtype
// ---------------------------------------------------------------------------

const NUMERIC: [DType; 4] = [DType::I32, DType::I64, DType::F32, DType::F64];

/// Checks `a + b`, `a - b` and `a * b` in the native type `$t` (exact: values are small).
macro_rules! check_native {
    ($t:ty, $a:expr, $b:expr, $ta:expr, $tb:expr, $ctx:expr) => {{
        let (a, b, ta, tb, ctx): (&Nd, &Nd, &Tensor, &Tensor, &str) = ($a, $b, $ta, $tb, $ctx);
        let cast = |x: &Nd| -> Vec<$t> { x.data.iter().map(|&v| v as $t).collect() };
        let (av, bv) = (cast(a), cast(b));
        let ops: [(&str, fn($t, $t) -> $t, Tensor); 3] = [
            ("add", |x, y| x + y, ta + tb),
            ("sub", |x, y| x - y, ta - tb),
            ("mul", |x, y| x * y, ta * tb),
        ];
        for (name, f, got) in ops {
            prop_assert_eq!(got.dtype(), <$t as Element>::DTYPE, "{}: {}", ctx, name);
            let shape = np_broadcast(&a.shape, &b.shape).unwrap();
            let mut want: Vec<$t> = Vec::new();
            // Reference arrays of flat positions: broadcasting them says which element to read.
            let an = Nd::new(a.shape.clone(), (0..av.len()).map(|i| i as f64).collect());
            let bn = Nd::new(b.shape.clone(), (0..bv.len()).map(|i| i as f64).collect());
            for_each_index(&shape, |i| {
                let (ia, ib) = (an.get_broadcast(i) as usize, bn.get_broadcast(i) as usize);
                want.push(f(av[ia], bv[ib]));
            });
            prop_assert_eq!(got.shape(), &shape[..], "{}: {}", ctx, name);
            prop_assert_eq!(got.to_vec::<$t>(), want, "{}: {}", ctx, name);
        }
    }};
}

/// PyTorch's result type: a 0-d operand does not widen a dimensioned one of its category.
fn naive_result_type(da: DType, ra: usize, db: DType, rb: usize) -> DType {
    let cat = |d: DType| if d.is_float() { 1 } else { 0 };
    let wider = if NUMERIC.iter().position(|&d| d == da) >= NUMERIC.iter().position(|&d| d == db) {
        da
    } else {
        db
    };
    match (ra == 0, rb == 0) {
        (true, false) if cat(da) <= cat(db) => db,
        (false, true) if cat(db) <= cat(da) => da,
        _ => wider,
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// `a + b`, `a - b`, `a * b` with broadcasting match the naive result computed in the
    /// tensors' own Rust type, for i32, i64, f32 and f64.
    #[test]
    fn arithmetic_is_exact_in_each_dtype(
        (sa, sb) in pair_strategy(),
        dtype in prop::sample::select(&NUMERIC[..]),
        lazy in any::<bool>(),
        seed in any::<u64>(),
    ) {
        prop_assume!(np_broadcast(&sa, &sb).is_some());
        let mut rng = Rng(seed);
        let a = Nd::new(sa.clone(), rng.ints(numel(&sa), -100, 100));
        let b = Nd::new(sb.clone(), rng.ints(numel(&sb), -100, 100));
        let (mut ta, mut tb) = (a.tensor(dtype), b.tensor(dtype));
        if lazy {
            ta = ta.flip(Vec::<isize>::new()).neg().neg();
            tb = &tb * 1i64;
        }
        let ctx = format!("{sa:?} op {sb:?} in {dtype} (lazy {lazy})");
        match dtype {
            DType::I32 => check_native!(i32, &a, &b, &ta, &tb, &ctx),
            DType::I64 => check_native!(i64, &a, &b, &ta, &tb, &ctx),
            DType::F32 => check_native!(f32, &a, &b, &ta, &tb, &ctx),
            _ => check_native!(f64, &a, &b, &ta, &tb, &ctx),
        }
    }

    /// Mixed dtypes promote as in PyTorch (0-d operands count less) and compute exactly.
    #[test]
    fn mixed_dtypes_promote(
        (sa, sb) in pair_strategy(),
        da in prop::sample::select(&NUMERIC[..]),
        db in prop::sample::select(&NUMERIC[..]),
        seed in any::<u64>(),
    ) {
        prop_assume!(np_broadcast(&sa, &sb).is_some());
        // On a GPU, f64 operands stay on the CPU: a mixed pair would be on two devices.
        prop_assume!(!on_gpu() || (da != DType::F64 && db != DType::F64));
        let mut rng = Rng(seed);
        let a = Nd::new(sa.clone(), rng.ints(numel(&sa), -100, 100));
        let b = Nd::new(sb.clone(), rng.ints(numel(&sb), -100, 100));
        let (ta, tb) = (a.tensor(da), b.tensor(db));
        let want_dtype = naive_result_type(da, sa.len(), db, sb.len());
        let ctx = format!("{sa:?} {da} op {sb:?} {db}");
        for (name, got, f) in [
            ("add", &ta + &tb, (|x, y| x + y) as fn(f64, f64) -> f64),
            ("mul", &ta * &tb, |x, y| x * y),
        ] {
            prop_assert_eq!(got.dtype(), want_dtype, "{}: {}", ctx, name);
            check(&got, &naive_binary(&a, &b, f), 0.0, &format!("{ctx}: {name}"))?;
        }
    }
}

// ---------------------------------------------------------------------------
// 8. gather / scatter_add
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct IndexCase {
    x_shape: Vec<usize>,
    index_shape: Vec<usize>,
    dim: isize,
}

/// An input shape, a dim and an index shape: equal to the input off `dim` when `same_off_dim`,
/// otherwise no larger than it (PyTorch's rule, which the engine's shape check accepts).
fn index_case(same_off_dim: bool) -> impl Strategy<Value = IndexCase> {
    // Smaller indices only go wrong on inputs with at least two non-empty dims besides `dim`.
    let x_shape = if same_off_dim {
        prop::collection::vec(0usize..=4, 1..=3).boxed()
    } else {
        prop::collection::vec(1usize..=4, 2..=3).boxed()
    };
    (x_shape, 0usize..6, prop::collection::vec((0usize..=4, 0usize..=4), 3)).prop_map(
        move |(x_shape, raw_dim, sizes)| {
            let r = x_shape.len();
            let dim = axis(raw_dim, r);
            let d = resolve_axis(dim, r);
            let index_shape = (0..r)
                .map(|i| match i == d {
                    true if x_shape[d] == 0 => 0,
                    true => sizes[i].0,
                    false if same_off_dim => x_shape[i],
                    false => sizes[i].1.min(x_shape[i]),
                })
                .collect();
            IndexCase {
                x_shape,
                index_shape,
                dim,
            }
        },
    )
}

fn gather_case(case: IndexCase, lazy: bool, i32_index: bool, seed: u64) -> std::result::Result<(), TestCaseError> {
    let mut rng = Rng(seed);
    let IndexCase {
        x_shape,
        index_shape,
        dim,
    } = case;
    let d = resolve_axis(dim, x_shape.len());
    let x = Nd::new(x_shape.clone(), rng.ints(numel(&x_shape), -50, 50));
    let hi = x_shape[d].max(1) as i64 - 1;
    let idx = Nd::new(index_shape.clone(), rng.ints(numel(&index_shape), 0, hi));
    let mut tx = x.tensor(exact_float());
    if lazy {
        tx = &tx + 0.0;
    }
    let ti = idx.tensor(if i32_index { DType::I32 } else { DType::I64 });
    let want = Nd::from_fn(index_shape.clone(), |i| {
        let mut src = i.to_vec();
        src[d] = idx.get(i) as usize;
        x.get(&src)
    });
    let ctx = format!(
        "gather(dim {dim}) of {x_shape:?} with index {index_shape:?} = {:?} (lazy {lazy})",
        idx.data
    );
    let got = tx
        .try_gather(dim, &ti)
        .map_err(|e| TestCaseError::fail(format!("{ctx}: {e}")))?;
    check(&got, &want, 0.0, &ctx)
}

fn scatter_add_case(case: IndexCase, extra: &[usize], lazy: bool, seed: u64) -> std::result::Result<(), TestCaseError> {
    let mut rng = Rng(seed);
    let IndexCase {
        x_shape,
        index_shape,
        dim,
    } = case;
    let d = resolve_axis(dim, x_shape.len());
    let src_shape: Vec<usize> = index_shape.iter().zip(extra).map(|(&n, &e)| n + e).collect();
    let x = Nd::new(x_shape.clone(), rng.ints(numel(&x_shape), -50, 50));
    let src = Nd::new(src_shape.clone(), rng.ints(numel(&src_shape), -50, 50));
    let hi = x_shape[d].max(1) as i64 - 1;
    let idx = Nd::new(index_shape.clone(), rng.ints(numel(&index_shape), 0, hi));
    let (mut tx, mut ts) = (x.tensor(exact_float()), src.tensor(exact_float()));
    if lazy {
        tx = &tx + 0.0;
        ts = &ts * 1.0;
    }
    let ti = idx.tensor(DType::I64);
    let mut want = x.clone();
    for_each_index(&index_shape, |i| {
        let mut dst = i.to_vec();
        dst[d] = idx.get(i) as usize;
        let off = want.offset(&dst);
        want.data[off] += src.get(i);
    });
    let ctx = format!(
        "scatter_add(dim {dim}) into {x_shape:?}, index {index_shape:?} = {:?}, src {src_shape:?} (lazy {lazy})",
        idx.data
    );
    let got = tx
        .try_scatter_add(dim, &ti, &ts)
        .map_err(|e| TestCaseError::fail(format!("{ctx}: {e}")))?;
    check(&got, &want, 0.0, &ctx)
}

proptest! {
    #![proptest_config(config(256))]

    /// `gather(dim, index)`: `out[i] = x[i with i[dim] = index[i]]`, for an index shaped like
    /// the input off `dim` (as from argsort / topk).
    #[test]
    fn gather_matches_naive(case in index_case(true), lazy in any::<bool>(), i32_index in any::<bool>(), seed in any::<u64>()) {
        gather_case(case, lazy, i32_index, seed)?;
    }

    /// The same with an index smaller than the input on other dims (allowed by PyTorch and
    /// by the engine's shape check).
    #[test]
    fn gather_with_a_smaller_index_matches_naive(
        case in index_case(false),
        lazy in any::<bool>(),
        i32_index in any::<bool>(),
        seed in any::<u64>(),
    ) {
        gather_case(case, lazy, i32_index, seed)?;
    }

    /// `scatter_add(dim, index, src)`: a copy of `x` with `src[i]` added at `i[dim] = index[i]`;
    /// repeated indices accumulate, and only the index-shaped corner of `src` is read.
    #[test]
    fn scatter_add_matches_naive(
        case in index_case(true),
        extra in prop::collection::vec(0usize..=1, 3),
        lazy in any::<bool>(),
        seed in any::<u64>(),
    ) {
        scatter_add_case(case, &extra, lazy, seed)?;
    }

    /// The same with an index smaller than the input off `dim`.
    #[test]
    fn scatter_add_with_a_smaller_index_matches_naive(
        case in index_case(false),
        extra in prop::collection::vec(0usize..=1, 3),
        lazy in any::<bool>(),
        seed in any::<u64>(),
    ) {
        scatter_add_case(case, &extra, lazy, seed)?;
    }
}

// ---------------------------------------------------------------------------
// Minimal reproductions of the engine bugs the properties found
// ---------------------------------------------------------------------------

/// `torch.gather(arange(8).reshape(2, 2, 2), 2, zeros(2, 1, 1))` is `[[[0]], [[4]]]`.
#[test]
fn gather_with_an_index_smaller_than_the_input() {
    let x = Tensor::arange(0.0, 8.0, 1.0, DType::F32).reshape([2, 2, 2]);
    let idx = Tensor::zeros([2, 1, 1], DType::I64);
    assert_eq!(x.gather(2, &idx).to_vec::<f32>(), vec![0.0, 4.0]);
}

/// `zeros(2, 2, 2).scatter_add(2, zeros(2, 1, 1), ones(2, 1, 1))` adds at `[0, 0, 0]` and `[1, 0, 0]`.
#[test]

fn scatter_add_with_an_index_smaller_than_the_input() {
    let x = Tensor::zeros([2, 2, 2], DType::F32);
    let idx = Tensor::zeros([2, 1, 1], DType::I64);
    let src = Tensor::ones([2, 1, 1], DType::F32);
    assert_eq!(
        x.scatter_add(2, &idx, &src).to_vec::<f32>(),
        vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    );
}

/// `Tensor::t` documents that tensors of rank < 2 come back as they are (as in PyTorch).
#[test]

fn t_of_a_0d_tensor_is_itself() {
    let x = Tensor::scalar(3.0f32);
    let t = x.try_t().expect("t() of a 0-d tensor");
    assert_eq!(t.shape(), &[] as &[usize]);
    assert_eq!(t.item::<f32>(), 3.0);
}

/// Splitting a `[2, 0]` tensor along dim 0 gives two `[1, 0]` views, the second at offset 1
/// of an empty buffer; concatenating them must give `[2, 0]` back.
#[test]
fn cat_of_empty_views_with_an_offset() {
    let x = Tensor::from_vec(Vec::<f32>::new(), [2, 0]);
    let p = x.split(1, 0);
    let c = Tensor::cat(&[&p[0], &p[1]], 0);
    assert_eq!(c.shape(), &[2, 0]);
    assert!(c.to_vec::<f32>().is_empty());
    // Pad goes through the same helper.
    let padded = x.narrow(0, 1, 1).pad(&[(0, 0), (1, 1)], 0.0);
    assert_eq!(padded.to_vec::<f32>(), vec![0.0, 0.0]);
}

// ---------------------------------------------------------------------------
// Padding fused into its readers (a masked load)
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(128))]

    /// Constant padding of a strided (permuted) input, read by an elementwise op and by a
    /// reduction, matches naive indexing: the interior reads the input, the border the fill.
    #[test]
    fn padding_fused_into_readers_matches_naive(
        shape in shape_strategy(3, 4),
        raw_pads in proptest::collection::vec((0usize..3, 0usize..3), 3),
        fill in -3i64..3,
        seed in any::<u64>(),
        lazy in any::<bool>(),
    ) {
        let mut rng = Rng(seed | 1);
        let r = shape.len();
        let base = Nd::new(shape.clone(), rng.ints(numel(&shape), -9, 9));
        let perm = rng.perm(r);
        let nd = base.permute(&perm);
        let mut t = base.tensor(DType::F32).permute(perm.iter().map(|&p| p as isize).collect::<Vec<_>>());
        if lazy {
            t = &t * 1.0;
        }
        let pads: Vec<(usize, usize)> = raw_pads[..r].to_vec();
        let padded_shape: Vec<usize> = nd.shape.iter().zip(&pads).map(|(&n, &(a, b))| n + a + b).collect();
        let want = Nd::from_fn(padded_shape.clone(), |idx| {
            let inside = idx.iter().zip(&pads).zip(&nd.shape).all(|((&i, &(a, _)), &n)| i >= a && i < a + n);
            if inside {
                let inner: Vec<usize> = idx.iter().zip(&pads).map(|(&i, &(a, _))| i - a).collect();
                nd.get(&inner) + 1.0
            } else {
                fill as f64 + 1.0
            }
        });
        let p = t.pad(&pads, fill as f64);
        check(&(&p + 1.0), &want, 0.0, "pad + 1")?;
        if r > 0 {
            let sum0 = (&p + 1.0).sum(0, false).to_vec_f64();
            let mut want0 = vec![0.0; numel(&padded_shape[1..])];
            let mut k = 0;
            for_each_index(&padded_shape, |_| {
                let n = want0.len().max(1);
                want0[k % n] += want.data[k];
                k += 1;
            });
            prop_assert!(compare(&sum0, &want0, 1e-6).is_none(), "sum over axis 0: {sum0:?} vs {want0:?}");
        }
    }
}

proptest! {
    /// Regression for the broadcast-last-dim fast path of `gather_range` (pooling
    /// gradients): any range of a view whose last dim has stride 0, aligned or not.
    #[test]
    fn gathering_a_view_with_a_broadcast_last_dim_matches_naive(
        a in 1usize..5, b in 1usize..7, k in 1usize..5, transposed in any::<bool>(),
        from in 0usize..1000, take in 0usize..1000,
    ) {
        use born::backend::cpu::gather_range;
        use born::ops::View;
        let data: Vec<f32> = (0..a * b).map(|i| i as f32).collect();
        let strides = if transposed { vec![1, a as isize, 0] } else { vec![b as isize, 1, 0] };
        let view = View { shape: vec![a, b, k], strides: strides.clone(), offset: 0 };
        let n = a * b * k;
        let start = from % (n + 1);
        let len = take % (n - start + 1);
        let mut got = Vec::new();
        gather_range(&data, &view, start, len, |x| x, &mut got);
        let want: Vec<f32> = (start..start + len)
            .map(|i| {
                let (i0, i1) = (i / (b * k), (i / k) % b);
                data[(i0 as isize * strides[0] + i1 as isize * strides[1]) as usize]
            })
            .collect();
        prop_assert_eq!(got, want);
    }
}
