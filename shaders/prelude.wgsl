// Helpers for generated kernels: the CPU backend's semantics where WGSL's built-ins differ
// (NaN-propagating max/min, Python remainder, pow of negative bases, integer pow, tanh
// that stays finite for large arguments, erf, log1p accurate near 0).

fn born_isnan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// f32 to bf16 bits (in the high half of the word), rounding to nearest even; NaN stays NaN.
fn born_bf16(x: f32) -> u32 {
  let u = bitcast<u32>(x);
  if (born_isnan(x)) { return (u | 0x00400000u) & 0xffff0000u; }
  return (u + 0x7fffu + ((u >> 16u) & 1u)) & 0xffff0000u;
}

fn born_eqf(a: f32, b: f32) -> bool {
  return !born_isnan(a) && !born_isnan(b) && a == b;
}

fn born_ltf(a: f32, b: f32) -> bool {
  return !born_isnan(a) && !born_isnan(b) && a < b;
}

fn born_lef(a: f32, b: f32) -> bool {
  return !born_isnan(a) && !born_isnan(b) && a <= b;
}

fn born_maxf(a: f32, b: f32) -> f32 {
  if (born_isnan(a) || a > b) { return a; }
  return b;
}

fn born_minf(a: f32, b: f32) -> f32 {
  if (born_isnan(a) || a < b) { return a; }
  return b;
}

fn born_remf(a: f32, b: f32) -> f32 {
  let r = a - b * trunc(a / b);
  if (r != 0.0 && ((r < 0.0) != (b < 0.0))) { return r + b; }
  return r;
}

fn born_remi(a: i32, b: i32) -> i32 {
  if (b == 0i) { return 0i; }
  let r = a % b;
  if (r != 0i && ((r < 0i) != (b < 0i))) { return r + b; }
  return r;
}

fn born_powf(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (a == 1.0) { return 1.0; }
  if (born_isnan(a) || born_isnan(b)) { return a + b; }
  if (a < 0.0) {
    if (trunc(b) != b) { return bitcast<f32>(0x7fc00000u); }
    let m = pow(-a, b);
    // An odd integer exponent keeps the sign (|b| < 2^24 here, so the cast is exact).
    if (abs(b) < 16777216.0 && (i32(b) & 1i) == 1i) { return -m; }
    return m;
  }
  if (a == 0.0) {
    if (b > 0.0) { return 0.0; }
    return bitcast<f32>(0x7f800000u);
  }
  return pow(a, b);
}

fn born_powi(x: i32, y: i32) -> i32 {
  if (y < 0i) { return select(0i, 1i, x == 1i); }
  var base = x;
  var e = u32(y);
  var acc = 1i;
  loop {
    if (e == 0u) { break; }
    if ((e & 1u) == 1u) { acc = acc * base; }
    base = base * base;
    e = e >> 1u;
  }
  return acc;
}

fn born_tanh(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  let t = (1.0 - e) / (1.0 + e);
  return select(t, -t, x < 0.0);
}

// A Taylor series near 0 (relative accuracy where erf is small), else Abramowitz and
// Stegun 7.1.26: |error| < 1.5e-7.
fn born_erf(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.5) {
    let z = x * x;
    return 1.1283791671 * x * (1.0 + z * (-0.3333333333 + z * (0.1 + z * (-0.0238095238 + z * 0.0046296296))));
  }
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let y = 1.0 - p * exp(-a * a);
  return select(y, -y, x < 0.0);
}

fn born_log1p(x: f32) -> f32 {
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  return log(u) * (x / (u - 1.0));
}
