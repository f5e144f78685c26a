//! Fuzz-style robustness of `nn::load` (safetensors files, which may come from anywhere):
//! a valid file truncated at every length and with seeded random byte changes (mostly in
//! its JSON header, where the structure is) must load or give an error that names
//! `nn::load` and the file, never panic, and leave the module's values as they were when
//! it fails.

use born::nn::{self, Module};
use born::runtime::Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};

fn model() -> nn::Sequential {
    nn::Sequential::new()
        .add(nn::Linear::new(3, 4))
        .add(nn::BatchNorm1d::new(4))
        .add(nn::Linear::new(4, 2))
}

/// Every parameter's and buffer's values, as bits (a flipped data byte may load a NaN).
fn values(m: &dyn Module) -> Vec<Vec<u64>> {
    let mut all = m.named_parameters();
    all.extend(m.named_buffers());
    all.iter()
        .map(|(_, t)| t.to_vec_f64().iter().map(|x| x.to_bits()).collect())
        .collect()
}

/// Loads `bytes` (written to `path`) into `m`: no panic; on an error, a message naming
/// the op and the file, and the module unchanged.
fn try_load(m: &dyn Module, path: &std::path::Path, bytes: &[u8], what: &str) {
    std::fs::write(path, bytes).unwrap();
    let before = values(m);
    let r = catch_unwind(AssertUnwindSafe(|| nn::load(m, path)));
    let r = r.unwrap_or_else(|_| panic!("nn::load panicked on {what}"));
    if let Err(e) = r {
        let e = e.to_string();
        assert!(e.contains("nn::load") && e.contains("model.safetensors"), "{what}: {e}");
        assert_eq!(values(m), before, "{what}: a failed load changed the module");
    }
}

#[test]
fn broken_safetensors_files_are_errors_not_panics() {
    let dir = std::env::temp_dir().join(format!("born-st-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    let saved = model();
    nn::save(&saved, &path).unwrap();
    let good = std::fs::read(&path).unwrap();
    let target = model();
    for len in 0..good.len() {
        try_load(&target, &path, &good[..len], &format!("the first {len} bytes"));
    }
    let header = 8 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let mut rng = Rng::seeded(7);
    for case in 0..2000 {
        let mut bytes = good.clone();
        for _ in 0..1 + rng.next_u32() % 3 {
            // Nine changes in ten in the header (length and JSON), the rest anywhere.
            let span = if rng.next_u32() % 10 < 9 { header } else { bytes.len() };
            let at = rng.next_u32() as usize % span;
            bytes[at] = match rng.next_u32() % 4 {
                0 => rng.next_u32() as u8,
                1 => bytes[at] ^ (1 << (rng.next_u32() % 8)),
                2 => b"0123456789[]{},:\"-eE."[rng.next_u32() as usize % 21],
                _ => 0xff,
            };
        }
        try_load(&target, &path, &bytes, &format!("case {case}"));
    }
    // The intact file still loads afterwards.
    std::fs::write(&path, &good).unwrap();
    nn::load(&target, &path).unwrap();
    assert_eq!(values(&target), values(&saved));
    let _ = std::fs::remove_dir_all(&dir);
}
